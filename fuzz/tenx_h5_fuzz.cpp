// 10x Genomics .h5 from a file image in memory (bio/hdf5_counts.h, parse_tenx_h5; Cell Ranger 3+
// `matrix` group or a Cell Ranger 2 genome group). A file that opens passes check_count_source.
// libhdf5 parses the image; crashes inside it are classified in docs/RELIABILITY.md "Fuzzing"
// (fuzz/run.sh runs this target with -fork=1 -ignore_crashes=1, see there).
#include "bio/hdf5_counts.h"
#include "fuzz/count_checks.h"
#include "fuzz/fuzz_target.h"

DISPA_FUZZ_TARGET(tenx_h5) {
  auto s = dispa::bio::parse_tenx_h5(data, "m.h5");
  dispa::fuzz::check_count_source(*s);
}
