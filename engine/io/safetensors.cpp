// safetensors reader/writer (format: https://github.com/huggingface/safetensors, README "Format").
// Reading validates everything before any tensor is built: header length within the file, JSON
// object, known dtype, shape × dtype size == data_offsets span, spans inside the data section and
// not overlapping; each failure names the file. Writing follows the reference writer
// (safetensors/src/tensor.rs, serialize): tensors ordered by element size (largest first) then
// name so every tensor stays aligned, data packed in that order, JSON padded with spaces to a
// multiple of 8 bytes; the file appears atomically (temporary file in the same folder, fsync, rename).
#include "engine/io/safetensors.h"

#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace dispa {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so is this reader");

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference reader's limit

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
  }
  return "?";
}

bool parse_dtype(const std::string& name, DType& out) {
  if (name == "F32") out = DType::f32;
  else if (name == "F64") out = DType::f64;
  else if (name == "I32") out = DType::i32;
  else if (name == "I64") out = DType::i64;
  else return false;
  return true;
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  DISPA_CHECK(in.is_open(), "safetensors: cannot open '{}' for reading: {}", path, std::strerror(errno));
  const std::streamoff size = in.tellg();
  DISPA_CHECK(size >= 0, "safetensors: cannot determine the size of '{}'", path);
  std::vector<char> bytes(static_cast<size_t>(size));
  in.seekg(0);
  in.read(bytes.data(), size);
  DISPA_CHECK(in.gcount() == size, "safetensors: read {} of {} bytes from '{}'", in.gcount(), size, path);
  return bytes;
}

struct Span {
  uint64_t begin, end;
  std::string name;
};

// Parses one tensor entry of the header; checks everything but overlaps (done over all spans).
Tensor parse_entry(const std::string& path, const std::string& name, const nlohmann::json& info,
                   const char* data, uint64_t data_size, std::vector<Span>& spans) {
  DISPA_CHECK(info.is_object(), "safetensors: '{}': entry '{}' is not a JSON object", path, name);
  auto field = [&](const char* key) -> const nlohmann::json& {
    auto it = info.find(key);
    DISPA_CHECK(it != info.end(), "safetensors: '{}': tensor '{}' has no \"{}\"", path, name, key);
    return *it;
  };
  const nlohmann::json& dtype_json = field("dtype");
  DISPA_CHECK(dtype_json.is_string(), "safetensors: '{}': tensor '{}' has a non-string dtype", path, name);
  DType dtype;
  DISPA_CHECK(parse_dtype(dtype_json.get<std::string>(), dtype),
              "safetensors: '{}': tensor '{}' has unsupported dtype '{}' (supported: F32, F64, I32, I64)", path,
              name, dtype_json.get<std::string>());

  const nlohmann::json& shape_json = field("shape");
  DISPA_CHECK(shape_json.is_array(), "safetensors: '{}': tensor '{}' has a shape that is not an array", path, name);
  Shape shape;
  uint64_t numel = 1;
  for (const auto& d : shape_json) {
    DISPA_CHECK(d.is_number_unsigned(), "safetensors: '{}': tensor '{}' has shape {} with a non-integer or negative "
                                        "dimension", path, name, shape_json.dump());
    const uint64_t dim = d.get<uint64_t>();
    DISPA_CHECK(dim == 0 || numel <= (uint64_t(1) << 62) / dim, "safetensors: '{}': tensor '{}' shape {} is too large",
                path, name, shape_json.dump());
    numel *= dim;
    shape.push_back(static_cast<int64_t>(dim));
  }

  const nlohmann::json& offsets = field("data_offsets");
  DISPA_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                  offsets[1].is_number_unsigned(),
              "safetensors: '{}': tensor '{}' data_offsets must be two non-negative integers, got {}", path, name,
              offsets.dump());
  const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
  DISPA_CHECK(begin <= end, "safetensors: '{}': tensor '{}' data_offsets [{}, {}] are reversed", path, name, begin, end);
  DISPA_CHECK(end <= data_size,
              "safetensors: '{}': tensor '{}' data_offsets [{}, {}] are out of range: the data section has {} bytes "
              "(truncated file?)", path, name, begin, end, data_size);
  const uint64_t want = numel * dtype_size(dtype);
  DISPA_CHECK(end - begin == want,
              "safetensors: '{}': tensor '{}' is {}{} ({} bytes) but data_offsets [{}, {}] span {} bytes", path, name,
              safetensors_dtype(dtype), shape_str(shape), want, begin, end, end - begin);
  spans.push_back({begin, end, name});

  Tensor t = Tensor::empty(shape, dtype, Device::cpu());
  if (want > 0) std::memcpy(t.raw_data(), data + begin, want);
  return t;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  const std::vector<char> bytes = read_file(path);
  const uint64_t size = bytes.size();
  DISPA_CHECK(size >= 8, "safetensors: '{}' is truncated: {} bytes, fewer than the 8-byte header length", path, size);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  DISPA_CHECK(header_len <= kMaxHeaderBytes, "safetensors: '{}': header length {} exceeds {} bytes (not a safetensors "
                                             "file?)", path, header_len, kMaxHeaderBytes);
  DISPA_CHECK(header_len <= size - 8, "safetensors: '{}' is truncated: header length {} but only {} bytes follow", path,
              header_len, size - 8);

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len));
  } catch (const nlohmann::json::exception& e) {
    fail("safetensors: '{}': bad JSON header: {}", path, e.what());
  }
  DISPA_CHECK(header.is_object(), "safetensors: '{}': the JSON header is not an object", path);

  SafetensorsFile out;
  const char* data = bytes.data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  std::vector<Span> spans;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      DISPA_CHECK(info.is_object(), "safetensors: '{}': __metadata__ is not an object", path);
      for (const auto& [key, value] : info.items()) {
        DISPA_CHECK(value.is_string(), "safetensors: '{}': __metadata__ value of '{}' is not a string", path, key);
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    out.tensors[name] = parse_entry(path, name, info, data, data_size, spans);
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < spans.size(); ++i)
    DISPA_CHECK(spans[i].begin >= spans[i - 1].end,
                "safetensors: '{}': data of '{}' [{}, {}] overlaps '{}' [{}, {}]", path, spans[i].name, spans[i].begin,
                spans[i].end, spans[i - 1].name, spans[i - 1].begin, spans[i - 1].end);
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, Tensor>> order;
  for (const auto& [name, t] : tensors) {
    DISPA_CHECK(!name.empty(), "safetensors: writing '{}': empty tensor name", path);
    DISPA_CHECK(name != "__metadata__", "safetensors: writing '{}': '__metadata__' is reserved", path);
    DISPA_CHECK(t.defined(), "safetensors: writing '{}': tensor '{}' is undefined", path, name);
    order.emplace_back(name, t.to(Device::cpu()));
  }
  // Larger elements first, then by name (the reference writer's order): keeps 8-byte data aligned.
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    const size_t sa = dtype_size(a.second.dtype()), sb = dtype_size(b.second.dtype());
    return sa != sb ? sa > sb : a.first < b.first;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : order) {
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] = safetensors_dtype(t.dtype());
    info["shape"] = t.shape();
    info["data_offsets"] = {offset, offset + t.nbytes()};
    header[name] = std::move(info);
    offset += t.nbytes();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail("safetensors: writing '{}': cannot encode the header: {}", path, e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_len = text.size();

  io::AtomicFile file(path);  // temporary file, fsync, rename, fsync the folder
  file.write(&header_len, 8);
  file.write(text);
  for (const auto& [name, t] : order)
    if (t.nbytes() > 0) file.write(t.raw_data(), t.nbytes());
  file.commit();
}

}  // namespace dispa
