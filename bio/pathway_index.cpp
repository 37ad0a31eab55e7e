// Gene-set selection and the [P, S] pathway index tensor (rules in pathway_index.h).
#include "bio/pathway_index.h"

#include <algorithm>
#include <unordered_map>

#include "engine/error.h"
#include "engine/log.h"

namespace dispa::bio {
namespace {

// Expression columns of each set's genes (GMT order), and its coverage row.
struct Selection {
  std::vector<GeneSetCoverage> coverage;
  std::vector<std::vector<int32_t>> columns;  // per input set, all genes found (before the cap)
};

Selection select(const std::vector<GeneSet>& sets, const std::vector<std::string>& genes,
                 const PathwayIndexOptions& options) {
  DISPA_CHECK(options.min_size >= 1, "pathway index: min size must be >= 1, got {}", options.min_size);
  DISPA_CHECK(options.max_size == 0 || options.max_size >= options.min_size,
              "pathway index: max size {} is below min size {}", options.max_size, options.min_size);
  DISPA_CHECK(genes.size() < size_t(INT32_MAX), "pathway index: {} genes do not fit i32 indices", genes.size());
  std::unordered_map<std::string, int32_t> column_of;
  column_of.reserve(genes.size());
  for (size_t j = 0; j < genes.size(); ++j) column_of.emplace(genes[j], int32_t(j));

  Selection s;
  s.coverage.reserve(sets.size());
  s.columns.reserve(sets.size());
  for (const GeneSet& set : sets) {
    std::vector<int32_t> cols;
    for (const std::string& g : set.genes)
      if (auto it = column_of.find(g); it != column_of.end()) cols.push_back(it->second);
    GeneSetCoverage c;
    c.id = set.id;
    c.description = set.description;
    c.n_genes_gmt = int64_t(set.genes.size());
    c.n_genes_in_expression = int64_t(cols.size());
    const int64_t k = c.n_genes_in_expression;
    if (k < options.min_size) {
      c.reason = k == 0 ? "no gene in the expression matrix"
                        : fmt::format("{} gene{} in the expression matrix < min size {}", k, k == 1 ? "" : "s",
                                      options.min_size);
    } else if (options.max_size > 0 && k > options.max_size) {
      if (options.oversized == OversizedSets::drop) {
        c.reason = fmt::format("{} genes in the expression matrix > max size {}", k, options.max_size);
      } else {
        c.kept = true;
        c.n_genes_used = options.max_size;
        c.reason = fmt::format("truncated from {} to the first {} genes", k, options.max_size);
      }
    } else {
      c.kept = true;
      c.n_genes_used = k;
    }
    s.coverage.push_back(std::move(c));
    s.columns.push_back(std::move(cols));
  }
  return s;
}

}  // namespace

OversizedSets parse_oversized_sets(std::string_view text) {
  if (text == "drop") return OversizedSets::drop;
  if (text == "truncate") return OversizedSets::truncate;
  fail("unknown rule for oversized gene sets '{}' (expected drop or truncate)", text);
}

std::vector<GeneSetCoverage> compute_coverage(const std::vector<GeneSet>& sets,
                                              const std::vector<std::string>& expression_genes,
                                              const PathwayIndexOptions& options) {
  return select(sets, expression_genes, options).coverage;
}

std::string describe_selection(const std::vector<GeneSetCoverage>& coverage, const PathwayIndexOptions& options) {
  constexpr int kListed = 8;  // sets named per list; the coverage table has them all
  int64_t kept = 0, n_dropped = 0, n_truncated = 0;
  std::string dropped, truncated;
  for (const GeneSetCoverage& c : coverage) {
    if (c.kept) ++kept;
    if (c.reason.empty()) continue;
    int64_t& count = c.kept ? n_truncated : n_dropped;
    std::string& list = c.kept ? truncated : dropped;
    if (count++ < kListed) list += fmt::format("{}{} ({})", list.empty() ? "" : ", ", c.id, c.reason);
  }
  auto more = [](int64_t count) {
    return count > kListed ? fmt::format(", and {} more (see `dispa pathways coverage`)", count - kListed) : "";
  };
  std::string out = fmt::format("kept {} of {} gene sets (min {} genes{})", kept, coverage.size(), options.min_size,
                                options.max_size > 0 ? fmt::format(", max {}", options.max_size) : "");
  if (n_dropped > 0) out += fmt::format("; dropped {}: {}{}", n_dropped, dropped, more(n_dropped));
  if (n_truncated > 0) out += fmt::format("; truncated {}: {}{}", n_truncated, truncated, more(n_truncated));
  return out;
}

PathwayIndex build_pathway_index(const std::vector<GeneSet>& sets, const std::vector<std::string>& expression_genes,
                                 const PathwayIndexOptions& options) {
  Selection s = select(sets, expression_genes, options);
  PathwayIndex out;
  out.n_expression_genes = int64_t(expression_genes.size());
  int64_t largest = 0, width = 0;
  std::vector<char> covered(expression_genes.size(), 0);
  for (size_t i = 0; i < sets.size(); ++i) {
    const GeneSetCoverage& c = s.coverage[i];
    largest = std::max(largest, c.n_genes_in_expression);
    if (!c.kept) continue;
    std::vector<int32_t> cols = std::move(s.columns[i]);
    cols.resize(size_t(c.n_genes_used));
    for (int32_t col : cols) covered[size_t(col)] = 1;
    width = std::max(width, int64_t(cols.size()));
    out.ids.push_back(c.id);
    out.descriptions.push_back(c.description);
    out.members.push_back(std::move(cols));
  }
  out.coverage = std::move(s.coverage);
  DISPA_CHECK(!out.ids.empty(),
              "pathway index: no gene set has at least {} genes in the expression matrix ({} sets, {} genes; the "
              "largest intersection has {} genes)",
              options.min_size, sets.size(), expression_genes.size(), largest);
  out.n_covered_genes = std::count(covered.begin(), covered.end(), char(1));

  const int64_t p = out.n_pathways();
  std::vector<int32_t> flat(size_t(p * width), -1);
  for (int64_t r = 0; r < p; ++r) std::copy(out.members[r].begin(), out.members[r].end(), flat.begin() + r * width);
  out.index = Tensor::from_vector(flat, {p, width});  // [P, S]
  logging::info("{}; P = {}, S = {}, {} of {} expression genes in at least one kept set",
            describe_selection(out.coverage, options), p, width, out.n_covered_genes, out.n_expression_genes);
  return out;
}

}  // namespace dispa::bio
