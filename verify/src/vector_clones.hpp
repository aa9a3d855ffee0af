// Function multiversioning for the verifier's vector loops (internal to verify/src).
//
// The library is built for baseline x86-64 (SSE2: two doubles a vector), so that it runs on
// any x86-64 machine. A few loops gain 3-5x from wider vectors; VERINIT_VECTOR_CLONES compiles
// such a function also for x86-64-v3 (AVX2) and x86-64-v4 (AVX-512), and the dynamic loader
// picks the best the CPU has (GCC's target_clones, through an ifunc). Each clone computes the
// same values element by element; a sum taken in vector lanes may be added up in another
// order on another CPU (never on another thread count). A body shared by several clones must
// be inlined into each ([[gnu::always_inline]]), or it is compiled once, for the baseline.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__)
#define VERINIT_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VERINIT_VECTOR_CLONES
#endif
