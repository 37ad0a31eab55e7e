// Global heap collection check (see hdf5_global_heap.h). Layout (HDF5 spec III.E, little endian,
// L = size of lengths):
//   collection: "GCOL", version (1 byte, = 1), 3 reserved, collection size (L; header included)
//   object:     heap index (2), reference count (2), reserved (4), object size (L), data padded
//               to a multiple of 8; index 0 is the free space, whose size includes its header.
#include "bio/hdf5_global_heap.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "engine/error.h"

namespace dispa::bio::h5 {

namespace {

uint64_t decode(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Object sizes by heap index as libhdf5 1.10.8 records them (a later object with the same index
// replaces the earlier one); index 0 is the free space. Indexes >= nused are unknown to libhdf5.
struct Objects {
  std::map<uint64_t, uint64_t> size;
  uint64_t nused = 1;
};

// Walks one collection as H5HG__cache_heap_deserialize (libhdf5 1.10.8) does.
Objects check_collection(const std::vector<unsigned char>& c, int L, uint64_t offset, const std::string& name) {
  Objects objects;
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
      objects.size[index] = size;
      objects.nused = std::max(objects.nused, index + 1);
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
  return objects;
}

// The collection at `at` if libhdf5 would read one there (signature, version 1), else nullopt.
std::optional<Objects> read_collection(uint64_t at, uint64_t file_size, int L, const ReadAt& read_at,
                                       const std::string& name) {
  const uint64_t header = 8 + uint64_t(L);
  unsigned char head[16];
  if (at >= file_size || file_size - at < header) return std::nullopt;
  if (read_at(at, reinterpret_cast<char*>(head), size_t(header)) != header) return std::nullopt;
  if (std::memcmp(head, "GCOL", 4) != 0 || head[4] != 1) return std::nullopt;
  const uint64_t size = decode(head + 8, L);
  DISPA_CHECK(size >= header && size <= file_size - at,
              "{}: corrupt HDF5 global heap at byte {}: a collection of {} bytes where the file has {} left", name, at,
              size, file_size - at);
  std::vector<unsigned char> collection(static_cast<size_t>(size));
  DISPA_CHECK(read_at(at, reinterpret_cast<char*>(collection.data()), size_t(size)) == size,
              "{}: cannot read the HDF5 global heap at byte {}", name, at);
  return check_collection(collection, L, at, name);
}

}  // namespace

void check_global_heaps(uint64_t file_size, int length_size, const ReadAt& read_at, const std::string& name) {
  DISPA_CHECK(length_size >= 2 && length_size <= 8, "{}: unsupported HDF5 size of lengths {}", name, length_size);
  const int L = length_size;
  constexpr size_t kBlock = size_t(1) << 20;
  std::vector<char> block(kBlock + 3);
  // Sequential blocks overlapping by 3 bytes, so a signature across a block boundary is seen.
  for (uint64_t start = 0; start < file_size; start += kBlock) {
    const size_t n = read_at(start, block.data(), std::min<uint64_t>(kBlock + 3, file_size - start));
    for (size_t i = 0; i + 4 <= n && i < kBlock; ++i) {
      const char* hit = static_cast<const char*>(std::memchr(block.data() + i, 'G', std::min(n, kBlock) - i));
      if (!hit) break;
      i = size_t(hit - block.data());
      if (i + 4 > n || std::memcmp(hit, "GCOL", 4) != 0) continue;
      read_collection(start + i, file_size, L, read_at, name);
    }
  }
}

void check_string_references(uint64_t offset, uint64_t count, uint64_t base, int address_size, int length_size,
                             uint64_t file_size, const ReadAt& read_at, const std::string& where) {
  if (address_size < 2 || address_size > 8 || length_size < 2 || length_size > 8) return;  // libhdf5 refuses these
  const uint64_t width = 8 + uint64_t(address_size);
  // Raw data outside the file is libhdf5's own error to report (it checks against the end).
  if (offset > file_size || count > (file_size - offset) / width) return;
  std::vector<unsigned char> refs(size_t(count * width));
  if (read_at(offset, reinterpret_cast<char*>(refs.data()), refs.size()) != refs.size()) return;
  std::map<uint64_t, std::optional<Objects>> collections;
  for (uint64_t i = 0; i < count; ++i) {
    const unsigned char* r = refs.data() + i * width;
    const uint64_t length = decode(r, 4), address = decode(r + 4, address_size),
                   index = decode(r + 4 + address_size, 4);
    if (address == 0) continue;  // an empty (null) string: libhdf5 reads no heap
    // libhdf5 allocates the string's claimed length before it looks at the heap.
    DISPA_CHECK(length <= file_size, "{}: string {} claims {} bytes, more than the file's {} (corrupt file)", where, i,
                length, file_size);
    auto [it, added] = collections.try_emplace(address);
    if (added && address <= file_size - base)
      it->second = read_collection(base + address, file_size, length_size, read_at, where);
    if (!it->second) continue;  // no collection there: libhdf5 reports a bad signature itself
    const Objects& o = *it->second;
    const auto object = o.size.find(index);
    DISPA_CHECK(index > 0 && index < o.nused && object != o.size.end(),
                "{}: string {} names object {} of the HDF5 global heap at byte {}, which has no such object (corrupt "
                "file; refused before libhdf5 reads it)",
                where, i, index, base + address);
    DISPA_CHECK(object->second <= length,
                "{}: string {} of {} bytes names a heap object of {} bytes (corrupt file; refused before libhdf5 "
                "copies it)",
                where, i, length, object->second);
  }
}

}  // namespace dispa::bio::h5
