// Filling a weight tensor with a scheme.
//
// Determinism contract of the parallel fill: the tensor, in C order, is cut into blocks of
// fill_block_size elements; block k draws only from Philox4x32-10 with key = seed and
// counter stream = k (see philox.hpp), so the result is bitwise the same on any number of
// threads and on any machine. Different seeds or blocks give independent streams. Sparse's
// zero positions use streams 2^62 + column. Floating-point contraction is disabled in the
// kernels so every build computes the same bits.
//
// Support: in float32 and float64 a uniform on [a, b) returns values in [T(a), T(b)) where T()
// rounds to the output type (never T(b) itself); a truncated normal never leaves
// [T(a), T(b)].
//
// float16 and bfloat16: the law of an element is the scheme's law F rounded to nearest even
// in the dtype (P(g) = F(upper midpoint of g) - F(lower midpoint), subnormals kept, never
// flushed): each value is sampled at float64's resolution (53 random bits, computed in
// double, as the float64 fill) and rounded once. So a uniform on [a, b) can return T(b), and
// a truncated normal's support is [T(a), T(b)]. (At float32's 24 bits the sampler's lattice
// would alias with float16's grid near zero, where its subnormal cells are 2^-24 wide.)
//
// Laws a dtype cannot hold are refused (std::invalid_argument naming the scheme, the dtype
// and the limit), for every dtype: overflow, a mass above 2^-53 beyond the dtype's largest
// finite value (normal(std=1e308) in float32, normal(std=1e5) in float16) or a bound, gain or
// constant that rounds to infinity; underflow, more than half of a normal's (or truncated
// normal's) mass on the one value nearest its mean (normal(std=1e-9) in float16), or a
// non-zero constant that rounds to 0.
//
// Threads: options.threads > 0 runs that many; 0 takes OpenMP's default. The output never
// depends on it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "verinit/engine.hpp"
#include "verinit/scheme.hpp"
#include "verinit/shape.hpp"
#include "verinit/tensor.hpp"

namespace verinit {

/// Elements per block of the parallel fill: part of its determinism contract.
inline constexpr std::int64_t fill_block_size = 1 << 16;

struct fill_options {
  verinit::layout layout = layout::torch;
  std::uint64_t seed = 0;
  int threads = 0;                    ///< OpenMP threads in [0, 4096]; 0: OpenMP's default
  std::optional<fans> explicit_fans;  ///< overrides the fans derived from the shape
};

/// Fills `out` (C order, element_count(out.shape) elements of out.type) with scheme `s`, in
/// parallel and deterministically (see above).
/// Throws std::invalid_argument if out.bytes does not hold exactly element_count(out.shape)
/// aligned elements, the shape has a dim < 1, the law cannot be held by the dtype (above),
/// the scheme needs fans and the shape
/// has fewer than 2 dims and no explicit fans, the scheme does not fit the shape (eye: 2 dims,
/// dirac: 3 to 5, sparse: 2), threads is outside [0, 4096], or the law's bounds collapse in
/// the output type.
void fill(const mutable_tensor_view& out, const scheme& s, const fill_options& options = {});

/// Serial fill that draws every random word from `source` (in order). `options.seed` and
/// `options.threads` are ignored. Same preconditions and exceptions as fill().
void fill_from(const mutable_tensor_view& out, const scheme& s, word_source& source,
               const fill_options& options = {});

/// fill() of typed elements: `out` holds element_count(shape) values.
template <element_type T>
void fill(std::span<T> out, std::span<const std::int64_t> shape, const scheme& s,
          const fill_options& options = {}) {
  fill(mutable_tensor_view{dtype_of<T>, tensor_shape(shape.begin(), shape.end()),
                           std::as_writable_bytes(out)},
       s, options);
}

/// Serial fill driven by any uniform random bit generator, e.g. boost::random::mt19937.
template <element_type T, class Engine>
void fill_with_engine(std::span<T> out, std::span<const std::int64_t> shape, const scheme& s,
                      Engine& engine, const fill_options& options = {}) {
  engine_words<Engine> source(engine);
  fill_from(mutable_tensor_view{dtype_of<T>, tensor_shape(shape.begin(), shape.end()),
                                std::as_writable_bytes(out)},
            s, source, options);
}

/// Allocates and fills a tensor of `shape`.
template <element_type T = float>
std::vector<T> sample(std::span<const std::int64_t> shape, const scheme& s,
                      const fill_options& options = {}) {
  std::vector<T> out(static_cast<std::size_t>(element_count(shape)));
  fill(std::span<T>(out), shape, s, options);
  return out;
}

}  // namespace verinit
