// The laws the verifier tests samples against: any distribution in Boost.Math's shape, behind
// one value type.
//
// A law is a Boost.Math distribution (normal, uniform, beta, ...) or one of ours written in the
// same shape (truncated_normal_distribution, affine_distribution): a class that stores and
// checks its parameters, with free cdf, cdf(complement(...)), quantile, pdf, mean, variance,
// skewness, kurtosis and support found by argument-dependent lookup. The `distribution`
// concept states that shape. The few things the hot paths and the reports need beyond it (a
// batched cdf, bucket edges, central moments to order 8, a description) are customisation
// points with generic defaults (detail/law_points.hpp), so a new law is a new header and, where
// it can be faster than the defaults, a few overloads beside it: nothing else changes.
//
// any_law holds any such law by value (shared, immutable) and calls it through one virtual
// call per value or per batch; the tests take any_law, the hot loops call cdf_batch on blocks
// of thousands of values, so the indirection costs nothing measurable.
#pragma once

#include <concepts>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "verinit/verify/detail/law_points.hpp"

namespace verinit::verify {

/// A univariate law in Boost.Math's shape.
template <class D>
concept distribution = std::copy_constructible<D> && requires(const D& d, double x) {
  { cdf(d, x) } -> std::convertible_to<double>;
  { cdf(boost::math::complement(d, x)) } -> std::convertible_to<double>;
  { quantile(d, x) } -> std::convertible_to<double>;
  { quantile(boost::math::complement(d, x)) } -> std::convertible_to<double>;
  { pdf(d, x) } -> std::convertible_to<double>;
  { mean(d) } -> std::convertible_to<double>;
  { variance(d) } -> std::convertible_to<double>;
  { skewness(d) } -> std::convertible_to<double>;
  { kurtosis(d) } -> std::convertible_to<double>;
  support(d);
};

/// Mean, variance, kurtosis (not excess) and skewness of a law.
struct law_moments {
  double mean;
  double variance;
  double kurtosis;
  double skewness;
};

/// Any law, as a value: cheap to copy (the law itself is shared and immutable).
class any_law {
 public:
  /// Wraps `law`; `description` overrides the law's own (describe(law)) in reports.
  // (any_law itself is excluded first, so that checking its own copy constructor does not
  // recurse into the concept.)
  template <class D>
  requires(!std::same_as<std::remove_cvref_t<D>, any_law> && distribution<D>)
      any_law(D law, std::string description = {})  // NOLINT: implicit, as std::function is
      : self_(std::make_shared<const model<D>>(std::move(law), std::move(description))) {}

  /// F(x); NaN for NaN, 0 below the support and 1 above it. Bitwise equal to cdf_batch.
  double cdf(double x) const { return self_->cdf(x); }
  /// 1 - F(x), accurate far into the upper tail.
  double sf(double x) const { return self_->sf(x); }
  double pdf(double x) const { return self_->pdf(x); }
  double quantile(double p) const { return self_->quantile(p); }
  /// u[k] = cdf(x[k]) for k < m, bitwise; x and u may be the same array.
  void cdf_batch(const double* x, double* u, std::size_t m) const { self_->cdf_batch(x, u, m); }
  /// A non-decreasing function of p near the quantile, to balance KS/A^2 buckets.
  double bucket_edge(double p) const { return self_->bucket_edge(p); }
  /// The support [low, high], with infinities for unbounded ends.
  std::pair<double, double> support() const { return self_->support; }
  /// Whether `high` itself lies outside the support (a uniform's b).
  bool upper_bound_excluded() const { return self_->excluded; }
  const law_moments& moments() const { return self_->moments; }
  /// E (X - mean)^k for 0 <= k <= 8.
  double central_moment(int k) const { return self_->central_moment(k); }
  /// "N(0, 0.0625^2)", or the description given at construction.
  const std::string& description() const { return self_->description; }
  /// The wrapped law if it is a D, else nullptr.
  template <class D>
  const D* target() const noexcept {
    const concept_base& self = *self_;
    return typeid(self) == typeid(model<D>) ? &static_cast<const model<D>&>(self).law : nullptr;
  }

 private:
  struct concept_base {
    std::pair<double, double> support;
    bool excluded = false;
    law_moments moments{};
    std::string description;
    virtual ~concept_base() = default;
    virtual double cdf(double) const = 0;
    virtual double sf(double) const = 0;
    virtual double pdf(double) const = 0;
    virtual double quantile(double) const = 0;
    virtual void cdf_batch(const double*, double*, std::size_t) const = 0;
    virtual double bucket_edge(double) const = 0;
    virtual double central_moment(int) const = 0;
  };
  template <class D>
  struct model final : concept_base {
    D law;
    model(D d, std::string text) : law(std::move(d)) {
      support = detail::dispatch_support(law);
      excluded = detail::dispatch_upper_bound_excluded(law);
      moments = {static_cast<double>(mean(law)), static_cast<double>(variance(law)),
                 static_cast<double>(kurtosis(law)), static_cast<double>(skewness(law))};
      description = text.empty() ? detail::dispatch_describe(law) : std::move(text);
    }
    double cdf(double x) const override { return detail::dispatch_fast_cdf(law, x); }
    double sf(double x) const override {
      if (x != x) return x;
      if (x <= support.first) return 1;
      if (x >= support.second) return 0;
      return detail::dispatch_sf(law, x);
    }
    double pdf(double x) const override {
      if (!(x >= support.first && x <= support.second)) return 0;
      return detail::dispatch_pdf(law, x);
    }
    double quantile(double p) const override { return detail::dispatch_quantile(law, p); }
    void cdf_batch(const double* x, double* u, std::size_t m) const override {
      detail::dispatch_cdf_batch(law, x, u, m);
    }
    double bucket_edge(double p) const override { return detail::dispatch_bucket_edge(law, p); }
    double central_moment(int k) const override { return detail::dispatch_central_moment(law, k); }
  };

  std::shared_ptr<const concept_base> self_;
};

/// The law's description (any_law::description), for messages.
inline const std::string& describe(const any_law& law) { return law.description(); }

}  // namespace verinit::verify
