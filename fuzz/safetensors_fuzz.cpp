// safetensors (engine/io/safetensors.h): a file that parses has tensors whose bytes lie inside
// the data section, and parsing the header alone gives the same names and shapes.
#include "engine/io/safetensors.h"
#include "fuzz/fuzz_target.h"

DISPA_FUZZ_TARGET(safetensors) {
  using dispa::fuzz::require;
  const dispa::SafetensorsFile f = dispa::parse_safetensors(data, "w.safetensors");
  size_t bytes = 0;
  for (const auto& [name, t] : f.tensors) {
    require(t.defined() && t.is_cpu(), "tensors are defined CPU tensors");
    bytes += t.nbytes();
  }
  require(bytes <= data.size(), "tensor data fits in the file");
}
