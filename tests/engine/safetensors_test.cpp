// safetensors: exact round trip, the reference writer's header layout, atomic writes, errors that
// name the file, and the PyTorch-written fixtures in ../shared/fixtures/dispa_ref.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "engine/io/safetensors.h"
#include "tests/support/shared_data.h"

using namespace dispa;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("dispa_safetensors_test_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes a file with the given JSON header text (unpadded) and data bytes.
void write_raw(const std::string& path, const std::string& header, const std::string& data, int64_t len_override = -1) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = len_override >= 0 ? static_cast<uint64_t>(len_override) : header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
}

std::string zeros(size_t n) { return std::string(n, '\0'); }

// doctest::Contains takes doctest::String, which copies the text.
doctest::Contains contains(const std::string& text) { return doctest::Contains(text.c_str()); }

}  // namespace

TEST_CASE("safetensors: every dtype round trips exactly, with metadata") {
  TempDir dir;
  std::map<std::string, Tensor> tensors;
  tensors["b.weight"] = Tensor::from_vector(std::vector<float>{1.5f, -0.0f, 3.25e-30f, 1e30f, -7.f, 0.1f}, {2, 3});
  tensors["a.f64"] = Tensor::from_vector(std::vector<double>{3.141592653589793, -2.5e-300}, {2});
  tensors["idx32"] = Tensor::from_vector(std::vector<int32_t>{-1, 0, 2147483647}, {3, 1});
  tensors["idx64"] = Tensor::from_vector(std::vector<int64_t>{INT64_MIN, 42}, {1, 2});
  tensors["scalar"] = Tensor::scalar(3, DType::i64);  // shape [] as num_batches_tracked
  tensors["empty"] = Tensor::zeros({0, 4});
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"epoch", "12"}, {"note", "ünïcode ok"}};
  const std::string path = dir.file("model.safetensors");
  save_safetensors(path, tensors, meta);

  const SafetensorsFile loaded = load_safetensors(path);
  CHECK(loaded.metadata == meta);
  REQUIRE(loaded.tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    CAPTURE(name);
    const Tensor& got = loaded.tensors.at(name);
    CHECK(got.shape() == t.shape());
    CHECK(got.dtype() == t.dtype());
    CHECK(got.is_cpu());
    if (t.nbytes() > 0) CHECK(std::memcmp(got.raw_data(), t.raw_data(), t.nbytes()) == 0);
  }
  // No temporary files are left behind, and overwriting an existing file works.
  save_safetensors(path, {{"x", Tensor::ones({2})}});
  CHECK(load_safetensors(path).tensors.size() == 1);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);
}

TEST_CASE("safetensors: header layout follows the reference writer") {
  TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  save_safetensors(path,
                   {{"z", Tensor::zeros({3})},
                    {"a", Tensor::zeros({1}, DType::i32)},
                    {"m", Tensor::zeros({2}, DType::f64)},
                    {"k", Tensor::zeros({1}, DType::i64)}},
                   {{"format", "pt"}});
  const std::string bytes = read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);  // padded so the data section starts 8-aligned
  const std::string header = bytes.substr(8, n);
  CHECK(header.back() == ' ');
  CHECK(header.find_first_not_of(' ', header.find_last_not_of(' ') + 1) == std::string::npos);
  CHECK(header.rfind("{\"__metadata__\":{\"format\":\"pt\"}", 0) == 0);
  const auto json = nlohmann::ordered_json::parse(header);
  std::vector<std::string> order;
  for (const auto& [key, _] : json.items()) order.push_back(key);
  // 8-byte dtypes first, then 4-byte ones, each by name; data packed in the same order.
  CHECK(order == std::vector<std::string>{"__metadata__", "k", "m", "a", "z"});
  CHECK(json["k"]["dtype"] == "I64");
  CHECK(json["m"]["data_offsets"] == nlohmann::ordered_json::array({8, 24}));
  CHECK(json["a"]["data_offsets"] == nlohmann::ordered_json::array({24, 28}));
  CHECK(json["z"]["shape"] == nlohmann::ordered_json::array({3}));
  CHECK(bytes.size() == 8 + n + 40);
}

TEST_CASE("safetensors: damaged files give errors naming the file and the problem") {
  TempDir dir;
  const std::string f32_entry = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

  const std::string tiny = dir.file("tiny.safetensors");
  std::ofstream(tiny, std::ios::binary) << "abc";
  CHECK_THROWS_WITH_AS(load_safetensors(tiny), contains("'" + tiny + "' is truncated: 3 bytes"), Error);

  const std::string short_header = dir.file("short_header.safetensors");
  write_raw(short_header, f32_entry, "", 4000);
  CHECK_THROWS_WITH_AS(load_safetensors(short_header), contains("'" + short_header + "' is truncated"), Error);

  const std::string short_data = dir.file("short_data.safetensors");
  write_raw(short_data, f32_entry, zeros(5));
  CHECK_THROWS_WITH_AS(load_safetensors(short_data), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(load_safetensors(short_data), contains(short_data), Error);

  const std::string bad_json = dir.file("bad_json.safetensors");
  write_raw(bad_json, R"({"w":{"dtype":"F32",)", zeros(8));
  CHECK_THROWS_WITH_AS(load_safetensors(bad_json), contains("'" + bad_json + "': bad JSON header"), Error);

  const std::string not_object = dir.file("not_object.safetensors");
  write_raw(not_object, "[1, 2]", "");
  CHECK_THROWS_WITH_AS(load_safetensors(not_object), doctest::Contains("not an object"), Error);

  const std::string f16 = dir.file("f16.safetensors");
  write_raw(f16, R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", zeros(4));
  CHECK_THROWS_WITH_AS(load_safetensors(f16), doctest::Contains("tensor 'h' has unsupported dtype 'F16'"), Error);

  const std::string span = dir.file("span.safetensors");
  write_raw(span, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", zeros(12));
  CHECK_THROWS_WITH_AS(load_safetensors(span), doctest::Contains("tensor 'w' is F32[3] (12 bytes)"), Error);

  const std::string overlap = dir.file("overlap.safetensors");
  write_raw(overlap,
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]}})",
            zeros(12));
  CHECK_THROWS_WITH_AS(load_safetensors(overlap), doctest::Contains("overlaps"), Error);

  const std::string negative = dir.file("negative.safetensors");
  write_raw(negative, R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", zeros(4));
  CHECK_THROWS_WITH_AS(load_safetensors(negative), doctest::Contains("negative"), Error);

  const std::string no_offsets = dir.file("no_offsets.safetensors");
  write_raw(no_offsets, R"({"w":{"dtype":"F32","shape":[1]}})", zeros(4));
  CHECK_THROWS_WITH_AS(load_safetensors(no_offsets), doctest::Contains("has no \"data_offsets\""), Error);

  const std::string bad_meta = dir.file("bad_meta.safetensors");
  write_raw(bad_meta, R"({"__metadata__":{"epoch":3}})", "");
  CHECK_THROWS_WITH_AS(load_safetensors(bad_meta), doctest::Contains("__metadata__ value of 'epoch'"), Error);

  CHECK_THROWS_WITH_AS(load_safetensors(dir.file("absent.safetensors")), doctest::Contains("cannot open"), Error);

  // A valid minimal file with trailing header spaces still reads.
  const std::string ok = dir.file("ok.safetensors");
  write_raw(ok, std::string(R"({"w":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})") + "      ", "\x07\0\0\0"s);
  CHECK(load_safetensors(ok).tensors.at("w").item() == 7);
}

TEST_CASE("safetensors: a failed write leaves nothing behind and names the file") {
  TempDir dir;
  const std::string path = dir.file("missing_folder/model.safetensors");
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"w", Tensor::zeros({2})}}), contains(path), Error);
  CHECK(!fs::exists(path));
  CHECK_THROWS_WITH_AS(save_safetensors(dir.file("m.safetensors"), {{"__metadata__", Tensor::zeros({1})}}),
                       doctest::Contains("reserved"), Error);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 0);
}

TEST_CASE("safetensors: reads the PyTorch-written DiSPA fixtures") {
  for (const char* variant : {"differential", "vanilla"}) {
    CAPTURE(variant);
    const fs::path folder = test::shared_path_or_skip(std::string("fixtures/dispa_ref/") + variant);
    if (folder.empty()) return;
    std::ifstream config_file(folder / "config.json");
    const auto config = nlohmann::json::parse(config_file);
    const int64_t E = config["embed_dim"], h = config["ffn_hidden"], S = config["max_genes_per_pathway"];
    const int64_t P = config["pathways"], A = config["attn_dim"], H = config["heads"], Dd = config["drug_dim"];

    const SafetensorsFile w = load_safetensors((folder / "weights.safetensors").string());
    const auto& t = w.tensors;
    // Names and shapes from fixtures/dispa_ref/README.md.
    CHECK(t.at("gene_ffn.fc1.weight").shape() == Shape{h, S});
    CHECK(t.at("gene_ffn.fc2.weight").shape() == Shape{E, h});
    CHECK(t.at("gene_ffn.fc2.bias").shape() == Shape{E});
    CHECK(t.at("sub_ffn.fc1.weight").shape() == Shape{h, Dd});
    CHECK(t.at("slab_norm.weight").shape() == Shape{P, E});
    CHECK(t.at("path2sub.q_proj.weight").shape() == Shape{A, E});
    CHECK(t.at("drug2path.out_proj.weight").shape() == Shape{E, A});
    CHECK(t.count("path2sub.q_proj.bias") == 0);
    if (std::string(variant) == "differential") {
      CHECK(t.at("path2sub.lambda_q1").shape() == Shape{A / (2 * H)});
      CHECK(t.at("path2sub.subln.weight").shape() == Shape{A / H});  // 2 * hd
    } else {
      CHECK(t.count("path2sub.lambda_q1") == 0);
      CHECK(t.at("path2sub.subln.weight").shape() == Shape{A / H});
    }
    const int64_t head0 = config["head_dims"][0];
    CHECK(t.at("head.blocks.0.linear.weight").shape() == Shape{head0, 3 * E});
    const Tensor& tracked = t.at("head.blocks.0.bn.num_batches_tracked");
    CHECK(tracked.dtype() == DType::i64);
    CHECK(tracked.shape() == Shape{});
    CHECK(tracked.item() == 3);  // three training-mode passes before saving
    const std::vector<double> running_var = t.at("head.blocks.0.bn.running_var").to_f64_vector();
    bool nontrivial = false;
    for (double v : running_var) nontrivial |= (v != 1.0);
    CHECK(nontrivial);
    for (const auto& [name, tensor] : t)
      if (tensor.dtype() == DType::f32)
        for (double v : tensor.to_f64_vector()) REQUIRE_MESSAGE(std::isfinite(v), name);

    const SafetensorsFile inputs = load_safetensors((folder / "inputs.safetensors").string());
    CHECK(inputs.tensors.at("pathway_gene_indices").dtype() == DType::i64);
    CHECK(inputs.tensors.at("pathway_gene_indices").shape() == Shape{P, S});

    // Re-saving and reading back gives the same bytes for every tensor.
    TempDir dir;
    save_safetensors(dir.file("copy.safetensors"), w.tensors, w.metadata);
    const SafetensorsFile again = load_safetensors(dir.file("copy.safetensors"));
    REQUIRE(again.tensors.size() == t.size());
    for (const auto& [name, tensor] : t) {
      const Tensor& other = again.tensors.at(name);
      CHECK_MESSAGE(other.shape() == tensor.shape(), name);
      CHECK_MESSAGE(std::memcmp(other.raw_data(), tensor.raw_data(), tensor.nbytes()) == 0, name);
    }
  }
}
