// The global heap check (bio/hdf5_global_heap.h) on small AnnData files whose variable-length
// strings (obs/var indexes, string attributes) live in global heap collections: the corruptions
// that made libhdf5 1.10.8 hang or read past the heap (found by fuzz/h5ad_fuzz) are refused with
// a message, from memory and from a path; intact files still read.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "bio/count_matrix.h"
#include "bio/hdf5_counts.h"
#include "bio/hdf5_global_heap.h"
#include "engine/error.h"
#include "tests/bio/hdf5_writer.h"
#include "tests/support/error_of.h"
#include "tests/train/temp_dir.h"

namespace fs = std::filesystem;
using namespace dispa;
using dispa::test::error_of;

namespace {

std::string small_h5ad(const test::TempDir& dir) {
  const fs::path p = dir.path() / "small.h5ad";
  {
    test::Hdf5Writer w(p);
    for (const char* frame : {"obs", "var"}) {
      w.group(frame);
      w.string_attribute(frame, "encoding-type", "dataframe");
      w.string_attribute(frame, "_index", "_index");
    }
    w.strings("obs/_index", {"AAA", "CCC"}, true);
    w.strings("var/_index", {"TP53", "EGFR", "SOX2"}, true);
    w.numbers<float>("X", {1, 0, 2, 0, 3, 0}, {2, 3});
  }
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uint64_t get64(const std::string& s, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | uint8_t(s[at + size_t(i)]);
  return v;
}
void put64(std::string& s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) s[at + size_t(i)] = char((v >> (8 * i)) & 0xff);
}

// Offsets of the first collection, its first object and its free-space object (index 0).
struct Heap {
  size_t collection = 0, first_object = 0, free_space = 0;
};
Heap find_heap(const std::string& bytes) {
  Heap h;
  h.collection = bytes.find("GCOL");
  REQUIRE(h.collection != std::string::npos);
  const size_t end = h.collection + get64(bytes, h.collection + 8);
  h.first_object = h.collection + 16;
  for (size_t p = h.first_object; p + 16 <= end;) {
    const unsigned index = uint8_t(bytes[p]) | unsigned(uint8_t(bytes[p + 1])) << 8;
    if (index == 0) {
      h.free_space = p;
      break;
    }
    p += 16 + ((get64(bytes, p + 8) + 7) & ~uint64_t(7));
  }
  REQUIRE(h.free_space != 0);
  return h;
}

std::string h5ad_error(const std::string& bytes) {
  return error_of([&] { bio::parse_h5ad(bytes)->scan(8, [](const bio::CountBatch&) {}); });
}

}  // namespace

TEST_CASE("HDF5 global heaps: an intact file reads, from memory and from a path") {
  test::TempDir dir("heap_ok");
  const std::string bytes = small_h5ad(dir);
  CHECK(bio::parse_h5ad(bytes)->n_features() == 3);
  CHECK(bio::open_counts(dir.path() / "small.h5ad")->n_cells() == 2);
}

TEST_CASE("HDF5 global heaps: an empty free-space object is refused (libhdf5 1.10.8 looped forever)") {
  test::TempDir dir("heap_free_space");
  std::string bytes = small_h5ad(dir);
  put64(bytes, find_heap(bytes).free_space + 8, 0);
  CHECK(h5ad_error(bytes).find("corrupt HDF5 global heap at byte") != std::string::npos);
  CHECK(h5ad_error(bytes).find("free space of 0 bytes") != std::string::npos);
  // The same bytes as a file: the path reader checks the file on disk.
  const fs::path p = dir.path() / "bad.h5ad";
  std::ofstream(p, std::ios::binary) << bytes;
  CHECK(error_of([&] { bio::open_counts(p); }).find(p.string() + ": corrupt HDF5 global heap") != std::string::npos);
}

TEST_CASE("HDF5 global heaps: an object longer than its collection is refused (libhdf5 read past the heap)") {
  test::TempDir dir("heap_object");
  std::string bytes = small_h5ad(dir);
  put64(bytes, find_heap(bytes).first_object + 8, 0x4000);
  CHECK(h5ad_error(bytes).find("claims 16384 bytes but its collection has") != std::string::npos);
}

TEST_CASE("HDF5 global heaps: a collection larger than the file is refused") {
  test::TempDir dir("heap_size");
  std::string bytes = small_h5ad(dir);
  put64(bytes, find_heap(bytes).collection + 8, uint64_t(1) << 44);
  CHECK(h5ad_error(bytes).find("a collection of 17592186044416 bytes where the file has") != std::string::npos);
}

// Where the references of a contiguous string dataset start in the file (H5Dget_offset).
static size_t raw_offset(const fs::path& file, const char* dataset) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
  const haddr_t at = H5Dget_offset(d);
  H5Dclose(d);
  H5Fclose(f);
  REQUIRE(at != HADDR_UNDEF);
  return size_t(at);
}

TEST_CASE("HDF5 global heaps: a string reference naming a missing or a shorter object is refused") {
  // Each reference: length (4 bytes), collection address (8), object index (4).
  test::TempDir dir("heap_refs");
  const std::string good = small_h5ad(dir);
  const size_t refs = raw_offset(dir.path() / "small.h5ad", "var/_index");
  std::string bytes = good;
  bytes[refs + 16 + 12] = char(99);  // string 1 ('EGFR') names object 99
  CHECK(h5ad_error(bytes).find(".h5ad:/var/_index: string 1 names object 99 of the HDF5 global heap") !=
        std::string::npos);
  bytes = good;
  bytes[refs] = char(1);  // string 0 ('TP53', 4 bytes) claims 1 byte: libhdf5 copied 4 into a 1-byte buffer
  CHECK(h5ad_error(bytes).find("string 0 of 1 bytes names a heap object of 4 bytes") != std::string::npos);
  bytes = good;
  bytes[refs + 3] = char(0x7f);  // string 0 claims ~2 GB: libhdf5 allocated that before reading the heap
  CHECK(h5ad_error(bytes).find("string 0 claims 2130706436 bytes, more than the file's") != std::string::npos);
}

TEST_CASE("HDF5 global heaps: signatures with another version, or cut at the end, are left to libhdf5") {
  // Version 2 is not a collection libhdf5 would read (it refuses it itself); a signature in the
  // last bytes cannot hold a header. Neither is an error here.
  std::string bytes = std::string(40, 'x') + "GCOL\x02" + std::string(20, '\0') + "GCOL";
  CHECK_NOTHROW(bio::h5::check_global_heaps(bytes.size(), 8, [&](uint64_t at, char* out, size_t n) {
    const size_t k = at >= bytes.size() ? 0 : std::min<size_t>(n, bytes.size() - at);
    std::copy_n(bytes.data() + at, k, out);
    return k;
  }, "x"));
}
