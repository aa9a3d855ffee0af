// Anderson-Darling's A^2 as a sum of non-negative pieces, shared by the in-memory and the
// streaming statistics (internal to verify/src).
#pragma once

#include <algorithm>
#include <cmath>

namespace verinit::verify::detail {

// A^2 = n \int_0^1 (F_n(t) - t)^2 / (t (1 - t)) dt (Anderson & Darling 1954), summed over the
// pieces between consecutive order statistics, where F_n is a constant c: with
// (c - t)^2 / (t (1 - t)) = c^2 / t + (1 - c)^2 / (1 - t) - 1,
//   \int_a^b = c^2 ln(b/a) + (1 - c)^2 ln((1 - a)/(1 - b)) - (b - a)  >= 0.
// Every piece is non-negative, so the sum has no cancellation; the textbook form
// -n - (1/n) sum (2i - 1)(ln u_(i) + ln(1 - u_(n+1-i))) subtracts two numbers of size n and
// loses ~n^{3/2} eps (1e-6 absolute at n = 10^7, 0.1 at 10^10). u is clamped to
// [1e-300, 1 - 2^-53] as there.
constexpr double ad_lowest = 1e-300, ad_highest = 1 - 0x1p-53;
// log1p(y) for y >= 0. Between consecutive order statistics y ~ 1/(n u) is tiny, and there
// the series y - y^2/2 + y^3/3 - y^4/4 is as good as the library's: for 0 <= y < 2^-14 the
// first omitted term y^5/5 is below y 2^-56 / 5, far under an ulp of the result. Saves two
// library calls per sample.
constexpr double ad_series_limit = 0x1p-14;
inline double log1p_series(double y) { return y * (1 - y * (0.5 - y * (1.0 / 3 - y * 0.25))); }
// The same series to y^13 (Horner), for 2^-14 <= y < 2^-4: the first omitted term y^14/14
// is below y 2^-52 / 14 (y^13 < 2^-52), a seventh of an ulp at most. Against 200-bit mpmath
// at 2 * 10^4 random y in that range (tests/data/check_log1p_series.py): at most 0.97 ulp off
// (to y^12: 2.96; glibc's log1p: 0.54). Small tensors need it: y ~ 1/rank, so in a tensor of
// fewer than 2^15 values no piece has both y below 2^-14, and each would cost a library call
// (a fifth of efficientnet_v2_s's pieces did); with it only the 16 outermost pieces at either
// end do.
constexpr double ad_long_series_limit = 0x1p-4;
inline double log1p_long_series(double y) {
  // Horner from the inside out: y (1 - y (1/2 - y (1/3 - ... - y (1/12 - y / 13)))).
  double h = 1.0 / 13;
  h = 1.0 / 12 - y * h;
  h = 1.0 / 11 - y * h;
  h = 1.0 / 10 - y * h;
  h = 1.0 / 9 - y * h;
  h = 1.0 / 8 - y * h;
  h = 1.0 / 7 - y * h;
  h = 1.0 / 6 - y * h;
  h = 1.0 / 5 - y * h;
  h = 1.0 / 4 - y * h;
  h = 1.0 / 3 - y * h;
  h = 1.0 / 2 - y * h;
  return y * (1 - y * h);
}
// log1p as every A^2 piece takes it: one of the two series where it is good to an ulp, else
// the library's.
inline double log1p_small(double y) {
  return y < ad_series_limit        ? log1p_series(y)
         : y < ad_long_series_limit ? log1p_long_series(y)
                                    : std::log1p(y);
}
// The piece for a <= b with F_n = c between them, given gap = b - a, y_a = gap / a,
// y_b = gap / (1 - b), and log1p (which may be the series alone where the caller has checked
// y < ad_series_limit: the same bits as log1p_small then).
template <class Log1p>
inline double ad_piece_from(double c, double gap, double y_a, double y_b, Log1p log1p) {
  const double value = c * c * log1p(y_a) + (1 - c) * (1 - c) * log1p(y_b) - gap;
  // >= 0 exactly; rounding could leave -1e-17. (Ternaries, not std::max, which returns a
  // reference and keeps loops over pieces from being vectorized.)
  return ((gap > 0) & (value > 0)) ? value : 0.0;
}
inline double ad_piece(double c, double a, double b) {
  a = std::clamp(a, ad_lowest, ad_highest);
  b = std::clamp(b, ad_lowest, ad_highest);
  const double gap = b - a;
  return ad_piece_from(c, gap, gap / a, gap / (1 - b), [](double y) { return log1p_small(y); });
}
// The outer pieces: [0, u_(1)] with F_n = 0 and [u_(n), 1] with F_n = 1.
inline double ad_first_piece(double u) {
  u = std::clamp(u, ad_lowest, ad_highest);
  return std::max(0.0, -std::log1p(-u) - u);
}
inline double ad_last_piece(double u) {
  u = std::clamp(u, ad_lowest, ad_highest);
  return std::max(0.0, -std::log(u) - (1 - u));
}

}  // namespace verinit::verify::detail
