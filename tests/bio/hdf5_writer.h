// Writes tiny HDF5 files with the C API, so the .h5 / .h5ad reader tests need no Python: groups,
// numeric datasets (1-D, 2-D), string datasets (fixed or variable length, as 10x and anndata write
// them) and attributes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <hdf5.h>

namespace dispa::test {

class Hdf5Writer {
 public:
  // latest_format: the newest file format (compact groups in object headers, no B-trees or local
  // heaps) instead of the 1.8-compatible default that h5py and Cell Ranger write.
  explicit Hdf5Writer(const std::filesystem::path& path, bool latest_format = false) {
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (latest_format) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
  }
  ~Hdf5Writer() { H5Fclose(file_); }
  bool ok() const { return file_ >= 0; }

  void group(const std::string& path) { H5Gclose(H5Gcreate2(file_, path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)); }

  template <typename T>
  void numbers(const std::string& path, const std::vector<T>& v, std::vector<hsize_t> dims = {}) {
    if (dims.empty()) dims = {hsize_t(v.size())};
    const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    const hid_t type = native<T>();
    const hid_t d = H5Dcreate2(file_, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (!v.empty()) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Sclose(space);
  }

  // variable = true: UTF-8 variable-length strings (anndata); false: fixed width (10x "|S" arrays).
  void strings(const std::string& path, const std::vector<std::string>& v, bool variable) {
    const hsize_t n = v.size();
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t type = H5Tcopy(H5T_C_S1);
    if (variable) {
      H5Tset_size(type, H5T_VARIABLE);
      H5Tset_cset(type, H5T_CSET_UTF8);
      std::vector<const char*> p;
      for (const auto& s : v) p.push_back(s.c_str());
      const hid_t d = H5Dcreate2(file_, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data());
      H5Dclose(d);
    } else {
      size_t width = 1;
      for (const auto& s : v) width = std::max(width, s.size());
      H5Tset_size(type, width);
      H5Tset_strpad(type, H5T_STR_NULLPAD);
      std::vector<char> buf(width * v.size(), '\0');
      for (size_t i = 0; i < v.size(); ++i) std::copy(v[i].begin(), v[i].end(), buf.begin() + long(i * width));
      const hid_t d = H5Dcreate2(file_, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
      H5Dclose(d);
    }
    H5Tclose(type);
    H5Sclose(space);
  }

  void string_attribute(const std::string& object, const std::string& name, const std::string& value) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate_by_name(file_, object.c_str(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char* p = value.c_str();
    H5Awrite(a, type, &p);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
  }

  void int_attribute(const std::string& object, const std::string& name, const std::vector<int64_t>& value) {
    const hsize_t n = value.size();
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t a = H5Acreate_by_name(file_, object.c_str(), name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, value.data());
    H5Aclose(a);
    H5Sclose(space);
  }

 private:
  template <typename T>
  static hid_t native() {
    if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
    else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
    else if constexpr (std::is_same_v<T, int32_t>) return H5T_NATIVE_INT32;
    else return H5T_NATIVE_INT64;
  }
  hid_t file_ = -1;
};

}  // namespace dispa::test
