// Writes the binary seeds of the transfer fuzz targets into fuzz/seeds/<target>/: gzip-compressed
// 10x folders (fuzz/tenx_split.h layout) and small .h5 / .h5ad files written with the reader
// tests' own HDF5 writer (tests/bio/hdf5_writer.h): the 4-cell reference matrix of
// tests/bio/count_readers_test.cpp in each layout the readers take, in both HDF5 file formats
// (1.8-compatible default, as h5py and Cell Ranger write, and the latest). Text seeds are written
// by hand. Run from the repository root: build-fuzz/fuzz/make_seeds fuzz/seeds
// (HDF5 files carry object times, so a rerun changes their bytes, not their content).

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "fuzz/tenx_split.h"
#include "tests/bio/hdf5_writer.h"
#include "tests/support/gzip.h"

namespace fs = std::filesystem;
using dispa::test::Hdf5Writer;

namespace {

const std::vector<std::string> kBarcodes = {"AAA", "CCC", "GGG", "TTT"};
const std::vector<std::string> kSymbols = {"TP53", "Sept9", "EGFR"};
const std::vector<std::string> kIds = {"ENSG1", "ENSG2", "ENSG3"};
// (feature, cell, value), sorted by cell then feature; cell 1 has no counts.
const std::vector<std::tuple<int, int, float>> kEntries = {{0, 0, 1}, {2, 0, 4}, {1, 2, 2}, {0, 3, 3}, {1, 3, 5}, {2, 3, 6}};

// Level 9, as the seeds were first written (the bytes of the committed seeds stay the same).
std::string gzip(const std::string& text) { return dispa::test::gzip_compress(text, 9); }

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

// CSC genes x cells (10x) == CSR cells x genes (AnnData): indptr over cells.
struct ByCell {
  std::vector<int64_t> indptr{0};
  std::vector<int32_t> indices;
  std::vector<float> data;
  ByCell() {
    for (int c = 0; c < 4; ++c) {
      for (auto [f, cell, v] : kEntries)
        if (cell == c) {
          indices.push_back(f);
          data.push_back(v);
        }
      indptr.push_back(int64_t(indices.size()));
    }
  }
};

void tenx_h5(const fs::path& p, bool latest, bool variable_strings) {
  Hdf5Writer w(p, latest);
  const ByCell m;
  w.group("matrix");
  w.group("matrix/features");
  w.strings("matrix/barcodes", kBarcodes, variable_strings);
  w.numbers("matrix/data", m.data);
  w.numbers("matrix/indices", m.indices);
  w.numbers("matrix/indptr", m.indptr);
  w.numbers<int64_t>("matrix/shape", {3, 4});
  w.strings("matrix/features/name", kSymbols, variable_strings);
  w.strings("matrix/features/id", kIds, variable_strings);
  w.strings("matrix/features/feature_type", {"Gene Expression", "Gene Expression", "Antibody Capture"},
            variable_strings);
}

void cellranger2_h5(const fs::path& p) {
  Hdf5Writer w(p);
  const ByCell m;
  w.group("GRCh38");
  w.strings("GRCh38/barcodes", kBarcodes, false);
  w.strings("GRCh38/genes", kIds, false);
  w.strings("GRCh38/gene_names", kSymbols, false);
  w.numbers("GRCh38/data", m.data);
  w.numbers("GRCh38/indices", m.indices);
  w.numbers("GRCh38/indptr", m.indptr);
  w.numbers<int64_t>("GRCh38/shape", {3, 4});
}

void frame(Hdf5Writer& w, const std::string& name, const std::vector<std::string>& index) {
  w.group(name);
  w.string_attribute(name, "encoding-type", "dataframe");
  w.string_attribute(name, "_index", "_index");
  w.strings(name + "/_index", index, true);
}

void sparse(Hdf5Writer& w, const std::string& m, bool csc, bool old_attributes) {
  w.group(m);
  if (old_attributes) {
    w.string_attribute(m, "h5sparse_format", csc ? "csc" : "csr");
    w.int_attribute(m, "h5sparse_shape", {4, 3});
  } else {
    w.string_attribute(m, "encoding-type", csc ? "csc_matrix" : "csr_matrix");
    w.int_attribute(m, "shape", {4, 3});
  }
  if (!csc) {
    const ByCell c;
    w.numbers(m + "/data", c.data);
    w.numbers(m + "/indices", c.indices);
    w.numbers(m + "/indptr", c.indptr);
    return;
  }
  std::vector<int64_t> indptr{0};
  std::vector<int32_t> indices;
  std::vector<double> data;
  for (int f = 0; f < 3; ++f) {
    for (auto [ff, c, v] : kEntries)
      if (ff == f) {
        indices.push_back(c);
        data.push_back(v);
      }
    indptr.push_back(int64_t(indices.size()));
  }
  w.numbers(m + "/data", data);
  w.numbers(m + "/indices", indices);
  w.numbers(m + "/indptr", indptr);
}

void h5ad_dense(const fs::path& p) {
  Hdf5Writer w(p);
  frame(w, "obs", kBarcodes);
  frame(w, "var", kSymbols);
  std::vector<float> x(12, 0.0f);
  for (auto [f, c, v] : kEntries) x[size_t(c * 3 + f)] = v;
  w.numbers("X", x, {4, 3});
}

void h5ad_csr(const fs::path& p, bool latest) {
  Hdf5Writer w(p, latest);
  frame(w, "obs", kBarcodes);
  frame(w, "var", kSymbols);
  sparse(w, "X", false, false);
}

// Ensembl var index, symbols in a categorical column (codes out of order), CSC X.
void h5ad_csc_categorical(const fs::path& p) {
  Hdf5Writer w(p);
  frame(w, "obs", kBarcodes);
  frame(w, "var", kIds);
  w.group("var/gene_symbols");
  w.strings("var/gene_symbols/categories", {"EGFR", "Sept9", "TP53"}, true);
  w.numbers<int32_t>("var/gene_symbols/codes", {2, 1, 0});
  sparse(w, "X", true, false);
}

// raw/X (old h5sparse attributes) with raw/var and its gene_symbols column; X a 1-gene dense.
void h5ad_raw(const fs::path& p) {
  Hdf5Writer w(p, true);
  frame(w, "obs", kBarcodes);
  frame(w, "var", {"only_one_gene"});
  w.numbers<float>("X", {9, 9, 9, 9}, {4, 1});
  w.group("raw");
  frame(w, "raw/var", kIds);
  w.strings("raw/var/gene_symbols", kSymbols, true);
  sparse(w, "raw/X", false, true);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds SEEDS_DIR (fuzz/seeds)\n");
    return 2;
  }
  const fs::path out = argv[1];
  std::string mtx = "%%MatrixMarket matrix coordinate integer general\n%metadata_json: {}\n3 4 6\n";
  for (auto [f, c, v] : kEntries) mtx += std::to_string(f + 1) + " " + std::to_string(c + 1) + " " + std::to_string(int(v)) + "\n";
  std::string features, barcodes;
  for (size_t i = 0; i < 3; ++i) features += kIds[i] + "\t" + kSymbols[i] + "\tGene Expression\n";
  for (const auto& b : kBarcodes) barcodes += b + "\n";
  write(out / "tenx_mtx/gzip_all.bin", dispa::fuzz::join_parts({gzip(mtx), gzip(features), gzip(barcodes)}));
  write(out / "tenx_mtx/gzip_matrix_only.bin", dispa::fuzz::join_parts({gzip(mtx), features, barcodes}));
  fs::create_directories(out / "tenx_h5");
  fs::create_directories(out / "h5ad");
  tenx_h5(out / "tenx_h5/cellranger3.h5", false, false);
  tenx_h5(out / "tenx_h5/cellranger3_latest_vlen.h5", true, true);
  cellranger2_h5(out / "tenx_h5/cellranger2.h5");
  h5ad_dense(out / "h5ad/dense.h5ad");
  h5ad_csr(out / "h5ad/csr_latest.h5ad", true);
  h5ad_csc_categorical(out / "h5ad/csc_categorical.h5ad");
  h5ad_raw(out / "h5ad/raw_h5sparse.h5ad");
  return 0;
}
