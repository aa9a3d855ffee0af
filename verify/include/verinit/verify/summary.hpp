// What a report draws of one case's samples: a histogram, the empirical CDF at fixed
// probability levels, and moments, each computed over all samples (never a subsample), in
// parallel, as integer counts and double sums that merge exactly across threads and across
// replications.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "verinit/tensor.hpp"
#include "verinit/verify/grid_tests.hpp"
#include "verinit/verify/law.hpp"
#include "verinit/verify/theory.hpp"

namespace verinit::verify {

/// The range a law is drawn over: its support, or its 1e-5 and 1 - 1e-5 quantiles where it is
/// unbounded.
std::pair<double, double> plot_range(const any_law& law);

/// The marginal law of one entry of a Haar-orthogonal matrix times `gain` whose longer side is
/// `dim`: Q_ij = gain (2 B - 1), B ~ Beta((dim - 1)/2, (dim - 1)/2). Throws
/// std::invalid_argument unless dim >= 2 and gain is finite and > 0.
any_law haar_entry_law(std::int64_t dim, double gain);

/// The law a case's samples are summarized against: the law of a continuous scheme, of a
/// sparse scheme's non-zeros, or of an orthogonal matrix's entries; none for exact schemes
/// (and for orthogonal matrices with a side < 2).
std::optional<any_law> summary_law_for(const expectation& e);

/// Sums of powers of (x - centre), accumulated in double over fixed blocks and added exactly:
/// the same bits on any number of threads.
struct centred_sums {
  double n = 0;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
};

struct sample_summary {
  std::string law;           ///< the law's description
  bool independent = true;   ///< samples i.i.d. (false for matrix entries): a KS band applies
  double ks_critical = 0;    ///< D at which the run's KS test surely rejects (set by decide)
  centred_sums sums;         ///< powers of (x - expected.mean) over all samples (sums.n = n)
  law_moments expected{};    ///< the law's moments
  double low = 0, high = 0;  ///< histogram range, equal-width bins
  std::vector<std::int64_t> counts;
  std::int64_t below = 0, above = 0;       ///< samples outside [low, high] (NaN counts as above)
  std::vector<double> density_x, density;  ///< the law's pdf on a grid over [low, high]
  /// Probability levels p_k (increasing; fine in the tails), x_k = F^{-1}(p_k), and the
  /// number of samples x <= x_k: the ECDF at x_k is at_or_below[k] / n.
  std::vector<double> levels, quantiles;
  std::vector<std::int64_t> at_or_below;
  /// Samples on a 16-bit grid (summarize_grid) name it here ("bfloat16", "float16"); empty for
  /// a continuous law. Then `density` is each bin's probability under the rounded law over its
  /// width (a step line, two points a bin), the ECDF levels are the step CDF at atoms, and:
  std::string grid;
  /// the law's atoms around its most probable one (at most 41), their probabilities and the
  /// samples on each;
  std::vector<double> atom_values, atom_probabilities;
  std::vector<std::int64_t> atom_counts;
  /// the distinct values among the samples, beside the number expected under the law (summed
  /// over the samples merged: replications).
  std::int64_t distinct = 0;
  double expected_distinct = 0;

  std::int64_t n() const { return static_cast<std::int64_t>(sums.n); }
};

/// Sample moments from a summary's sums: mean, variance (about the sample mean, divisor n),
/// skewness and kurtosis (not excess).
struct sample_moments {
  double mean, variance, skewness, kurtosis;
};
sample_moments moments_of(const sample_summary& summary);

/// The 95% confidence interval of the variance about the law's mean, with the standard error
/// of the law's kurtosis (what the variance test uses): {low, high}.
std::pair<double, double> variance_interval(const sample_summary& summary);

/// Summarizes samples against `law` with `bins` histogram bins, on `threads` threads (>= 1;
/// the result does not depend on their number). Throws std::invalid_argument for bins < 1.
sample_summary summarize(const tensor_view& samples, const any_law& law, int threads,
                         int bins = 80);

/// Summarizes 16-bit samples from their histogram against the continuous law rounded to their
/// grid, with `bins` equal-width bins between the atoms at the law's 1e-5 and 1 - 1e-5
/// points (its outermost atoms where it has less in the tails). Exact: integer counts, the
/// law's atoms and exactly added sums. Throws std::invalid_argument for bins < 1 or no samples.
sample_summary summarize_grid(const rounded_law& law, const grid_histogram& histogram,
                              int bins = 80);

/// Adds `more` (a summary of other samples against the same law and grid) into `total`.
/// Throws std::invalid_argument if the grids differ.
void merge_into(sample_summary& total, const sample_summary& more);

}  // namespace verinit::verify
