// Internal: Haar-random orthogonal matrices (QR of a Gaussian matrix, Mezzadri 2007).
#pragma once

#include <cstdint>
#include <span>

namespace verinit::detail {

/// On entry `matrix` (rows x cols, row-major) holds i.i.d. N(0, 1) entries; on exit it holds
/// Q, with orthonormal rows if rows <= cols and orthonormal columns otherwise, Haar-distributed:
/// the law of PyTorch's sign-corrected QR (Mezzadri 2007), built as in Stewart 1980 (see the
/// .cpp). Only the lower trapezoid of the tall orientation is read.
/// Serial and deterministic: Eigen is not allowed to thread it (its GEMM blocking depends on
/// the thread count, which would make the bits depend on it too).
void orthogonalize(std::span<double> matrix, std::int64_t rows, std::int64_t cols);

}  // namespace verinit::detail
