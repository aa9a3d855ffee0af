// Checks for the schemes whose weights are not i.i.d.: exact structure (constant, eye, dirac,
// sparse's zero pattern) and orthogonality (Gram matrix, Haar tests across matrices). Each
// takes samples of any dtype.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "verinit/shape.hpp"
#include "verinit/tensor.hpp"
#include "verinit/verify/result.hpp"
#include "verinit/verify/theory.hpp"

namespace verinit::verify {

/// Exact: every element equals `value` rounded to the samples' dtype.
test_result constant_check(const tensor_view& w, double value);
/// Exact: each tensor of `shape` in w (one or more, consecutive) is the identity (2-D) or the
/// conv identity with `groups` (3 to 5 dims).
test_result identity_check(const tensor_view& w, std::span<const std::int64_t> shape, layout layout,
                           const expectation& e);
/// Exact: in each tensor of `shape` in w (one or more, consecutive), each input unit has
/// e.zeros_per_input zeros among its fan_out weights; a few extra zeros overall are allowed
/// (a draw can be exactly 0.0), a missing one never. The non-zero values, unit by unit, go to
/// `nonzeros` (of w's dtype) for the i.i.d. tests.
test_result sparse_pattern_check(const tensor_view& w, std::span<const std::int64_t> shape,
                                 layout layout, const expectation& e, tensor_buffer& nonzeros);

/// Exact within a tolerance: max |W W^T - gain^2 I| (rows <= cols) or |W^T W - gain^2 I| over
/// the `count` matrices in w, against gain^2 * tolerance; tolerance is ~100 eps * sqrt(dim) of
/// the dtype.
test_result gram_check(const tensor_view& matrices, std::int64_t count, std::int64_t rows,
                       std::int64_t cols, double gain);

/// Haar tests across `count` independent matrices (one entry of one matrix is not enough,
/// and entries of one matrix are dependent): (Q_11/gain + 1)/2 ~ Beta((d-1)/2, (d-1)/2),
/// d = max(rows, cols), by KS with the exact D_n law; and the partial trace
/// sum_{i < min(rows, cols)} Q_ii/gain, mean 0 and variance min/max, by a z-test on its mean.
std::vector<test_result> haar_tests(const tensor_view& matrices, std::int64_t count,
                                    std::int64_t rows, std::int64_t cols, double gain);

}  // namespace verinit::verify
