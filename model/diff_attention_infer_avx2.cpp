// The inference-form differential attention's loops (diff_attention_infer_body.h) at the avx2
// level (this file is compiled with the level's flags: CMakeLists.txt).
#define DISPA_INFER_LEVEL avx2
#define DISPA_INFER_KEY_CHUNK 4
#define DISPA_INFER_VALUE_CHUNK 4
#include "model/diff_attention_infer_body.h"

namespace dispa::infer {
void run_avx2(const Args& args, bool queries_in_lanes) { avx2::run_level(args, queries_in_lanes); }
}  // namespace dispa::infer
