// Global heap collection check (see hdf5_global_heap.h). Layout (HDF5 spec III.E, little endian,
// L = size of lengths):
//   collection: "GCOL", version (1 byte, = 1), 3 reserved, collection size (L; header included)
//   object:     heap index (2), reference count (2), reserved (4), object size (L), data padded
//               to a multiple of 8; index 0 is the free space, whose size includes its header.
#include "bio/hdf5_global_heap.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/error.h"

namespace dispa::bio::h5 {

namespace {

uint64_t decode(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Walks one collection as H5HG__cache_heap_deserialize (libhdf5 1.10.8) does.
void check_collection(const std::vector<unsigned char>& c, int L, uint64_t offset, const std::string& name) {
  const uint64_t header = 8 + uint64_t(L), object_header = 8 + uint64_t(L), end = c.size();
  uint64_t p = header;
  while (p < end) {
    if (p + object_header > end) break;  // a tail too small for an object header is free space
    const uint64_t index = decode(&c[p], 2), size = decode(&c[p + 8], L);
    uint64_t need = 0;
    if (index > 0) {
      DISPA_CHECK(size <= end - p - object_header,
                  "{}: corrupt HDF5 global heap at byte {}: object {} claims {} bytes but its collection has {} left "
                  "(refused before libhdf5 reads past the heap)",
                  name, offset, index, size, end - p - object_header);
      need = object_header + ((size + 7) & ~uint64_t(7));
    } else {
      DISPA_CHECK(size > 0 && size <= end - p,
                  "{}: corrupt HDF5 global heap at byte {}: free space of {} bytes where {} remain (refused: libhdf5 "
                  "would loop forever or read past the heap)",
                  name, offset, size, end - p);
      need = size;
    }
    if (need > end - p) break;  // libhdf5 stops here too: nothing more is parsed
    p += need;
  }
}

}  // namespace

void check_global_heaps(uint64_t file_size, int length_size, const ReadAt& read_at, const std::string& name) {
  DISPA_CHECK(length_size >= 2 && length_size <= 8, "{}: unsupported HDF5 size of lengths {}", name, length_size);
  const int L = length_size;
  const uint64_t header = 8 + uint64_t(L);
  constexpr size_t kBlock = size_t(1) << 20;
  std::vector<char> block(kBlock + 3);
  std::vector<unsigned char> collection;
  unsigned char head[16];
  // Sequential blocks overlapping by 3 bytes, so a signature across a block boundary is seen.
  for (uint64_t start = 0; start < file_size; start += kBlock) {
    const size_t n = read_at(start, block.data(), std::min<uint64_t>(kBlock + 3, file_size - start));
    for (size_t i = 0; i + 4 <= n && i < kBlock; ++i) {
      const char* hit = static_cast<const char*>(std::memchr(block.data() + i, 'G', std::min(n, kBlock) - i));
      if (!hit) break;
      i = size_t(hit - block.data());
      if (i + 4 > n || std::memcmp(hit, "GCOL", 4) != 0) continue;
      const uint64_t at = start + i;
      if (read_at(at, reinterpret_cast<char*>(head), size_t(header)) != header || head[4] != 1) continue;
      const uint64_t size = decode(head + 8, L);
      DISPA_CHECK(size >= header && size <= file_size - at,
                  "{}: corrupt HDF5 global heap at byte {}: a collection of {} bytes where the file has {} left", name,
                  at, size, file_size - at);
      collection.resize(size_t(size));
      DISPA_CHECK(read_at(at, reinterpret_cast<char*>(collection.data()), size_t(size)) == size,
                  "{}: cannot read the HDF5 global heap at byte {}", name, at);
      check_collection(collection, L, at, name);
    }
  }
}

}  // namespace dispa::bio::h5
