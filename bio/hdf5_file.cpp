// HDF5 read layer (see hdf5_file.h).
#include "bio/hdf5_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>

#include <hdf5.h>

#include "bio/hdf5_global_heap.h"
#include "engine/error.h"

namespace dispa::bio::h5 {

namespace {

// HDF5 prints its error stack to stderr by default; we report errors ourselves.
void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

herr_t collect(unsigned n, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<std::vector<std::string>*>(data);
  if (e->desc && *e->desc) out->push_back(e->desc);
  (void)n;
  return 0;
}

// HDF5's reasons for the last failure, innermost last; the stack is cleared.
std::string hdf5_reason() {
  std::vector<std::string> reasons;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &reasons);
  H5Eclear2(H5E_DEFAULT);
  if (reasons.empty()) return "unknown HDF5 error";
  std::string out = reasons.back();
  if (reasons.size() >= 2 && reasons[reasons.size() - 2] != out) out = reasons[reasons.size() - 2] + ": " + out;
  return out;
}

Id check_id(Id id, const std::string& what) {
  if (id < 0) fail("{}: {}", what, hdf5_reason());
  return id;
}

void check_status(herr_t status, const std::string& what) {
  if (status < 0) fail("{}: {}", what, hdf5_reason());
}

bool numeric_class(H5T_class_t c) { return c == H5T_INTEGER || c == H5T_FLOAT; }

// A dataset header can claim any extent, and a read allocates for it (here and inside libhdf5)
// before a byte is read: fuzz/tenx_h5_fuzz made a 10 KB file ask for 60 GB of strings. What the
// file stores bounds what a read can really produce: the element count times the element size is
// the stored size for contiguous and compact layouts, and at most ~1032x the stored size for a
// chunked one (deflate's limit; the other filters Debian's libhdf5 decodes compress less). A
// dataset with nothing stored (fill values only, or external storage) is refused when non-empty.
constexpr uint64_t kMaxCompression = 1100;

void check_stored(Id dataset, uint64_t elements, size_t element_size, const std::string& where) {
  if (elements == 0) return;
  Handle dcpl(check_id(H5Dget_create_plist(dataset), where), Handle::Kind::plist);
  const uint64_t ratio = H5Pget_layout(dcpl.get()) == H5D_CHUNKED ? kMaxCompression : 1;
  const uint64_t stored = H5Dget_storage_size(dataset);
  using U = unsigned __int128;
  DISPA_CHECK(U(elements) * U(std::max<size_t>(element_size, 1)) <= U(stored) * U(ratio),
              "{}: the dataset claims {} elements of {} bytes but the file stores {} bytes for it (corrupt header?)",
              where, elements, element_size, stored);
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    Handle tmp(std::move(*this));
    id_ = o.id_;
    kind_ = o.kind_;
    o.id_ = -1;
  }
  return *this;
}

Handle::~Handle() {
  if (id_ < 0) return;
  switch (kind_) {
    case Kind::file: H5Fclose(id_); break;
    case Kind::group: H5Gclose(id_); break;
    case Kind::dataset: H5Dclose(id_); break;
    case Kind::dataspace: H5Sclose(id_); break;
    case Kind::datatype: H5Tclose(id_); break;
    case Kind::attribute: H5Aclose(id_); break;
    case Kind::plist: H5Pclose(id_); break;
    case Kind::object: H5Oclose(id_); break;
  }
}

File File::open(const std::filesystem::path& path) {
  silence_hdf5();
  File f;
  f.name_ = path.string();
  f.file_ = Handle(check_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                            fmt::format("{}: cannot open as HDF5", f.name_)),
                   Handle::Kind::file);
  return f;
}

File File::open_image(std::string_view bytes, std::string name) {
  silence_hdf5();
  File f;
  f.name_ = std::move(name);
  f.image_.assign(bytes);
  DISPA_CHECK(!f.image_.empty(), "{}: empty HDF5 image", f.name_);
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), f.name_), Handle::Kind::plist);
  check_status(H5Pset_fapl_core(fapl.get(), 1 << 16, 0), f.name_);
  check_status(H5Pset_file_image(fapl.get(), f.image_.data(), f.image_.size()), f.name_);
  f.file_ = Handle(check_id(H5Fopen(f.name_.c_str(), H5F_ACC_RDONLY, fapl.get()),
                            fmt::format("{}: cannot open as HDF5", f.name_)),
                   Handle::Kind::file);
  return f;
}

bool File::exists(const std::string& path) const {
  if (path.empty() || path == "/") return true;
  size_t pos = 0;
  while (true) {
    const size_t slash = path.find('/', pos);
    const std::string prefix = path.substr(0, slash);
    const htri_t e = H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT);
    if (e <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

namespace {
// H5I_GROUP, H5I_DATASET, ... of the object at `path`, or H5I_BADID (portable across HDF5 1.10-1.14,
// unlike H5Oget_info_by_name).
H5I_type_t object_type(Id file, const std::string& path) {
  const Id o = H5Oopen(file, path.c_str(), H5P_DEFAULT);
  if (o < 0) {
    H5Eclear2(H5E_DEFAULT);
    return H5I_BADID;
  }
  const H5I_type_t t = H5Iget_type(o);
  H5Oclose(o);
  return t;
}
}  // namespace

bool File::is_group(const std::string& path) const {
  return exists(path) && object_type(file_.get(), path) == H5I_GROUP;
}

bool File::is_dataset(const std::string& path) const {
  return exists(path) && object_type(file_.get(), path) == H5I_DATASET;
}

std::vector<std::string> File::children(const std::string& group) const {
  Handle g(check_id(H5Gopen2(file_.get(), group.c_str(), H5P_DEFAULT), fmt::format("{}: not a group", where(group))),
           Handle::Kind::group);
  H5G_info_t info;
  check_status(H5Gget_info(g.get(), &info), where(group));
  std::vector<std::string> out;
  for (hsize_t i = 0; i < std::min<hsize_t>(info.nlinks, 100000); ++i) {
    const ssize_t n = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) continue;
    std::string name(size_t(n) + 1, '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(size_t(n));
    out.push_back(name);
  }
  H5Eclear2(H5E_DEFAULT);
  std::sort(out.begin(), out.end());
  return out;
}

Handle File::open_dataset(const std::string& path) const {
  DISPA_CHECK(is_dataset(path), "{}: no dataset '{}'", name_, path);
  return Handle(check_id(H5Dopen2(file_.get(), path.c_str(), H5P_DEFAULT), where(path)), Handle::Kind::dataset);
}

std::vector<int64_t> File::dims(const std::string& dataset) const {
  Handle d = open_dataset(dataset);
  Handle space(check_id(H5Dget_space(d.get()), where(dataset)), Handle::Kind::dataspace);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  DISPA_CHECK(rank >= 0 && rank <= 8, "{}: unreadable rank {}", where(dataset), rank);
  hsize_t d8[8] = {};
  H5Sget_simple_extent_dims(space.get(), d8, nullptr);
  return std::vector<int64_t>(d8, d8 + rank);
}

namespace {

template <typename T>
std::vector<T> read_slice(Id file, const std::string& where, const std::string& path, int64_t offset, int64_t count,
                          Id memtype) {
  Handle d(check_id(H5Dopen2(file, path.c_str(), H5P_DEFAULT), where), Handle::Kind::dataset);
  Handle type(check_id(H5Dget_type(d.get()), where), Handle::Kind::datatype);
  DISPA_CHECK(numeric_class(H5Tget_class(type.get())), "{}: expected a numeric dataset", where);
  Handle space(check_id(H5Dget_space(d.get()), where), Handle::Kind::dataspace);
  DISPA_CHECK(H5Sget_simple_extent_ndims(space.get()) == 1, "{}: expected a 1-D dataset", where);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space.get(), &n, nullptr);
  if (count < 0) count = int64_t(n) - offset;
  DISPA_CHECK(offset >= 0 && count >= 0 && uint64_t(offset + count) <= n,
              "{}: elements [{}, {}) requested but the dataset has {}", where, offset, offset + count, n);
  DISPA_CHECK(count <= File::kMaxElements, "{}: {} elements in one read is more than the limit {}", where, count,
              File::kMaxElements);
  check_stored(d.get(), uint64_t(count), H5Tget_size(type.get()), where);
  std::vector<T> out(static_cast<size_t>(count));
  if (count == 0) return out;
  const hsize_t start = hsize_t(offset), size = hsize_t(count);
  check_status(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &start, nullptr, &size, nullptr), where);
  Handle mem(check_id(H5Screate_simple(1, &size, nullptr), where), Handle::Kind::dataspace);
  check_status(H5Dread(d.get(), memtype, mem.get(), space.get(), H5P_DEFAULT, out.data()), where);
  return out;
}

}  // namespace

std::vector<double> File::read_doubles(const std::string& dataset, int64_t offset, int64_t count) const {
  open_dataset(dataset);
  return read_slice<double>(file_.get(), where(dataset), dataset, offset, count, H5T_NATIVE_DOUBLE);
}
std::vector<int64_t> File::read_int64s(const std::string& dataset, int64_t offset, int64_t count) const {
  open_dataset(dataset);
  return read_slice<int64_t>(file_.get(), where(dataset), dataset, offset, count, H5T_NATIVE_INT64);
}
std::vector<double> File::read_doubles(const std::string& dataset) const { return read_doubles(dataset, 0, -1); }
std::vector<int64_t> File::read_int64s(const std::string& dataset) const { return read_int64s(dataset, 0, -1); }

std::vector<float> File::read_rows(const std::string& dataset, int64_t row, int64_t count) const {
  Handle d = open_dataset(dataset);
  Handle type(check_id(H5Dget_type(d.get()), where(dataset)), Handle::Kind::datatype);
  DISPA_CHECK(numeric_class(H5Tget_class(type.get())), "{}: expected a numeric dataset", where(dataset));
  Handle space(check_id(H5Dget_space(d.get()), where(dataset)), Handle::Kind::dataspace);
  DISPA_CHECK(H5Sget_simple_extent_ndims(space.get()) == 2, "{}: expected a 2-D dataset", where(dataset));
  hsize_t n[2] = {};
  H5Sget_simple_extent_dims(space.get(), n, nullptr);
  DISPA_CHECK(row >= 0 && count >= 0 && uint64_t(row + count) <= n[0], "{}: rows [{}, {}) requested but it has {}",
              where(dataset), row, row + count, n[0]);
  DISPA_CHECK(n[1] == 0 || uint64_t(count) <= uint64_t(kMaxElements) / n[1], "{}: {} x {} values in one read is too many",
              where(dataset), count, n[1]);
  check_stored(d.get(), uint64_t(count) * n[1], H5Tget_size(type.get()), where(dataset));
  std::vector<float> out(size_t(count) * size_t(n[1]));
  if (out.empty()) return out;
  const hsize_t start[2] = {hsize_t(row), 0}, size[2] = {hsize_t(count), n[1]};
  check_status(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, size, nullptr), where(dataset));
  Handle mem(check_id(H5Screate_simple(2, size, nullptr), where(dataset)), Handle::Kind::dataspace);
  check_status(H5Dread(d.get(), H5T_NATIVE_FLOAT, mem.get(), space.get(), H5P_DEFAULT, out.data()), where(dataset));
  return out;
}

namespace {

// Strings of `n` elements of `type` read by `read(memtype, buffer)` (a dataset or an attribute).
template <typename Read>
std::vector<std::string> read_string_values(Id type, size_t n, const std::string& where, Read read) {
  DISPA_CHECK(H5Tget_class(type) == H5T_STRING, "{}: expected strings", where);
  std::vector<std::string> out;
  out.reserve(n);
  if (H5Tis_variable_str(type) > 0) {
    Handle mem(check_id(H5Tcopy(H5T_C_S1), where), Handle::Kind::datatype);
    check_status(H5Tset_size(mem.get(), H5T_VARIABLE), where);
    check_status(H5Tset_cset(mem.get(), H5Tget_cset(type)), where);
    std::vector<char*> ptrs(n, nullptr);
    check_status(read(mem.get(), ptrs.data()), where);
    for (char* p : ptrs) {
      out.emplace_back(p ? p : "");
      H5free_memory(p);
    }
    return out;
  }
  const size_t width = H5Tget_size(type);
  DISPA_CHECK(width > 0 && width <= 65536 && n <= size_t(File::kMaxElements) / width,
              "{}: {} strings of {} bytes is more than this reader accepts", where, n, width);
  const bool space_pad = H5Tget_strpad(type) == H5T_STR_SPACEPAD;
  Handle mem(check_id(H5Tcopy(H5T_C_S1), where), Handle::Kind::datatype);
  check_status(H5Tset_size(mem.get(), width), where);
  check_status(H5Tset_strpad(mem.get(), H5T_STR_NULLPAD), where);
  std::vector<char> buffer(n * width);
  check_status(read(mem.get(), buffer.data()), where);
  for (size_t i = 0; i < n; ++i) {
    const char* p = buffer.data() + i * width;
    size_t len = strnlen(p, width);
    if (space_pad)
      while (len > 0 && p[len - 1] == ' ') --len;
    out.emplace_back(p, len);
  }
  return out;
}

}  // namespace

// The bytes of the file (the image in memory, or the file on disk) for the heap checks.
void File::with_raw_bytes(const std::function<void(uint64_t size, const ReadAt&)>& use) const {
  if (!image_.empty()) {
    use(image_.size(), [this](uint64_t offset, char* out, size_t n) {
      const size_t k = offset >= image_.size() ? 0 : std::min<uint64_t>(n, image_.size() - offset);
      if (k > 0) std::memcpy(out, image_.data() + offset, k);
      return k;
    });
    return;
  }
  std::ifstream in(name_, std::ios::binary);
  DISPA_CHECK(in.good(), "{}: cannot open to check its HDF5 global heaps", name_);
  in.seekg(0, std::ios::end);
  const uint64_t size = uint64_t(in.tellg());
  use(size, [&in](uint64_t offset, char* out, size_t n) {
    in.clear();
    in.seekg(std::streamoff(offset));
    in.read(out, std::streamsize(n));
    return size_t(in.gcount());
  });
}

void File::check_global_heaps_once() const {
  if (heaps_checked_) return;
  Handle fcpl(check_id(H5Fget_create_plist(file_.get()), name_), Handle::Kind::plist);
  size_t sizeof_addr = 0, sizeof_size = 0;
  hsize_t userblock = 0;
  check_status(H5Pget_sizes(fcpl.get(), &sizeof_addr, &sizeof_size), name_);
  check_status(H5Pget_userblock(fcpl.get(), &userblock), name_);
  address_size_ = int(sizeof_addr);
  length_size_ = int(sizeof_size);
  base_ = uint64_t(userblock);
  with_raw_bytes([&](uint64_t size, const ReadAt& read_at) { check_global_heaps(size, length_size_, read_at, name_); });
  heaps_checked_ = true;
}

std::vector<std::string> File::read_strings(const std::string& dataset) const {
  Handle d = open_dataset(dataset);
  Handle type(check_id(H5Dget_type(d.get()), where(dataset)), Handle::Kind::datatype);
  if (H5Tis_variable_str(type.get()) > 0) {
    check_global_heaps_once();
    // A contiguous dataset's references can be checked before libhdf5 follows them.
    const haddr_t raw = H5Dget_offset(d.get());
    H5Eclear2(H5E_DEFAULT);
    Handle space(check_id(H5Dget_space(d.get()), where(dataset)), Handle::Kind::dataspace);
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (raw != HADDR_UNDEF && n > 0)
      with_raw_bytes([&](uint64_t size, const ReadAt& read_at) {
        check_string_references(base_ + uint64_t(raw), uint64_t(n), base_, address_size_, length_size_, size, read_at,
                                where(dataset));
      });
  }
  Handle space(check_id(H5Dget_space(d.get()), where(dataset)), Handle::Kind::dataspace);
  DISPA_CHECK(H5Sget_simple_extent_ndims(space.get()) == 1, "{}: expected a 1-D string dataset", where(dataset));
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space.get(), &n, nullptr);
  DISPA_CHECK(n <= hsize_t(kMaxElements), "{}: {} strings is more than this reader accepts", where(dataset), n);
  check_stored(d.get(), n, H5Tget_size(type.get()), where(dataset));
  return read_string_values(type.get(), size_t(n), where(dataset), [&](Id mem, void* buf) {
    return H5Dread(d.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  });
}

std::optional<std::string> File::string_attribute(const std::string& path, const std::string& name) const {
  if (!exists(path)) return std::nullopt;
  if (H5Aexists_by_name(file_.get(), path.empty() ? "/" : path.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  const std::string w = where(path) + "@" + name;
  Handle a(check_id(H5Aopen_by_name(file_.get(), path.empty() ? "/" : path.c_str(), name.c_str(), H5P_DEFAULT,
                                    H5P_DEFAULT),
                    w),
           Handle::Kind::attribute);
  Handle type(check_id(H5Aget_type(a.get()), w), Handle::Kind::datatype);
  if (H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;
  if (H5Tis_variable_str(type.get()) > 0) check_global_heaps_once();
  Handle space(check_id(H5Aget_space(a.get()), w), Handle::Kind::dataspace);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n != 1) return std::nullopt;
  auto v = read_string_values(type.get(), 1, w, [&](Id mem, void* buf) { return H5Aread(a.get(), mem, buf); });
  return v.at(0);
}

std::optional<std::vector<int64_t>> File::int_attribute(const std::string& path, const std::string& name) const {
  if (!exists(path)) return std::nullopt;
  if (H5Aexists_by_name(file_.get(), path.empty() ? "/" : path.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  const std::string w = where(path) + "@" + name;
  Handle a(check_id(H5Aopen_by_name(file_.get(), path.empty() ? "/" : path.c_str(), name.c_str(), H5P_DEFAULT,
                                    H5P_DEFAULT),
                    w),
           Handle::Kind::attribute);
  Handle type(check_id(H5Aget_type(a.get()), w), Handle::Kind::datatype);
  if (!numeric_class(H5Tget_class(type.get()))) return std::nullopt;
  Handle space(check_id(H5Aget_space(a.get()), w), Handle::Kind::dataspace);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  DISPA_CHECK(n >= 0 && n <= 64, "{}: expected a short integer attribute, it has {} values", w, n);
  std::vector<int64_t> out(static_cast<size_t>(n));
  check_status(H5Aread(a.get(), H5T_NATIVE_INT64, out.data()), w);
  return out;
}

}  // namespace dispa::bio::h5
