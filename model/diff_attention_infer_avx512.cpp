// The inference-form differential attention's loops (diff_attention_infer_body.h) at the avx512
// level (this file is compiled with the level's flags: CMakeLists.txt).
#define DISPA_INFER_LEVEL avx512
#define DISPA_INFER_KEY_CHUNK 8
#define DISPA_INFER_VALUE_CHUNK 16
#include "model/diff_attention_infer_body.h"

namespace dispa::infer {
void run_avx512(const Args& args, bool queries_in_lanes) { avx512::run_level(args, queries_in_lanes); }
}  // namespace dispa::infer
