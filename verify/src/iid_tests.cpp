// The i.i.d. test plan (see iid_tests.hpp): one function per test and the table that declares
// them. References are given where each test is defined.
#include "verinit/verify/iid_tests.hpp"

#include <algorithm>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "moment_tests.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/verify/detail/p_values.hpp"
#include "verinit/verify/distributions/anderson_darling.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"

namespace verinit::verify {
namespace {

using detail::two_sided_normal_p;

const law_moments& moments(const iid_evidence& e) { return e.state.context().law.moments(); }
double n_of(const iid_evidence& e) { return static_cast<double>(e.state.sums().n); }

// The support rounded outward to the samples' dtype (float32(-0.3) lies below -0.3, and
// PyTorch's uniform_(-0.3, 0.3) does emit it).
std::pair<double, double> rounded_support(const iid_context& c) {
  const double low = c.law.support().first, high = c.law.support().second;
  return visit_dtype(c.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return std::pair{to_double(round_down<T>(low)), to_double(round_up<T>(high))};
  });
}

// ---- support ---------------------------------------------------------------------------------

// An upper bound on the largest probability any one value of the dtype has under the law
// rounded to it, shown below `target` if it can be. The values in [x, y] have rounding cells
// inside [x - w, y + w], w the dtype's spacing at max(|x|, |y|), so F(y + w) - F(x - w) <
// target over intervals covering the law's effective support ([quantile(1e-16), quantile(1 -
// 1e-16)] for an unbounded law; the tails beyond hold 1e-16 each) proves it. Bisects where
// the bound is not yet below the target, within a budget of cdf evaluations (each interval
// holds mass >= target until proved, so ~1/target intervals are needed: targets below ~1e-5,
// three equal float32 values, are not proved); returns the largest bound proved, 1 when the
// budget ran out or a single cell may hold the target.
double largest_atom_bound(const iid_context& c, double target) {
  const any_law& law = c.law;
  const auto [support_low, support_high] = law.support();
  constexpr double edge = 1e-16;
  const double low = std::isfinite(support_low) ? support_low : law.quantile(edge);
  const double high = std::isfinite(support_high) ? support_high : law.quantile(1 - edge);
  if (!(high > low)) return 1;
  const auto spacing = [&](double magnitude) {
    return visit_dtype(c.type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T m = round_to<T>(magnitude);
      return to_double(next_up(m)) - to_double(m);
    });
  };
  std::vector<std::pair<double, double>> todo{{low, high}};
  double proved = std::isfinite(support_low) && std::isfinite(support_high) ? 0 : edge;
  for (int evaluations = 0; !todo.empty(); evaluations += 2) {
    if (evaluations > 400000) return 1;
    const auto [x, y] = todo.back();
    todo.pop_back();
    const double w = spacing(std::max(std::abs(x), std::abs(y)));
    if (!std::isfinite(w)) return 1;
    const double mass = law.cdf(y + w) - law.cdf(x - w);
    if (mass < target) {
      proved = std::max(proved, mass);
    } else if (y - x <= w) {
      return 1;  // one cell may hold the target
    } else {
      const double middle = x + (y - x) / 2;
      todo.push_back({x, middle});
      todo.push_back({middle, y});
    }
  }
  return proved;
}

// n >= 2 values all equal: under a law whose largest atom on the dtype's grid is p, P(all
// equal) = sum_g p_g^n <= p^(n-1). Below 1e-12 the sample is impossible whatever the run's
// family size (a bias left at zeros under a continuous law), so the exact support check fails.
constexpr double impossible = 1e-12;

test_result support(const iid_evidence& e) {
  const iid_sums& s = e.state.sums();
  const auto [low, high] = rounded_support(e.state.context());
  test_result r;
  r.name = "support";
  r.exact = true;
  const bool all_equal = s.n >= 2 && s.nan == 0 && s.lowest == s.highest;
  double equal_bound = 1;
  if (all_equal) {
    const double exponent = static_cast<double>(s.n - 1);
    const double atom = largest_atom_bound(e.state.context(), std::pow(impossible, 1 / exponent));
    equal_bound = atom >= 1 ? 1 : std::exp(exponent * std::log(atom));
  }
  const bool impossible_equal = all_equal && equal_bound < impossible;
  r.statistic = static_cast<double>(s.outside + s.at_excluded + s.non_finite) +
                (impossible_equal ? 1.0 : 0.0);
  r.passed = r.statistic == 0;
  r.p_value = r.passed ? 1 : 0;
  r.values = {{"outside", static_cast<double>(s.outside)},
              {"at_excluded_bound", static_cast<double>(s.at_excluded)},
              {"non_finite", static_cast<double>(s.non_finite)},
              {"low", low},
              {"high", high}};
  if (all_equal) r.values.emplace_back("all_equal_probability_bound", equal_bound);
  r.note = std::to_string(s.outside) + " outside, " + std::to_string(s.at_excluded) +
           " at the excluded bound, " + std::to_string(s.non_finite) + " non-finite";
  if (impossible_equal) {
    char text[160];
    std::snprintf(
        text, sizeof text, "; all %lld values equal %.9g, impossible under the law (P <= %.3g)",
        static_cast<long long>(s.n), e.state.context().law.moments().mean + s.lowest, equal_bound);
    r.note += text;
  }
  return r;
}

// ---- ks and anderson_darling -------------------------------------------------------------------

test_result ks_exact(const iid_evidence& e) {
  const fit_statistics& fit = *e.exact_fit;
  test_result r;
  r.name = "ks";
  r.statistic = fit.nan > 0 || std::isnan(fit.d) ? 1.0 : fit.d;  // a NaN sample rejects
  r.p_value = cdf(complement(kolmogorov_smirnov_distribution(fit.n + fit.nan), r.statistic));
  r.values = {{"n", static_cast<double>(fit.n + fit.nan)}};
  r.note = "sup |F_n - F|, p from the exact law of D_n";
  return r;
}

test_result ks_binned(const iid_evidence& e) {
  return binned_ks_test(e.state.bracket(), e.state.sums().n, e.state.sums().nan,
                        e.state.settings().bins);
}

test_result anderson_darling_exact(const iid_evidence& e) {
  const fit_statistics& fit = *e.exact_fit;
  test_result r;
  r.name = "anderson_darling";
  r.statistic = fit.nan > 0 || std::isnan(fit.a2) ? INFINITY : fit.a2;
  r.p_value = cdf(complement(anderson_darling_distribution{}, r.statistic));
  r.note = "A^2, p from the limiting law (Marsaglia & Marsaglia 2004 series)";
  return r;
}

test_result anderson_darling_binned(const iid_evidence& e) {
  return binned_anderson_darling_test(e.state.bracket(), e.state.sums().nan);
}

// ---- mean and variance -----------------------------------------------------------------------

// z-test of the sample mean, two-sided.
test_result mean(const iid_evidence& e) {
  const law_moments& law = moments(e);
  const double n = n_of(e);
  return detail::mean_z_test(law.mean + e.state.sums().s1.value() / n, law.mean, law.variance, n);
}

// Variance about the known mean, v = sum (x - mu)^2 / n, against sigma^2 with the standard
// error sigma^2 sqrt((kappa - 1)/n) of the law's kurtosis kappa (3 normal, 1.8 uniform, ~2.366
// for a +-2 sigma truncated normal); the textbook chi-square test assumes kappa = 3 and is
// wrong for uniforms. Two-sided.
test_result variance(const iid_evidence& e) {
  const law_moments& law = moments(e);
  const double n = n_of(e);
  // About the known mean: unbiased.
  return detail::variance_z_test(e.state.sums().s2.value() / n, law.variance, law.kurtosis, n);
}

// ---- extreme ---------------------------------------------------------------------------------

// For unbounded laws, and for bounded ones whose bounds lie far out in the tails (PyTorch's
// trunc_normal_(std=0.02) cut at +-2, 100 sd): there the maximum of n samples stays far from
// the bounds (n P(|X - centre| > 0.9 of the nearer bound's distance) < 1e-3) and its law is
// continuous. Where the bounds are near (a uniform, a +-2 sd truncated normal) the maximum sits
// within ~width/n of a bound, where the sample type's grid is as coarse as the statistic's
// spread, so its p-value is discrete (the large battery's two-level KS showed it); outliers
// beyond such a bound are the support check's. Near bounds the test still applies where the
// maximum's law spreads over at least 2^16 steps of the grid below the bound (its spread taken
// as the bound's distance from the 1 - 1/(2n) quantile): small tensors, where its p-value is as
// good as continuous and its light tail is the only test that sees n values all far too close
// to the centre (a bias of 10 values drawn with bound 1/fan_in for 1/sqrt(fan_in), p ~ 1e-15,
// which KS, A^2 and the variance z-test, bounded below by z = -sqrt(n/(kurtosis-1)), miss).
bool extreme_applies(const iid_evidence& e) {
  const any_law& law = e.state.context().law;
  // Named copies, not a structured binding: the lambda below captures them (clang 14 refuses).
  const double low = law.support().first, high = law.support().second;
  if (std::isinf(low) || std::isinf(high)) return true;
  const double centre = law.moments().mean;
  const double reach = 0.9 * std::min(centre - low, high - centre);
  const double n = n_of(e);
  if (n * (law.cdf(centre - reach) + law.sf(centre + reach)) < 1e-3) return true;
  const double spread = std::min(high - law.quantile(1 - 0.5 / n), law.quantile(0.5 / n) - low);
  const double step = visit_dtype(e.state.context().type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto ulp = [](double x) {
      const T m = round_to<T>(std::abs(x));
      return to_double(next_up(m)) - to_double(m);
    };
    return std::max(ulp(low), ulp(high));
  });
  return spread >= 65536 * step;
}

// M = max |x - m| of n samples against its exact law: P(M <= t) = (1 - q(t))^n, q(t) =
// P(|X - m| > t). Two-sided: too heavy a tail (a few far outliers that KS and the variance
// miss) and too light a one (a sampler that clips or truncates: Box-Muller in low precision,
// inverse-CDF samplers fed coarse uniforms, "clamp to k sigma"). A sample value stands for the
// reals that round to it in its dtype, so the upper tail is taken at the dtype's next value
// below M and the lower at the next above: conservative both ways.
test_result extreme(const iid_evidence& e) {
  const any_law& law = e.state.context().law;
  const double centre = law.moments().mean, largest = e.state.sums().largest;
  const double magnitude = std::abs(centre) + largest;
  const auto [below, above] = visit_dtype(e.state.context().type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T m = round_to<T>(magnitude);
    return std::pair{to_double(next_down(m)) - to_double(m), to_double(next_up(m)) - to_double(m)};
  });
  const auto tail = [&](double t) {
    return std::min(1.0, law.cdf(centre - t) + law.sf(centre + t));
  };
  const double n = n_of(e);
  const double heavy_tail = tail(std::max(0.0, largest + below));
  const double light_tail = tail(largest + above);
  // P(M >= M_observed) and P(M <= M_observed).
  const double p_heavy = std::clamp(-std::expm1(n * std::log1p(-heavy_tail)), 0.0, 1.0);
  const double p_light = std::clamp(std::exp(n * std::log1p(-light_tail)), 0.0, 1.0);
  test_result r;
  r.name = "extreme";
  r.statistic = largest;
  r.p_value = std::isinf(largest) || std::isnan(largest) ? 0 : detail::two_sided(p_light, p_heavy);
  r.values = {{"centre", centre},
              {"tail_probability", heavy_tail},
              {"p_too_heavy", p_heavy},
              {"p_too_light", p_light}};
  r.note = "max |x - centre| against (1 - P(|X - centre| > t))^n, two-sided";
  const auto [low, high] = law.support();
  const double lowest = centre + e.state.sums().lowest, highest = centre + e.state.sums().highest;
  if (std::isfinite(low) && lowest == low) {
    // erfinv(-1) = -inf clamped to a: torch.nn.init.trunc_normal_ returns its lower bound a
    // when uniform_(2l - 1, 2u - 1) returns -1, probability ~2^-24 per value once l underflows
    // (pytorch#155588).
    r.note += "; a value exactly at the law's lower bound " + std::to_string(low) +
              ", which the law reaches with probability 0: PyTorch's trunc_normal_ returns its "
              "bound a for ~2^-24 of its values (erfinv(-1) clamped; pytorch#155588)";
  } else if (std::isfinite(high) && highest == high) {
    r.note += "; a value exactly at the law's upper bound " + std::to_string(high) +
              ", which the law reaches with probability 0";
  }
  return r;
}

// ---- serial dependence -----------------------------------------------------------------------

// Lag-1 autocorrelation r about the known mean mu, z = r sqrt(n) ~ N(0, 1) (Ljung-Box with one
// lag, whose statistic is z^2), two-sided.
test_result autocorrelation(const iid_evidence& e) {
  const iid_sums& s = e.state.sums();
  const double squares = s.s2.value();
  const double correlation = squares > 0 ? s.lagged.value() / squares : 0;
  test_result r;
  r.name = "autocorrelation";
  r.statistic = correlation * std::sqrt(n_of(e));
  r.p_value = two_sided_normal_p(r.statistic);
  r.values = {{"lag1_correlation", correlation}};
  r.note = "z = r1 sqrt(n); Ljung-Box with one lag is z^2";
  return r;
}

bool at_least_two(const iid_evidence& e) { return e.state.sums().n >= 2; }

// Serial dependence of magnitudes: what keeps the linear correlation at zero and still is not
// independent (a stream whose scale drifts, volatility clustering, alternating precisions).
// McLeod & Li (J. Time Ser. Anal. 4, 1983): the lag-1 autocorrelation r of y_i = (x_i - mu)^2
// about its sample mean, z = r sqrt(n) -> N(0, 1) for an i.i.d. stream with a finite 8th
// moment; sample-centred and scale-free, so an error in the variance or the kurtosis alone
// does not move it. Two-sided. From the state's sums of e = y - sigma^2:
//   sum (e_i - m)(e_{i+1} - m) = sum e_i e_{i+1} - m (2 S - e_1 - e_n) + (n - 1) m^2,
//   sum (e_i - m)^2 = sum e_i^2 - S^2 / n,   S = sum e_i, m = S / n.
test_result magnitude_autocorrelation(const iid_evidence& e) {
  const iid_sums& s = e.state.sums();
  const law_moments& law = moments(e);
  const double n = n_of(e), variance = law.variance;
  const double s2 = s.s2.value();
  const double sum = s2 - n * variance;
  const double squares = s.s4.value() - 2 * variance * s2 + n * variance * variance;
  const auto e_of = [&](double x) { return (x - law.mean) * (x - law.mean) - variance; };
  const double mean_e = sum / n;
  const double lagged = s.squares_lagged.value() -
                        mean_e * (2 * sum - e_of(s.first) - e_of(s.last)) +
                        (n - 1) * mean_e * mean_e;
  const double spread = squares - sum * sum / n;
  const double correlation = spread > 0 ? lagged / spread : 0;
  test_result r;
  r.name = "magnitude_autocorrelation";
  r.statistic = correlation * std::sqrt(n);
  r.p_value = two_sided_normal_p(r.statistic);
  r.values = {{"lag1_correlation_of_squares", correlation}};
  r.note = "McLeod-Li: z = r1((x - mu)^2) sqrt(n)";
  return r;
}

// ---- homogeneity -----------------------------------------------------------------------------

bool two_groups(const iid_evidence& e) { return e.state.sums().groups >= 2; }

// Each group g of m_g samples (output units sharing a fan: a row in torch, a column in keras)
// has v_g = S_g / m_g, S_g = sum (x - mu)^2 over the group. Against the pooled v = sum S_g / n,
//   X = sum_g m_g (v_g - v)^2 / (v^2 (kappa - 1)),
// with kappa the law's kurtosis: the between-group part of a one-way analysis of variances,
// scale-free, so an overall variance error alone does not move it (the variance test's). Under
// the null, X has mean G - 1 and variance 2 (G - 1) + kappa_Y (sum_g 1/m_g - 1/n), kappa_Y the
// excess kurtosis of Y = (X - mu)^2 (from the law's central moments to order 8), and is
// compared with the scaled chi-square c chi2_nu of that mean and variance (Satterthwaite 1946).
// A tensor whose rows or blocks were drawn with different scales makes X too large even when
// the overall variance is exact; rows normalised to one variance make it too small. Two-sided.
test_result homogeneity(const iid_evidence& e) {
  const any_law& law = e.state.context().law;
  const iid_sums& s = e.state.sums();
  const double m2 = law.central_moment(2), m4 = law.central_moment(4);
  const double m6 = law.central_moment(6), m8 = law.central_moment(8);
  const double y_variance = m4 - m2 * m2;
  const double y_excess =
      (m8 - 4 * m6 * m2 + 6 * m4 * m2 * m2 - 3 * m2 * m2 * m2 * m2) / (y_variance * y_variance) - 3;
  const double n = n_of(e), groups = static_cast<double>(s.groups);
  const double s2 = s.s2.value(), pooled = s2 / n;
  const double between = s.group_squares.value() - s2 * s2 / n;  // sum_g m_g (v_g - v)^2
  const double chi = between / (pooled * pooled * (law.moments().kurtosis - 1));
  const double mean = groups - 1;
  const double spread = 2 * mean + y_excess * (s.inverse_group_sizes.value() - 1 / n);
  const double scale = spread / (2 * mean), dof = 2 * mean * mean / spread;
  test_result r;
  r.name = "homogeneity";
  r.statistic = chi;
  if (std::isfinite(chi) && chi >= 0) {
    r.p_value = detail::two_sided(boost::math::gamma_p(dof / 2, chi / (2 * scale)),
                                  boost::math::gamma_q(dof / 2, chi / (2 * scale)));
  } else {
    r.p_value = 0;  // non-finite samples
  }
  const auto& g = e.state.context().grouping;
  r.values = {{"groups", groups},
              {"mean_group_size", n / groups},
              {"units_per_group", static_cast<double>(g.units_per_group)},
              {"z", (chi - mean) / std::sqrt(spread)}};
  r.note = std::string("between-group variance of ") + (g.strided ? "columns" : "rows") +
           " against a scaled chi-square, kurtosis-correct";
  return r;
}

// ---- repeated runs ---------------------------------------------------------------------------

// The values a repeated-runs result carries, in order; its replication rule reads them back.
enum repeated_runs_value { windows_value, kept_value, null_mean_value };

// Replications: the Poisson counts and their null means add up.
test_result sum_poisson_counts(std::span<const test_result> parts) {
  test_result merged = parts.front();
  double repeats = 0, null_mean = 0;
  for (const test_result& part : parts) {
    repeats += part.statistic;
    if (part.values.size() > null_mean_value) null_mean += part.values[null_mean_value].second;
  }
  merged.statistic = repeats;
  merged.p_value = detail::poisson_upper_tail(repeats, null_mean);
  merged.values = {{"null_mean_bound", null_mean}};
  merged.note = "repeats summed over " + std::to_string(parts.size()) + " replications";
  return merged;
}

test_result repeated_runs(const iid_evidence& e) {
  const window_repeats w = e.state.repeats(e.threads);
  test_result r;
  r.name = "repeated_runs";
  r.combine = sum_poisson_counts;
  if (w.windows < 2) {
    r.note = "too few samples";
    return r;
  }
  const double kept = static_cast<double>(w.kept);
  const double expected = kept * (kept - 1) / 2 * std::ldexp(1.0, -(64 - w.bits));
  r.statistic = static_cast<double>(w.repeats);
  r.p_value = detail::poisson_upper_tail(r.statistic, expected);
  r.values.resize(3);
  r.values[windows_value] = {"windows", static_cast<double>(w.windows)};
  r.values[kept_value] = {"kept", kept};
  r.values[null_mean_value] = {"null_mean_bound", expected};
  r.note = "4-sample windows seen before (1 in " + std::to_string(1 << w.bits) +
           " kept by hash); Poisson null, mean <= C(kept,2) 2^-" + std::to_string(64 - w.bits);
  return r;
}

bool always(const iid_evidence&) { return true; }

// The plan.
constexpr iid_test plan[] = {
    {"support", always, support, support},
    {"ks", always, ks_exact, ks_binned},
    {"anderson_darling", always, anderson_darling_exact, anderson_darling_binned},
    {"mean", always, mean, mean},
    {"variance", always, variance, variance},
    {"extreme", extreme_applies, extreme, extreme},
    {"autocorrelation", always, autocorrelation, autocorrelation},
    {"magnitude_autocorrelation", at_least_two, magnitude_autocorrelation,
     magnitude_autocorrelation},
    {"homogeneity", two_groups, homogeneity, homogeneity},
    {"repeated_runs", always, repeated_runs, repeated_runs},
};

}  // namespace

namespace detail {
double poisson_upper_tail(double k, double mean) {
  if (k <= 0) return 1;
  if (!(mean > 0)) return 0;
  // Far in the tail gamma_p overflows internally; there P(N >= k) is the first term
  // mean^k e^-mean / k! times at most 1 / (1 - mean / (k + 1)).
  if (k > 2 * mean + 10) {
    const double log_first = k * std::log(mean) - mean - std::lgamma(k + 1);
    if (log_first < -700) return 0;
  }
  return boost::math::gamma_p(k, mean);
}
}  // namespace detail

std::span<const iid_test> iid_plan() noexcept { return plan; }

std::vector<test_result> run_iid_tests(const iid_evidence& evidence) {
  std::vector<test_result> out;
  for (const iid_test& test : plan) {
    if (!test.applies(evidence)) continue;
    out.push_back(evidence.exact_fit != nullptr ? test.in_memory(evidence)
                                                : test.streaming(evidence));
  }
  return out;
}

test_result binned_ks_test(const fit_bracket& bracket, std::int64_t n, std::int64_t nan,
                           std::int64_t bins) {
  const kolmogorov_smirnov_distribution null(n);
  const double low = nan > 0 ? 1.0 : bracket.d_low, high = nan > 0 ? 1.0 : bracket.d_high;
  test_result r;
  r.name = "ks";
  r.statistic = low;
  r.p_value = cdf(complement(null, low));
  r.values = {{"d_low", low},
              {"d_high", high},
              {"p_at_d_high", cdf(complement(null, high))},
              {"n", static_cast<double>(n)}};
  r.note = "streaming, " + std::to_string(bins) +
           " bins: D bracketed, p at the lower end (conservative)";
  return r;
}

test_result binned_anderson_darling_test(const fit_bracket& bracket, std::int64_t nan) {
  const double low = nan > 0 ? INFINITY : bracket.a2_low;
  const double high = nan > 0 ? INFINITY : bracket.a2_high;
  test_result r;
  r.name = "anderson_darling";
  r.statistic = low;
  r.p_value = cdf(complement(anderson_darling_distribution{}, low));
  r.values = {{"a2_low", low},
              {"a2_high", high},
              {"p_at_a2_high", cdf(complement(anderson_darling_distribution{}, high))}};
  r.note = "streaming: A^2 bracketed, p at the lower end (conservative)";
  return r;
}

}  // namespace verinit::verify
