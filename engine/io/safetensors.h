// safetensors read/write (https://github.com/huggingface/safetensors): 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {str: str}}, then the raw little-endian data. Supported dtypes F32, F64, I32, I64. Writes are
// atomic (temporary file in the same folder, then rename), so a crash never leaves half a file.
#pragma once
#include <map>
#include <string>

#include "engine/tensor.h"

namespace dispa {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;          // CPU tensors
  std::map<std::string, std::string> metadata;    // "__metadata__"
};

// Throws dispa::Error naming the file and the problem (truncated, bad JSON, unknown dtype,
// offsets out of range or overlapping, shape/size mismatch).
SafetensorsFile load_safetensors(const std::string& path);
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace dispa
