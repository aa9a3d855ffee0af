// Internal: the rounded laws of one run (grid_tests.hpp), each built once. A rounded law costs
// 65,536 evaluations of its law's cdf, a few milliseconds: a model's layers of one law, and the
// pooled tests after them, share one.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "verinit/verify/grid_tests.hpp"
#include "verinit/verify/runner.hpp"

namespace verinit::verify::detail {

class rounded_laws {
 public:
  /// `law`, the law of `spec`'s scheme on its shape and layout, rounded to `type`.
  /// Safe to call from several threads at once (cases run side by side).
  const rounded_law& of(const case_spec& spec, const any_law& law, dtype type) {
    const std::lock_guard lock(mutex_);
    const std::string key = spec.scheme.spec() + '|' + verinit::to_string(spec.shape) + '|' +
                            std::to_string(static_cast<int>(spec.tensor_layout)) + '|' +
                            std::string(verinit::to_string(type));
    auto& slot = laws_[key];
    if (!slot) slot = std::make_unique<const rounded_law>(law, type);
    return *slot;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<const rounded_law>> laws_;
};

}  // namespace verinit::verify::detail
