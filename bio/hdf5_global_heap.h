// A check of HDF5 global heap collections before libhdf5 reads variable-length strings from them.
//
// Variable-length strings (AnnData's obs/var indexes and string attributes, some 10x files) live
// in global heap collections ("GCOL" blocks, HDF5 file format spec III.E). libhdf5 1.10.8 (Debian
// 12) trusts the sizes written there: an object whose size runs past its collection is copied
// from beyond the buffer (H5HG_read: a heap overflow read, found by fuzz/h5ad_fuzz), and a
// free-space object of size 0 makes its parser loop forever (H5HG__cache_heap_deserialize).
// check_global_heaps finds every byte sequence that libhdf5 would accept as a collection header
// (signature and version 1; libhdf5 refuses any other version itself) and walks its objects
// exactly as libhdf5 1.10.8 does, refusing the file with a dispa::Error when a collection runs
// past the end of the file, an object's data runs past its collection, or the free space is
// empty. check_string_references then checks the strings' references (length, collection
// address, object index) of a contiguous string dataset, whose raw bytes the API locates
// (H5Dget_offset): each must claim no more bytes than the file has (libhdf5 allocates the claim
// first) and name an object of its collection no longer than the string, or libhdf5 copies past
// its buffers. What remains unchecked: references stored in attributes and
// in compact or chunked datasets, which the API hands out only through libhdf5's own read; see
// docs/RELIABILITY.md "Fuzzing".
// Cost: one sequential pass over the file, once per file, and only when a variable-length string
// is read. A stale copy of "GCOL" plus the version byte inside other data (never written by
// libhdf5, h5py or anndata outside a heap) would be checked too and could refuse a readable file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace dispa::bio::h5 {

// Reads up to `n` bytes at `offset` into `out`; returns how many were read (fewer at the end).
using ReadAt = std::function<size_t(uint64_t offset, char* out, size_t n)>;

// `length_size`: the file's "size of lengths" (superblock; 8 in practice). `name` is for messages.
void check_global_heaps(uint64_t file_size, int length_size, const ReadAt& read_at, const std::string& name);

// `count` references of `address_size + 8` bytes at file offset `offset` (a contiguous dataset's
// raw data); heap addresses are relative to `base` (the user block size). `where` names the
// dataset in messages.
void check_string_references(uint64_t offset, uint64_t count, uint64_t base, int address_size, int length_size,
                             uint64_t file_size, const ReadAt& read_at, const std::string& where);

}  // namespace dispa::bio::h5
