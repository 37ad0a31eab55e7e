// A small read-only layer over the HDF5 C API (Debian's libhdf5) for the .h5 and .h5ad readers:
// RAII handles, 1-D numeric slices, rows of 2-D datasets, string datasets (fixed or variable
// length) and attributes. HDF5's own error printing is switched off; a failing call becomes a
// dispa::Error naming the file, the object and HDF5's innermost reason.
// Files open from a path or from bytes in memory (the core driver), so a fuzz target can feed
// the readers directly. Before the first variable-length string is read, the file's global heap
// collections are checked (hdf5_global_heap.h), where libhdf5 1.10.8 would crash or hang. Reads are sized by the dataset's real extent and capped (kMaxElements):
// a corrupt header cannot request an unbounded allocation.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bio/hdf5_global_heap.h"

namespace dispa::bio::h5 {

using Id = int64_t;  // hid_t

// Closes an HDF5 identifier with the right H5*close on destruction.
class Handle {
 public:
  enum class Kind { file, group, dataset, dataspace, datatype, attribute, plist, object };
  Handle() = default;
  Handle(Id id, Kind kind) : id_(id), kind_(kind) {}
  Handle(Handle&& o) noexcept : id_(o.id_), kind_(o.kind_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  Id get() const { return id_; }

 private:
  Id id_ = -1;
  Kind kind_ = Kind::object;
};

class File {
 public:
  static constexpr int64_t kMaxElements = int64_t(1) << 32;  // per read

  static File open(const std::filesystem::path& path);
  // A copy of `bytes` is opened read-only in memory; `name` appears in messages.
  static File open_image(std::string_view bytes, std::string name);

  const std::string& name() const { return name_; }
  // True when every component of `path` ("a/b/c") exists.
  bool exists(const std::string& path) const;
  bool is_group(const std::string& path) const;
  bool is_dataset(const std::string& path) const;
  std::vector<std::string> children(const std::string& group) const;  // link names, sorted

  std::vector<int64_t> dims(const std::string& dataset) const;
  // Elements [offset, offset + count) of a 1-D numeric dataset, converted by HDF5.
  std::vector<double> read_doubles(const std::string& dataset, int64_t offset, int64_t count) const;
  std::vector<int64_t> read_int64s(const std::string& dataset, int64_t offset, int64_t count) const;
  std::vector<double> read_doubles(const std::string& dataset) const;  // whole 1-D dataset
  std::vector<int64_t> read_int64s(const std::string& dataset) const;
  // Rows [row, row + count) of a 2-D numeric dataset, row-major.
  std::vector<float> read_rows(const std::string& dataset, int64_t row, int64_t count) const;
  // A 1-D string dataset (fixed or variable length; trailing NULs and pad spaces removed).
  std::vector<std::string> read_strings(const std::string& dataset) const;

  // Attributes of the object at `path`; nullopt when absent.
  std::optional<std::string> string_attribute(const std::string& path, const std::string& name) const;
  std::optional<std::vector<int64_t>> int_attribute(const std::string& path, const std::string& name) const;

 private:
  Handle open_dataset(const std::string& path) const;
  void check_global_heaps_once() const;  // before libhdf5 reads variable-length strings
  void with_raw_bytes(const std::function<void(uint64_t size, const ReadAt&)>& use) const;
  std::string where(const std::string& object) const { return name_ + ":/" + object; }
  std::string name_;
  std::string image_;  // keeps the bytes of an in-memory file alive
  Handle file_;
  mutable bool heaps_checked_ = false;
  mutable int address_size_ = 8, length_size_ = 8;  // the superblock's sizes, read with the heap check
  mutable uint64_t base_ = 0;                       // user block size: HDF5 addresses start after it
};

}  // namespace dispa::bio::h5
