// 10x Genomics matrix folders from memory (bio/tenx_mtx.h, parse_tenx_buffers): the input is
// matrix.mtx, features.tsv and barcodes.tsv separated by `--8<--` lines (fuzz/tenx_split.h), each
// plain or gzip (detected from its bytes). A folder that opens passes check_count_source (counts
// streamed whole in three batch sizes). Then the differential check: every plain part is gzipped
// here and the folder read again; compression must change nothing, neither the counts nor the
// error message (the compressed path reads through zlib in chunks, the plain one directly).

#include <array>
#include <optional>

#include "bio/tenx_mtx.h"
#include "engine/error.h"
#include "fuzz/count_checks.h"
#include "fuzz/fuzz_target.h"
#include "fuzz/tenx_split.h"
#include "tests/support/gzip.h"

namespace {

using dispa::bio::CountBatch;

bool is_gzip(std::string_view s) { return s.size() >= 2 && uint8_t(s[0]) == 0x1f && uint8_t(s[1]) == 0x8b; }

// Level 1: the fastest, the differential check only needs a valid member.
std::string gzip(std::string_view text) { return dispa::test::gzip_compress(text, 1); }

// What reading a folder gave: the error message, or barcodes, features and all counts.
struct Outcome {
  std::optional<std::string> error;
  std::vector<std::string> barcodes, features;
  CountBatch counts;
  bool operator==(const Outcome& o) const {
    return error == o.error && barcodes == o.barcodes && features == o.features &&
           dispa::fuzz::same_counts(counts, o.counts);
  }
};

Outcome read_folder(const std::array<std::string_view, 3>& p) {
  Outcome out;
  try {
    auto s = dispa::bio::parse_tenx_buffers(p[0], p[1], p[2], "f");
    dispa::fuzz::check_count_source(*s);
    out.barcodes = s->barcodes();
    for (const auto& f : s->features()) out.features.push_back(f.id + '\t' + f.symbol + '\t' + f.type);
    out.counts = dispa::fuzz::stream_all(*s, 2);
  } catch (const dispa::Error& e) {
    out.error = e.what();
  }
  return out;
}

}  // namespace

DISPA_FUZZ_TARGET(tenx_mtx) {
  using dispa::fuzz::require;
  const auto parts = dispa::fuzz::split_parts<3>(data);
  const Outcome plain = read_folder(parts);
  std::array<std::string, 3> zipped;
  std::array<std::string_view, 3> as_gzip = parts;
  bool any = false;
  for (size_t i = 0; i < 3; ++i)
    if (!is_gzip(parts[i])) {
      zipped[i] = gzip(parts[i]);
      as_gzip[i] = zipped[i];
      any = true;
    }
  if (any) require(read_folder(as_gzip) == plain, "gzip-compressed parts read exactly as the plain ones");
  if (plain.error) throw dispa::Error(*plain.error);  // counted as a rejection, like every target
}
