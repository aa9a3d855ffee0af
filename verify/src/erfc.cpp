// See verinit/verify/detail/erfc.hpp.
#include "verinit/verify/detail/erfc.hpp"

#include <cmath>

#if defined(VERINIT_HAVE_LIBMVEC) && defined(__x86_64__)  // found by CMake
#define VERINIT_LIBMVEC 1
#include <immintrin.h>
// libmvec's entry points, named by the x86-64 vector function ABI (b: SSE2, d: AVX2).
extern "C" __m128d _ZGVbN2v_erfc(__m128d);
// Declared for AVX2 (where its 256-bit argument is passed in a register): GCC and Clang.
extern "C" __attribute__((target("avx2,fma"))) __m256d _ZGVdN4v_erfc(__m256d);
#endif

namespace verinit::verify::detail {
namespace {

#ifdef VERINIT_LIBMVEC
__attribute__((target("avx2,fma"))) void erfc_avx2(const double* in, double* out,
                                                   std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, _ZGVdN4v_erfc(_mm256_loadu_pd(in + i)));
  if (i < n) {  // the tail through a padded block: the same kernel, lane by lane
    alignas(32) double block[4] = {0, 0, 0, 0};
    for (std::size_t k = i; k < n; ++k) block[k - i] = in[k];
    _mm256_store_pd(block, _ZGVdN4v_erfc(_mm256_load_pd(block)));
    for (std::size_t k = i; k < n; ++k) out[k] = block[k - i];
  }
}

void erfc_sse2(const double* in, double* out, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(out + i, _ZGVbN2v_erfc(_mm_loadu_pd(in + i)));
  if (i < n) out[i] = _mm_cvtsd_f64(_ZGVbN2v_erfc(_mm_set1_pd(in[i])));
}

using kernel = void (*)(const double*, double*, std::size_t) noexcept;
// Chosen on first use (a function-local static: thread-safe, and after the CPU model is known;
// a namespace-scope initializer could run before libgcc's).
kernel chosen() noexcept {
  static const kernel k = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? erfc_avx2 : erfc_sse2;
  }();
  return k;
}
#endif

}  // namespace

void erfc_batch(const double* in, double* out, std::size_t n) noexcept {
#ifdef VERINIT_LIBMVEC
  chosen()(in, out, n);
#else
  for (std::size_t i = 0; i < n; ++i) out[i] = std::erfc(in[i]);
#endif
}

double erfc_one(double x) noexcept {
  double out;
  erfc_batch(&x, &out, 1);
  return out;
}

}  // namespace verinit::verify::detail
