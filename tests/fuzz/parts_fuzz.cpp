// libFuzzer target for the bytes one process of a distributed run receives from the others
// (distributed.hpp): a tensor's parts (cases_of_parts, then the run of their cases) and a run's
// shares (run_from_shares). Any bytes must give a run or a std::invalid_argument, never a crash,
// a sanitizer report, or an allocation the bytes do not justify. The first byte chooses: even,
// the rest is split in two parts at its middle; odd, it is share 0 of 1 of a fixed request of
// cases held in memory.
// Build and run (clang): cmake --preset fuzz && cmake --build --preset fuzz --target parts_fuzz
//   && build/fuzz/tests/fuzz/parts_fuzz -max_total_time=300 -rss_limit_mb=1024 \
//     tests/fuzz/corpus_parts
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "verinit/verify/distributed.hpp"

namespace {

using namespace verinit::verify;

const run_request& fixed_request() {
  static const run_request request = [] {
    run_request r;
    r.options.threads = 1;
    r.cases.push_back({case_spec::of("he_normal", {16, 32}, verinit::layout::torch,
                                     verinit::dtype::float32, 2048),
                       std::nullopt, "verinit"});
    r.cases.push_back({case_spec::of("zeros", {4, 4}), std::nullopt, "verinit"});
    return r;
  }();
  return request;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto* bytes = reinterpret_cast<const std::byte*>(data + 1);
  const std::size_t rest = size - 1;
  try {
    if ((data[0] & 1) == 0) {
      const std::vector<std::vector<std::byte>> parts{
          std::vector<std::byte>(bytes, bytes + rest / 2),
          std::vector<std::byte>(bytes + rest / 2, bytes + rest)};
      const parts_plan plan = cases_of_parts(parts);
      run_request request;
      request.options.threads = 1;
      request.cases = plan.cases;
      (void)run(request);
    } else {
      const std::vector<std::vector<std::byte>> shares{std::vector<std::byte>(bytes, bytes + rest)};
      (void)run_from_shares(fixed_request(), shares);
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
