// Pathway scores of every sample of a samples x genes matrix, as R/Bioconductor GSVA 1.46 computes
// them (the rules, read in its source, are listed in ../shared/fixtures/gsva/README.md):
//  - ssGSEA (Barbie et al. 2009; GSVA's ssgsea()): per sample, genes ranked ascending with ties
//    averaged then truncated to integers, weights rank^tau (tau = 0.25), and the random walk summed
//    over all positions (closed form below); optional division by (max - min) of all scores.
//  - GSVA (Hänzelmann et al. 2013): per gene a Gaussian kernel CDF over the samples (bandwidth
//    sd/4, the CDF read from R's 10001-entry table, not erf), its logit; per sample the genes
//    ordered by it and scored |n - p + 1 - n/2|; the KS-like walk of each set (tau = 1) scored
//    max positive + max negative deviation (mx.diff = TRUE).
//  - combined z-score (Lee et al. 2008): genes standardised over the samples (sd with N - 1), each
//    set scored sum(z) / sqrt(|set|).
// Inputs are plain: x is [N, G] f32 or f64 on the CPU (any samples x genes matrix), sets are lists
// of columns of x (PathwayIndex::members). Results are [N, P], sets in the given order. Work is in
// f64 and parallel over samples (OpenMP; GSVA's kernel step over genes). Scores of the GSVA and
// z-score methods depend on all samples scored together, ssGSEA's normalisation too.
// Precision: with f64 input (read with ExpressionReadOptions::dtype = f64, as `dispa pathways`
// does) the GDSC2 fixtures are reproduced to 1e-12. f32 input is as exact for ssGSEA and z-scores,
// but moves a few of GSVA's kernel-table indices, which reorders near-tied genes: up to ~2e-3.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace dispa::bio {

using GeneSetColumns = std::vector<std::vector<int32_t>>;

struct SsgseaOptions {
  double tau = 0.25;       // rank weight exponent (GSVA's tau for ssgsea)
  bool normalize = true;   // ssgsea.norm: divide every score by max - min of the whole [N, P] matrix
  DType dtype = DType::f32;
};

struct GsvaOptions {
  double tau = 1.0;          // weight exponent of the walk
  bool mx_diff = true;       // score = max positive + max negative deviation (else the larger one)
  bool abs_ranking = false;  // with mx_diff: max positive - max negative
  DType dtype = DType::f32;
};

// x: [N, G]; every set non-empty, no repeated column, and at least one gene outside it. -> [N, P]
Tensor ssgsea(const Tensor& x, const GeneSetColumns& sets, const SsgseaOptions& options = {});

// x: [N, G] with N >= 2 and no constant gene (sd < 1e-10 is an error here; the file-level
// score_gene_sets() drops such genes first, as R does). -> [N, P]
Tensor gsva(const Tensor& x, const GeneSetColumns& sets, const GsvaOptions& options = {});

// x: [N, G] with N >= 2 and no constant gene in any set. -> [N, P]
Tensor combined_zscore(const Tensor& x, const GeneSetColumns& sets, DType dtype = DType::f32);

// ---- building blocks (exposed for tests) --------------------------------------------------------

// GSVA's per-gene density step: [N, G] f64, d[j, g] = logit of the kernel CDF of x[j, g] among
// x[:, g] (R's matrix_density_R with the Gaussian kernel).
Tensor gsva_gene_density(const Tensor& x);

// R's precomputedCdf(diff, bw): the table lookup of Phi(diff / bw).
double gsva_kernel_cdf(double diff, double bw);

// The sample SD exactly as GSVA's C sd() (two-pass mean, long double sums, divisor n - 1).
double gsva_sample_sd(const double* x, int64_t n);

// ssGSEA ranks of one sample: ascending, ties averaged then truncated toward zero.
std::vector<int32_t> ssgsea_ranks(const double* values, int64_t n);

}  // namespace dispa::bio
