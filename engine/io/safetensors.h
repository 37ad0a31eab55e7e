// safetensors read/write (https://github.com/huggingface/safetensors): 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {str: str}}, then the raw little-endian data. Supported dtypes F32, F64, I32, I64. Writes are
// atomic (temporary file in the same folder, then rename), so a crash never leaves half a file.
#pragma once
#include <map>
#include <string>
#include <string_view>

#include "engine/tensor.h"

namespace dispa {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;          // CPU tensors
  std::map<std::string, std::string> metadata;    // "__metadata__"
};

// One tensor as the header describes it; data_begin/end are offsets into the data section.
struct SafetensorsEntry {
  DType dtype = DType::f32;
  Shape shape;
  uint64_t data_begin = 0, data_end = 0;
};
struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // file offset of the data section (8 + header length)
};

// Throws dispa::Error naming the file and the problem (truncated, bad JSON, unknown dtype,
// offsets out of range or overlapping, shape/size mismatch).
SafetensorsFile load_safetensors(const std::string& path);
// The same over bytes in memory; `source` names them in errors.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source);
// Only the header (8 + N bytes are read, whatever the file size), validated as load_safetensors
// does against the file's size: names, dtypes and shapes before any tensor memory is allocated.
SafetensorsHeader read_safetensors_header(const std::string& path);
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace dispa
