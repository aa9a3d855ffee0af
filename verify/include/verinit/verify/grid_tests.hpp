// Samples on a 16-bit grid (float16, bfloat16): their law, and the tests that judge them.
//
// The law of a correct 16-bit weight is the scheme's continuous law F rounded to nearest even
// in the dtype (issue 7): a discrete law on the dtype's finite values, P(g) = F(upper midpoint
// of g) - F(lower midpoint of g), subnormals included, +0 and -0 one value. Testing such
// samples against F itself is wrong by construction (correct bfloat16 weights fail KS with
// p = 1e-133), so they get their own plan, computed from one histogram of the 65,536 bit
// patterns (a sufficient statistic for every i.i.d. marginal test) and one pass for the lag-1
// correlation:
//   support          exact: no value of probability 0 (outside the rounded support, NaN, inf)
//   ks               max |F_n - F| over the grid's values; p from the law of D_n for a
//                    continuous F, which is conservative for a discrete one (the grid's atoms
//                    only lower D_n's law: Noether 1963)
//   chi_square       Pearson's X^2 over cells of adjacent values pooled to an expectation
//                    >= 50 (Cochran 1954 asks 5: a margin), df = cells - 1: what sees a
//                    lattice, missing atoms or clipped tails
//   anderson_darling A^2 for a discrete null (Choulakian, Lockhart & Stephens 1994) over at
//                    most 32 groups of adjacent values (at least 9: from ~100 values), p from
//                    its limit sum lambda_i chi-square(1) (weighted_chi_square.hpp)
//   mean, variance   z-tests against the rounded law's exact moments (from its atoms, not
//                    F's); the variance's standard error from its exact fourth moment
//   extreme          for an unbounded law: M = max |x - c| (c the law's mean) against its
//                    exact law on the grid, P(M <= m) = P(|X - c| <= m)^n, two-sided: too
//                    heavy a tail, or too light (Box-Muller in bfloat16 clips at 3.3 sigma)
//   autocorrelation  lag-1: z = sum (x_i - mu)(x_{i+1} - mu) / (sigma^2 sqrt(n - 1))
// Every sum is over fixed blocks added in block order, and the histogram is integers: the
// results are the same bits on any thread count.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "verinit/dtype.hpp"
#include "verinit/tensor.hpp"
#include "verinit/verify/law.hpp"
#include "verinit/verify/result.hpp"

namespace verinit::verify {

/// A continuous law rounded to nearest even in a 16-bit dtype: a probability per bit pattern.
class rounded_law {
 public:
  /// `law` rounded to `type` (float16 or bfloat16; std::invalid_argument otherwise). The mass
  /// that rounds to an infinity (at most 2^-53 for a law the fill accepts) is dropped and the
  /// rest renormalised.
  rounded_law(const any_law& law, dtype type);
  /// This law conditioned on a value other than 0 (a sparse tensor's non-zeros): 0's mass
  /// removed and the rest renormalised. std::invalid_argument if 0 is all the mass.
  rounded_law without_zero() const;

  dtype type() const noexcept { return type_; }
  /// P(value = g) for the pattern's value (-0 has 0: its mass is on +0's pattern 0x0000).
  double probability(std::uint16_t bits) const noexcept { return probability_[bits]; }
  /// The value of a bit pattern of the law's dtype.
  double value(std::uint16_t bits) const noexcept;
  /// The finite patterns in increasing value order (-0 left out).
  const std::vector<std::uint16_t>& order() const noexcept { return order_; }
  /// Exact moments of the discrete law.
  double mean() const noexcept { return mean_; }
  double variance() const noexcept { return variance_; }
  double third_central_moment() const noexcept { return third_; }
  double fourth_central_moment() const noexcept { return fourth_; }
  /// The continuous law's mean, about which the extreme test measures, and whether the law is
  /// unbounded above (the test applies only then, as for continuous samples).
  double centre() const noexcept { return centre_; }
  bool unbounded() const noexcept { return unbounded_; }
  /// The number of values of positive probability.
  std::int64_t atoms() const noexcept { return atoms_; }
  const std::string& description() const noexcept { return description_; }

 private:
  dtype type_ = dtype::bfloat16;
  std::vector<double> probability_;
  std::vector<std::uint16_t> order_;
  double mean_ = 0, variance_ = 0, third_ = 0, fourth_ = 0, centre_ = 0;
  bool unbounded_ = false;
  std::int64_t atoms_ = 0;
  std::string description_;

  rounded_law() = default;
  void set_moments();  // mean_, variance_, third_, fourth_ and atoms_ from probability_
};

/// Counts of each bit pattern of 16-bit samples (x.type float16 or bfloat16), -0 counted as +0.
struct grid_histogram {
  std::vector<std::int64_t> counts = std::vector<std::int64_t>(65536);  ///< on the heap: 512 KiB
  std::int64_t n = 0;
};
grid_histogram histogram_of(const tensor_view& x, int threads);

/// What the tests read of 16-bit samples, gathered piece by piece (a stream of pieces beyond the
/// memory budget): the histogram, and the lag-1 sum about the law's mean with the join of each
/// piece to the one before. The pieces' sums are added in stream order: for the same pieces, the
/// same bits on any thread count; one piece gives grid_tests' numbers exactly.
class grid_stream {
 public:
  explicit grid_stream(const rounded_law& law);
  /// Appends `piece` (of the law's dtype; std::invalid_argument otherwise): add_counts() of its
  /// histogram and append() of its record().
  void add(const tensor_view& piece, int threads);

  /// What add() keeps of a piece besides its histogram: its size, its own lag-1 sum about the
  /// law's mean, its first and last bit patterns. Pieces reduced in another process are replayed
  /// here: add_counts() of their histograms (integers: in any grouping) and append() of their
  /// records in stream order give add()'s bits.
  struct piece_record {
    std::int64_t n = 0;
    double lagged = 0;
    std::uint16_t first = 0, last = 0;
  };
  /// The record of a non-empty `piece` of the law's dtype (std::invalid_argument otherwise).
  piece_record record(const tensor_view& piece, int threads) const;
  /// The lag-1 sums of the next piece (its join with the piece before, then its own).
  void append(const piece_record& next);
  /// Adds counts to the histogram.
  void add_counts(const grid_histogram& more);
  std::int64_t count() const noexcept { return histogram_.n; }
  const rounded_law& law() const noexcept { return law_; }
  const grid_histogram& histogram() const noexcept { return histogram_; }
  /// The tests of the samples so far; std::invalid_argument for fewer than 2.
  std::vector<test_result> tests() const;

 private:
  rounded_law law_;
  grid_histogram histogram_;
  double lagged_ = 0;
  std::optional<std::uint16_t> last_;
};

/// The tests above on 16-bit samples `x` against `law`. Throws std::invalid_argument for a
/// dtype that is not 16-bit or an empty sample.
std::vector<test_result> grid_tests(const tensor_view& x, const rounded_law& law, int threads);

/// Below this many values a float32/float64 sample all on a 16-bit grid is not taken to be one
/// (a continuous sample of 4096 lands on bfloat16's grid with probability ~2^-65536).
inline constexpr std::int64_t grid_detection_min_count = 4096;

/// bfloat16 or float16 if every value of float32/float64 samples is exactly one of its values
/// and there are at least `min_count` of them (a continuous sample essentially never is);
/// otherwise nothing. bfloat16 is tried first: most of its values are float16 values too.
std::optional<dtype> coarser_grid_of(const tensor_view& x, std::int64_t min_count, int threads);

/// The samples of `x` (float32/float64 all on `type`'s grid) converted exactly to `type`.
tensor_buffer convert_to_grid(const tensor_view& x, dtype type);

}  // namespace verinit::verify
