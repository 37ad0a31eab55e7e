// safetensors reader/writer (format: https://github.com/huggingface/safetensors, README "Format").
// Reading validates everything before any tensor is built (read_safetensors_header reads only
// the header, so a caller can check names and shapes before allocating anything): header length within the file, JSON
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

#include "engine/io/text.h"

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

struct Span {
  uint64_t begin, end;
  std::string name;
};

// Parses one tensor entry of the header; checks everything but overlaps (done over all spans).
// data_size: bytes after the header, or UINT64_MAX when only the header was read.
SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& info,
                             uint64_t data_size, std::vector<Span>& spans) {
  DISPA_CHECK(info.is_object(), "safetensors: '{}': entry '{}' is not a JSON object", path, io::shorten(name));
  auto field = [&](const char* key) -> const nlohmann::json& {
    auto it = info.find(key);
    DISPA_CHECK(it != info.end(), "safetensors: '{}': tensor '{}' has no \"{}\"", path, io::shorten(name), key);
    return *it;
  };
  SafetensorsEntry entry;
  const nlohmann::json& dtype_json = field("dtype");
  DISPA_CHECK(dtype_json.is_string(), "safetensors: '{}': tensor '{}' has a non-string dtype", path, io::shorten(name));
  DISPA_CHECK(parse_dtype(dtype_json.get<std::string>(), entry.dtype),
              "safetensors: '{}': tensor '{}' has unsupported dtype '{}' (supported: F32, F64, I32, I64)", path,
              io::shorten(name), io::shorten(dtype_json.get<std::string>()));

  const nlohmann::json& shape_json = field("shape");
  DISPA_CHECK(shape_json.is_array(), "safetensors: '{}': tensor '{}' has a shape that is not an array", path,
              io::shorten(name));
  uint64_t numel = 1;
  for (const auto& d : shape_json) {
    DISPA_CHECK(d.is_number_unsigned(), "safetensors: '{}': tensor '{}' has shape {} with a non-integer or negative "
                                        "dimension", path, io::shorten(name), io::shorten(shape_json.dump()));
    const uint64_t dim = d.get<uint64_t>();
    // At most 2^59 elements, so numel * 8 bytes cannot wrap around.
    DISPA_CHECK(dim == 0 || numel <= (uint64_t(1) << 59) / dim, "safetensors: '{}': tensor '{}' shape {} is too large",
                path, io::shorten(name), io::shorten(shape_json.dump()));
    numel *= dim;
    entry.shape.push_back(static_cast<int64_t>(dim));
  }

  const nlohmann::json& offsets = field("data_offsets");
  DISPA_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                  offsets[1].is_number_unsigned(),
              "safetensors: '{}': tensor '{}' data_offsets must be two non-negative integers, got {}", path,
              io::shorten(name), io::shorten(offsets.dump()));
  const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
  DISPA_CHECK(begin <= end, "safetensors: '{}': tensor '{}' data_offsets [{}, {}] are reversed", path,
              io::shorten(name), begin, end);
  DISPA_CHECK(end <= data_size,
              "safetensors: '{}': tensor '{}' data_offsets [{}, {}] are out of range: the data section has {} bytes "
              "(truncated file?)", path, io::shorten(name), begin, end, data_size);
  const uint64_t want = numel * dtype_size(entry.dtype);
  DISPA_CHECK(end - begin == want,
              "safetensors: '{}': tensor '{}' is {}{} ({} bytes) but data_offsets [{}, {}] span {} bytes", path,
              io::shorten(name), safetensors_dtype(entry.dtype), shape_str(entry.shape), want, begin, end, end - begin);
  spans.push_back({begin, end, name});
  entry.data_begin = begin;
  entry.data_end = end;
  return entry;
}

// The 8-byte length and the JSON header, validated; `data_size` as in parse_entry.
SafetensorsHeader parse_header(std::string_view bytes, const std::string& path, uint64_t file_size) {
  DISPA_CHECK(file_size >= 8, "safetensors: '{}' is truncated: {} bytes, fewer than the 8-byte header length", path,
              file_size);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  DISPA_CHECK(header_len <= kMaxHeaderBytes, "safetensors: '{}': header length {} exceeds {} bytes (not a safetensors "
                                             "file?)", path, header_len, kMaxHeaderBytes);
  DISPA_CHECK(header_len <= file_size - 8, "safetensors: '{}' is truncated: header length {} but only {} bytes follow",
              path, header_len, file_size - 8);
  DISPA_CHECK(bytes.size() >= 8 + header_len, "safetensors: '{}': the header was not read whole", path);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, header_len));
  } catch (const nlohmann::json::exception& e) {
    fail("safetensors: '{}': bad JSON header: {}", path, io::shorten(e.what(), 300));
  }
  DISPA_CHECK(header.is_object(), "safetensors: '{}': the JSON header is not an object", path);

  SafetensorsHeader out;
  out.data_start = 8 + header_len;
  const uint64_t data_size = file_size - 8 - header_len;
  std::vector<Span> spans;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      DISPA_CHECK(info.is_object(), "safetensors: '{}': __metadata__ is not an object", path);
      for (const auto& [key, value] : info.items()) {
        DISPA_CHECK(value.is_string(), "safetensors: '{}': __metadata__ value of '{}' is not a string", path,
                    io::shorten(key));
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    out.entries[name] = parse_entry(path, name, info, data_size, spans);
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < spans.size(); ++i)
    DISPA_CHECK(spans[i].begin >= spans[i - 1].end,
                "safetensors: '{}': data of '{}' [{}, {}] overlaps '{}' [{}, {}]", path, io::shorten(spans[i].name),
                spans[i].begin, spans[i].end, io::shorten(spans[i - 1].name), spans[i - 1].begin, spans[i - 1].end);
  return out;
}

std::string read_bytes(const std::string& path, uint64_t max_bytes, uint64_t* file_size) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  DISPA_CHECK(in.is_open(), "safetensors: cannot open '{}' for reading: {}", path, std::strerror(errno));
  const std::streamoff size = in.tellg();
  DISPA_CHECK(size >= 0, "safetensors: cannot determine the size of '{}'", path);
  *file_size = static_cast<uint64_t>(size);
  const std::streamoff want = static_cast<std::streamoff>(std::min<uint64_t>(*file_size, max_bytes));
  std::string bytes(static_cast<size_t>(want), '\0');
  in.seekg(0);
  in.read(bytes.data(), want);
  DISPA_CHECK(in.gcount() == want, "safetensors: read {} of {} bytes from '{}'", in.gcount(), want, path);
  return bytes;
}

}  // namespace

SafetensorsHeader read_safetensors_header(const std::string& path) {
  uint64_t file_size = 0;
  std::string bytes = read_bytes(path, 8, &file_size);
  if (file_size >= 8) {  // then the header itself, once its length is known and checked
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), 8);
    if (header_len <= kMaxHeaderBytes && header_len <= file_size - 8) bytes = read_bytes(path, 8 + header_len, &file_size);
  }
  return parse_header(bytes, path, file_size);
}

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source) {
  const SafetensorsHeader header = parse_header(bytes, source, bytes.size());
  SafetensorsFile out;
  out.metadata = header.metadata;
  const char* data = bytes.data() + header.data_start;
  for (const auto& [name, e] : header.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu());
    if (e.data_end > e.data_begin) std::memcpy(t.raw_data(), data + e.data_begin, e.data_end - e.data_begin);
    out.tensors[name] = std::move(t);
  }
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  uint64_t file_size = 0;
  const std::string bytes = read_bytes(path, UINT64_MAX, &file_size);
  return parse_safetensors(bytes, path);
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
