// ssGSEA, GSVA and combined z-scores as GSVA 1.46 computes them (see gsva.h and
// ../shared/fixtures/gsva/README.md for the rules). The R code walks every gene for every set; here
// each walk is evaluated in closed form from the set's k positions, and GSVA's O(G N^2) kernel
// step visits each pair of samples once, in sorted order, with a vectorised table lookup.
// Compiled with -ffp-contract=off (bio/CMakeLists.txt): the kernel-CDF table index must be
// truncated from the same IEEE operations as R's C code. The pair loop has an AVX2 version compiled
// for AVX2 whatever the build's baseline, used where cpu_level() allows (engine/cpu_features.h).
#include "bio/gsva.h"

#include <omp.h>
#if DISPA_CPU_KERNELS_X86
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>

#include "engine/cpu_features.h"
#include "engine/error.h"
#include "engine/log.h"

namespace dispa::bio {
namespace {

// R's kernel CDF table (GSVA src/kernel_estimation.c): T[k] = pnorm(10 k / 10000), k = 0..10000.
constexpr int kCdfResolution = 10000;
constexpr double kCdfMax = 10.0;
// The fast path computes the table index as |d| * (1000 / bw) instead of (|d| / bw) / 10 * 10000;
// the two differ by < 1e-11 for indices <= 10000, so they truncate alike unless the value lies
// within kIndexSlack of an integer m >= 1, where the exact R expression is evaluated instead
// (near 0 both give index 0: tied values, d = 0, are common and need no second look).
constexpr double kIndexSlack = 1e-9;
constexpr double kConstantSd = 1e-10;  // R's .filterFeatures threshold
// Work (inner-loop steps) above which a progress line is shown.
constexpr double kProgressMinWork = 2e9;

const std::array<double, kCdfResolution + 1>& cdf_table() {
  static const std::array<double, kCdfResolution + 1> table = [] {
    std::array<double, kCdfResolution + 1> t{};
    const double divisor = kCdfResolution * 1.0;
    for (int i = 0; i <= kCdfResolution; ++i) {
      const double x = kCdfMax * double(i) / divisor;
      t[size_t(i)] = 1.0 - 0.5 * std::erfc(x / std::sqrt(2.0));  // pnorm(x), x >= 0
    }
    return t;
  }();
  return table;
}

// Smallest k with T[k..10000] all exactly 1.0 (about 8300: pnorm rounds to 1 beyond 8.3). Pairs
// whose index is surely >= this contribute exactly 1 (and 0 to the mirrored pair), as do pairs
// beyond 10 bandwidths, which R returns as 1 without the table.
int table_ones_from() {
  static const int k = [] {
    const auto& t = cdf_table();
    int first = kCdfResolution + 1;
    while (first > 0 && t[size_t(first - 1)] == 1.0) --first;
    return first;
  }();
  return k;
}

// Progress for an OpenMP loop: any thread ticks, only thread 0 draws.
class LoopProgress {
 public:
  LoopProgress(const char* label, int64_t total, double work)
      : progress_(work >= kProgressMinWork ? std::make_unique<logging::Progress>(label, total) : nullptr) {}
  void tick() {
    if (!progress_) return;
    const int64_t done = ++done_;
    if (omp_get_thread_num() == 0) progress_->update(done);
  }
  void finish() {
    if (progress_) progress_->finish();
  }

 private:
  std::unique_ptr<logging::Progress> progress_;
  std::atomic<int64_t> done_{0};
};

// (value, column) pairs sorted by value, ties by column: one sort gives R's ascending ranks and,
// read backwards one tie group at a time, R's stable decreasing order (order(decreasing = TRUE)
// keeps tied genes in row order).
struct Keyed {
  double value;
  int32_t index;
};

// LSD radix sort of the IEEE bits (sign-flipped so that unsigned order is numeric order), one byte
// per pass, skipping bytes equal in every key. Each pass is stable, so equal values keep their
// column order: the (value, column) order in a few microseconds for ~700 genes, several times
// faster than a comparison sort (ranking is half of ssGSEA's time).
void sort_keyed(const double* v, int64_t n, std::vector<Keyed>& out) {
  thread_local std::vector<uint64_t> key, key_next;
  thread_local std::vector<int32_t> idx, idx_next;
  key.resize(size_t(n)), key_next.resize(size_t(n)), idx.resize(size_t(n)), idx_next.resize(size_t(n));
  uint32_t count[8][256] = {};
  for (int64_t i = 0; i < n; ++i) {
    const double x = v[i] == 0 ? 0.0 : v[i];  // -0 and +0 are one value (a tie), as in R
    uint64_t u;
    std::memcpy(&u, &x, sizeof u);
    u = (u >> 63) ? ~u : (u | (uint64_t(1) << 63));
    key[size_t(i)] = u;
    idx[size_t(i)] = int32_t(i);
    for (int b = 0; b < 8; ++b) ++count[b][(u >> (8 * b)) & 255];
  }
  for (int b = 0; b < 8 && n > 0; ++b) {
    if (count[b][(key[0] >> (8 * b)) & 255] == uint32_t(n)) continue;  // same byte everywhere
    uint32_t offset[256], sum = 0;
    for (int d = 0; d < 256; ++d) offset[d] = sum, sum += count[b][d];
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t to = offset[(key[size_t(i)] >> (8 * b)) & 255]++;
      key_next[to] = key[size_t(i)];
      idx_next[to] = idx[size_t(i)];
    }
    key.swap(key_next);
    idx.swap(idx_next);
  }
  out.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = {v[idx[size_t(i)]], idx[size_t(i)]};
}

// x as [N, G] f64 (a copy), after checking it is a 2-D float CPU tensor of finite values.
std::vector<double> as_f64_matrix(const Tensor& x, const char* op) {
  DISPA_CHECK(x.defined() && x.ndim() == 2 && is_floating(x.dtype()) && x.is_cpu(),
              "{}: x must be a [samples, genes] f32/f64 CPU tensor, got {}", op,
              x.defined() ? x.describe() : "undefined");
  DISPA_CHECK(x.dim(0) >= 1 && x.dim(1) >= 1, "{}: x is empty ({})", op, x.describe());
  std::vector<double> v = x.to_f64_vector();
  const int64_t g = x.dim(1);
  for (size_t i = 0; i < v.size(); ++i)
    DISPA_CHECK(std::isfinite(v[i]), "{}: x[{}, {}] is {} (impute or drop missing values first)", op,
                int64_t(i) / g, int64_t(i) % g, v[i]);
  return v;
}

// Every set: non-empty, columns in [0, G), none repeated, and (when `need_outside`) not all genes.
void check_sets(const GeneSetColumns& sets, int64_t g, const char* op, bool need_outside) {
  DISPA_CHECK(!sets.empty(), "{}: no gene sets to score", op);
  std::vector<int32_t> seen(size_t(g), -1);
  for (size_t s = 0; s < sets.size(); ++s) {
    DISPA_CHECK(!sets[s].empty(), "{}: gene set {} is empty", op, s);
    DISPA_CHECK(!need_outside || int64_t(sets[s].size()) < g,
                "{}: gene set {} holds all {} genes; the walk needs at least one gene outside the set", op, s, g);
    for (int32_t c : sets[s]) {
      DISPA_CHECK(c >= 0 && c < g, "{}: gene set {} has column {}, out of range for {} genes", op, s, c, g);
      DISPA_CHECK(seen[size_t(c)] != int32_t(s), "{}: gene set {} lists column {} twice", op, s, c);
      seen[size_t(c)] = int32_t(s);
    }
  }
}

Tensor to_output(std::vector<double> scores, int64_t n, int64_t p, DType dtype) {
  DISPA_CHECK(dtype == DType::f32 || dtype == DType::f64, "pathway scores: dtype must be f32 or f64, got {}", dtype);
  Tensor out = Tensor::from_vector(scores, {n, p});
  return dtype == DType::f64 ? out : out.to(dtype);
}

// [R, C] row-major -> [C, R] row-major.
std::vector<double> transpose(const double* x, int64_t rows, int64_t cols) {
  std::vector<double> out(size_t(rows * cols));
  constexpr int64_t kBlock = 32;  // tiles keep both sides in cache
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock)
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock)
      for (int64_t r = r0; r < std::min(rows, r0 + kBlock); ++r)
        for (int64_t c = c0; c < std::min(cols, c0 + kBlock); ++c) out[size_t(c * rows + r)] = x[r * cols + c];
  return out;
}

// R's sd() of every gene (row of the [G, N] gene-major xt); throws on one below R's threshold.
std::vector<double> gene_sds(const std::vector<double>& xt, int64_t n, int64_t g, const char* op) {
  std::vector<double> sd(static_cast<size_t>(g));
  for (int64_t j = 0; j < g; ++j) {
    sd[size_t(j)] = gsva_sample_sd(xt.data() + j * n, n);
    DISPA_CHECK(sd[size_t(j)] >= kConstantSd, "{}: gene column {} is constant over the {} samples (sd {}); drop it first",
                op, j, n, sd[size_t(j)]);
  }
  return sd;
}

#if DISPA_CPU_KERNELS_X86
// gene_density's pair loop with AVX2, for pairs i, i+1, ... of sample j while 4 remain: 4 pairs per
// lane group, the table read a gather (GCC does not vectorise the scalar loop). Two groups per
// iteration with separate sums: one running sum would serialise on the gather's latency (about 20%
// slower). Adds to fj and near_boundary exactly what the scalar loop would (up to the order of
// the additions); returns the first pair left for it.
#define DISPA_TARGET_AVX2 __attribute__((target("avx2")))
DISPA_TARGET_AVX2 inline void four_pairs_avx2(const double* s, const double* t, double* f, int64_t at, __m256d v_sj,
                                              __m256d v_scale, __m256d& sum, __m256d& v_near) {
  const __m256d v_one = _mm256_set1_pd(1.0);
  const __m256d v_lo = _mm256_set1_pd(kIndexSlack), v_hi = _mm256_set1_pd(1.0 - kIndexSlack);
  const __m256d v_all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));  // gather every lane
  const __m256d a = _mm256_mul_pd(_mm256_sub_pd(v_sj, _mm256_loadu_pd(s + at)), v_scale);
  const __m128i k = _mm256_cvttpd_epi32(a);
  const __m256d frac = _mm256_sub_pd(a, _mm256_cvtepi32_pd(k));
  const __m256d c = _mm256_mask_i32gather_pd(_mm256_setzero_pd(), t, k, v_all, 8);
  sum = _mm256_add_pd(sum, c);
  _mm256_storeu_pd(f + at, _mm256_add_pd(_mm256_loadu_pd(f + at), _mm256_sub_pd(v_one, c)));
  const __m256d just_above = _mm256_and_pd(_mm256_cmp_pd(frac, v_lo, _CMP_LT_OQ), _mm256_cmp_pd(a, v_one, _CMP_GE_OQ));
  v_near = _mm256_or_pd(v_near, _mm256_or_pd(just_above, _mm256_cmp_pd(frac, v_hi, _CMP_GT_OQ)));
}

DISPA_TARGET_AVX2 int64_t gene_density_pairs_avx2(const double* s, const double* t, double* f, double sj, double scale,
                                                  int64_t i, int64_t j, double& fj, bool& near_boundary) {
  const __m256d v_sj = _mm256_set1_pd(sj), v_scale = _mm256_set1_pd(scale);
  __m256d v_fj0 = _mm256_setzero_pd(), v_fj1 = _mm256_setzero_pd(), v_near = _mm256_setzero_pd();
  for (; i + 8 <= j; i += 8) {
    four_pairs_avx2(s, t, f, i, v_sj, v_scale, v_fj0, v_near);
    four_pairs_avx2(s, t, f, i + 4, v_sj, v_scale, v_fj1, v_near);
  }
  if (i + 4 <= j) {
    four_pairs_avx2(s, t, f, i, v_sj, v_scale, v_fj0, v_near);
    i += 4;
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(v_fj0, v_fj1));
  fj += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  near_boundary = near_boundary || _mm256_movemask_pd(v_near) != 0;
  return i;
}
#undef DISPA_TARGET_AVX2
#endif

// Kernel CDFs of one gene: column[i] for the N samples (R's sd given) -> logit values out[i].
// Pairs are visited once (i < j in sorted order): Phi(v) for one, 1 - Phi(v) for the other, which
// is exactly R's value for the mirrored difference. Pairs beyond 10 bandwidths contribute 1 / 0.
void gene_density(const double* column, int64_t n, double sd, double* out, std::vector<Keyed>& order,
                  std::vector<double>& sorted, std::vector<double>& cdf_sum, bool use_avx2) {
  const auto& table = cdf_table();
  const double bw = sd / 4.0;  // SIGMA_FACTOR in R
  sort_keyed(column, n, order);
  sorted.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) sorted[size_t(i)] = order[size_t(i)].value;
  cdf_sum.assign(size_t(n), 0.0);
  const double scale = (kCdfResolution / kCdfMax) / bw;  // table index per unit difference
  const double far = table_ones_from() + 1e-6;           // surely an index whose table value is 1
  const double* s = sorted.data();
  double* f = cdf_sum.data();
  const double* t = table.data();
  int64_t first_near = 0;  // pairs (i < first_near, j) contribute exactly 1 to F_j, 0 to F_i
  for (int64_t j = 0; j < n; ++j) {
    const double sj = s[j];
    while (first_near < j && (sj - s[first_near]) * scale >= far) ++first_near;
    double fj = 0.5 + double(first_near);  // the i = j term is Phi(0) = 0.5
    bool near_boundary = false;
    int64_t i = first_near;
#if DISPA_CPU_KERNELS_X86
    if (use_avx2) i = gene_density_pairs_avx2(s, t, f, sj, scale, i, j, fj, near_boundary);
#endif
    for (; i < j; ++i) {
      const double a = (sj - s[i]) * scale;
      const int k = static_cast<int>(a);
      const double frac = a - double(k);
      const double c = t[k];
      fj += c;
      f[i] += 1.0 - c;
      near_boundary |= (frac < kIndexSlack && k != 0) | (frac > 1.0 - kIndexSlack);
    }
    if (near_boundary) {  // rare: redo the pairs whose index may truncate differently, exactly
      for (int64_t i = first_near; i < j; ++i) {
        const double a = (sj - s[i]) * scale;
        const int k = static_cast<int>(a);
        const double exact = gsva_kernel_cdf(sj - s[i], bw);
        const double delta = exact - t[k];
        fj += delta;
        f[i] -= delta;
      }
    }
    f[j] += fj;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double left_tail = f[i] / double(n);
    out[order[size_t(i)].index] = -1.0 * std::log((1.0 - left_tail) / left_tail);
  }
}

// pos[column] = 0-based position in the stable decreasing order.
void decreasing_positions(const std::vector<Keyed>& sorted, std::vector<int32_t>& pos) {
  const int64_t n = int64_t(sorted.size());
  pos.resize(size_t(n));
  int32_t p = 0;
  for (int64_t end = n; end > 0;) {
    int64_t begin = end - 1;
    while (begin > 0 && sorted[size_t(begin - 1)].value == sorted[size_t(end - 1)].value) --begin;
    for (int64_t k = begin; k < end; ++k) pos[size_t(sorted[size_t(k)].index)] = p++;
    end = begin;
  }
}

// R's ranks (ascending, ties averaged then truncated) from the sorted pairs.
void truncated_ranks(const std::vector<Keyed>& sorted, std::vector<int32_t>& rank) {
  const int64_t n = int64_t(sorted.size());
  rank.resize(size_t(n));
  for (int64_t a = 0; a < n;) {
    int64_t b = a + 1;
    while (b < n && sorted[size_t(b)].value == sorted[size_t(a)].value) ++b;
    // positions a+1..b share the average (a + 1 + b) / 2, truncated by R's mode(R) <- "integer"
    const int32_t r = static_cast<int32_t>((a + 1 + b) / 2);
    for (int64_t i = a; i < b; ++i) rank[size_t(sorted[size_t(i)].index)] = r;
    a = b;
  }
}

// The GSVA walk of one set in closed form. Genes in decreasing-density order; an in-set gene at
// 1-based position q adds w / W, every other gene subtracts 1 / (n - k). Between two in-set genes
// the walk only falls, so its maximum is reached just after an in-set step and its minimum just
// before one (or at 0, where it starts and, up to rounding, ends).
double gsva_walk(const std::vector<int32_t>& set, const std::vector<int32_t>& pos, const double* rank_score,
                 int64_t n, const GsvaOptions& o, std::vector<std::pair<int32_t, double>>& steps) {
  steps.clear();
  double total = 0;
  for (int32_t g : set) {
    const double w = o.tau == 1.0 ? rank_score[g] : std::pow(rank_score[g], o.tau);
    steps.emplace_back(pos[size_t(g)] + 1, w);
    total += w;
  }
  std::sort(steps.begin(), steps.end());
  const double k = double(set.size()), out_step = 1.0 / (double(n) - k);
  double cum = 0, mx_pos = 0, mx_neg = 0;
  for (size_t m = 0; m < steps.size(); ++m) {
    const double out_before = double(steps[m].first - 1) - double(m);  // out-of-set genes before it
    mx_neg = std::min(mx_neg, cum / total - out_before * out_step);
    cum += steps[m].second;
    mx_pos = std::max(mx_pos, cum / total - out_before * out_step);
  }
  if (!o.mx_diff) return mx_pos > std::fabs(mx_neg) ? mx_pos : mx_neg;
  return o.abs_ranking ? mx_pos - mx_neg : mx_pos + mx_neg;
}

}  // namespace

// ---- building blocks ----------------------------------------------------------------------------

double gsva_kernel_cdf(double diff, double bw) {
  const double v = diff / bw;
  if (v < -kCdfMax) return 0;
  if (v > kCdfMax) return 1;
  const double c = cdf_table()[size_t(static_cast<int>(std::fabs(v) / kCdfMax * kCdfResolution))];
  return v < 0 ? 1.0 - c : c;
}

double gsva_sample_sd(const double* x, int64_t n) {
  long double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  long double tmp = sum / n;
  if (std::isfinite(double(tmp))) {  // second pass corrects the mean, as R's cov.c does
    sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += x[i] - tmp;
    tmp = tmp + sum / n;
  }
  const double mean = double(tmp);
  sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] - mean) * (x[i] - mean);
  return std::sqrt(double(sum / static_cast<long double>(n - 1)));
}

std::vector<int32_t> ssgsea_ranks(const double* values, int64_t n) {
  std::vector<Keyed> sorted;
  sort_keyed(values, n, sorted);
  std::vector<int32_t> rank;
  truncated_ranks(sorted, rank);
  return rank;
}

namespace {

// The density step on a checked [N, G] f64 matrix; returns [N, G] logit values.
std::vector<double> gene_densities(const std::vector<double>& v, int64_t n, int64_t g) {
  DISPA_CHECK(n >= 2, "gsva: the kernel density needs at least 2 samples, got {}", n);
  const std::vector<double> xt = transpose(v.data(), n, g);  // [G, N]: one gene per row
  const std::vector<double> sd = gene_sds(xt, n, g, "gsva");
  std::vector<double> density_t(size_t(n * g));  // [G, N]
  LoopProgress progress("gsva: gene densities", g, double(n) * double(n) * double(g) / 2);
  const bool use_avx2 = cpu_level() >= CpuLevel::avx2;  // decided here: cpu_level() may throw
#pragma omp parallel
  {
    std::vector<Keyed> order;
    std::vector<double> sorted, cdf_sum;
#pragma omp for schedule(dynamic, 4)
    for (int64_t j = 0; j < g; ++j) {
      gene_density(xt.data() + j * n, n, sd[size_t(j)], density_t.data() + j * n, order, sorted, cdf_sum,
                   use_avx2);
      progress.tick();
    }
  }
  progress.finish();
  return transpose(density_t.data(), g, n);
}

}  // namespace

Tensor gsva_gene_density(const Tensor& x) {
  const std::vector<double> v = as_f64_matrix(x, "gsva");
  return Tensor::from_vector(gene_densities(v, x.dim(0), x.dim(1)), {x.dim(0), x.dim(1)});
}

// ---- the three methods --------------------------------------------------------------------------

Tensor ssgsea(const Tensor& x, const GeneSetColumns& sets, const SsgseaOptions& options) {
  const std::vector<double> v = as_f64_matrix(x, "ssgsea");
  const int64_t n = x.dim(0), g = x.dim(1), p = int64_t(sets.size());
  check_sets(sets, g, "ssgsea", true);
  std::vector<double> scores(size_t(n * p));
  const double half_sum = double(g) * double(g + 1) / 2.0;  // sum of n - q + 1 over all positions
  std::vector<double> weight_of_rank(static_cast<size_t>(g) + 1);  // ranks are integers: pow once per rank
  for (int64_t r = 1; r <= g; ++r) weight_of_rank[size_t(r)] = std::pow(double(r), options.tau);
  LoopProgress progress("ssgsea: samples", n, double(n) * double(g) * 20);
#pragma omp parallel
  {
    std::vector<Keyed> sorted;
    std::vector<int32_t> rank, pos;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      sort_keyed(v.data() + i * g, g, sorted);
      truncated_ranks(sorted, rank);
      // Decreasing order of the integer ranks = decreasing order of the values (tie groups get
      // distinct truncated ranks), ties in gene order.
      decreasing_positions(sorted, pos);
      for (int64_t s = 0; s < p; ++s) {
        // ES = sum w (n - q + 1) / sum w - (n(n+1)/2 - sum (n - q + 1)) / (n - k), q 1-based
        double w_sum = 0, w_top = 0, top = 0;
        for (int32_t gene : sets[size_t(s)]) {
          const double from_bottom = double(g - pos[size_t(gene)]);  // n - q + 1
          const double w = weight_of_rank[size_t(rank[size_t(gene)])];
          w_sum += w;
          w_top += w * from_bottom;
          top += from_bottom;
        }
        const double k = double(sets[size_t(s)].size());
        scores[size_t(i * p + s)] = w_top / w_sum - (half_sum - top) / (double(g) - k);
      }
      progress.tick();
    }
  }
  progress.finish();
  if (options.normalize) {
    const auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
    const double range = *hi - *lo;
    DISPA_CHECK(range > 0, "ssgsea: all {} scores are equal ({}), so they cannot be divided by their range; "
                "use the raw scores", scores.size(), *lo);
    for (double& s : scores) s /= range;
  }
  return to_output(std::move(scores), n, p, options.dtype);
}

Tensor gsva(const Tensor& x, const GeneSetColumns& sets, const GsvaOptions& options) {
  const std::vector<double> v = as_f64_matrix(x, "gsva");
  const int64_t n = x.dim(0), g = x.dim(1), p = int64_t(sets.size());
  check_sets(sets, g, "gsva", true);
  const std::vector<double> density = gene_densities(v, n, g);  // [N, G]
  const double* d = density.data();
  std::vector<double> scores(size_t(n * p));
  LoopProgress progress("gsva: samples", n, double(n) * double(g) * 20);
#pragma omp parallel
  {
    std::vector<Keyed> sorted;
    std::vector<int32_t> pos;
    std::vector<double> rank_score(static_cast<size_t>(g));
    std::vector<std::pair<int32_t, double>> steps;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      sort_keyed(d + i * g, g, sorted);
      decreasing_positions(sorted, pos);
      // R: abs(seq(from = n, to = 1) - n/2): both ends of the ranking weigh most
      for (int64_t j = 0; j < g; ++j)
        rank_score[size_t(j)] = std::fabs(double(g - pos[size_t(j)]) - double(g) / 2.0);
      for (int64_t s = 0; s < p; ++s)
        scores[size_t(i * p + s)] = gsva_walk(sets[size_t(s)], pos, rank_score.data(), g, options, steps);
      progress.tick();
    }
  }
  progress.finish();
  return to_output(std::move(scores), n, p, options.dtype);
}

Tensor combined_zscore(const Tensor& x, const GeneSetColumns& sets, DType dtype) {
  const std::vector<double> v = as_f64_matrix(x, "zscore");
  const int64_t n = x.dim(0), g = x.dim(1), p = int64_t(sets.size());
  DISPA_CHECK(n >= 2, "zscore: standardising genes needs at least 2 samples, got {}", n);
  check_sets(sets, g, "zscore", false);
  // R's scale(): centre by the mean, divide by sqrt(sum(centred^2) / (N - 1)).
  std::vector<double> mean(static_cast<size_t>(g)), sd(static_cast<size_t>(g));
  for (int64_t j = 0; j < g; ++j) {
    long double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += v[size_t(i * g + j)];
    mean[size_t(j)] = double(sum / n);
    long double sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double c = v[size_t(i * g + j)] - mean[size_t(j)];
      sq += c * c;
    }
    sd[size_t(j)] = std::sqrt(double(sq / (n - 1)));
  }
  for (size_t s = 0; s < sets.size(); ++s)
    for (int32_t c : sets[s])
      DISPA_CHECK(sd[size_t(c)] >= kConstantSd,
                  "zscore: gene column {} of set {} is constant over the {} samples; drop it first", c, s, n);
  std::vector<double> scores(size_t(n * p));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t s = 0; s < p; ++s) {
      long double sum = 0;
      for (int32_t c : sets[size_t(s)]) sum += (v[size_t(i * g + c)] - mean[size_t(c)]) / sd[size_t(c)];
      scores[size_t(i * p + s)] = double(sum) / std::sqrt(double(sets[size_t(s)].size()));
    }
  }
  return to_output(std::move(scores), n, p, dtype);
}

}  // namespace dispa::bio
