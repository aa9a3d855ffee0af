// libFuzzer target for the results-document reader (`verinit report --from results.json`): any
// bytes must give a run or a std::invalid_argument, never a crash or a sanitizer report. A
// document it accepts must render (HTML, Markdown, JUnit) without one, and write back to a
// document that reads to the same JSON (to_json(from_json(to_json(run))) == to_json(run)).
// Build and run (clang): cmake --preset fuzz && cmake --build --preset fuzz &&
//   build/fuzz/tests/fuzz/results_fuzz -max_total_time=300 -rss_limit_mb=1024 \
//     tests/fuzz/corpus_results
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "verinit/reports/json.hpp"
#include "verinit/reports/report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  verinit::verify::run_result run;
  try {
    run = verinit::reports::from_json(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  (void)verinit::reports::to_html(run);
  (void)verinit::reports::to_markdown(run);
  (void)verinit::reports::to_junit(run);
  const std::string json = verinit::reports::to_json(run);
  if (verinit::reports::to_json(verinit::reports::from_json(json)) != json) __builtin_trap();
  return 0;
}
