// The inference-form differential attention's loops (diff_attention_infer_body.h) at the portable
// level (the build's baseline flags).
#define DISPA_INFER_LEVEL portable
#define DISPA_INFER_KEY_CHUNK 2
#define DISPA_INFER_VALUE_CHUNK 2
#include "model/diff_attention_infer_body.h"

namespace dispa::infer {
void run_portable(const Args& args, bool queries_in_lanes) { portable::run_level(args, queries_in_lanes); }
}  // namespace dispa::infer
