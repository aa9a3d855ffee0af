// Orthogonal matrices by Householder QR (Eigen), with the sign correction of
// F. Mezzadri, "How to generate random matrices from the classical compact groups",
// Notices of the AMS 54(5), 2007: Q from plain QR is not Haar-distributed unless each column
// is multiplied by sign(R_ii). PyTorch's orthogonal_ does the same (q *= sign(diag(r))).
#define EIGEN_DONT_PARALLELIZE
#include "orthogonal.hpp"

#include <Eigen/Dense>

namespace verinit::detail {

void orthogonalize(std::span<double> matrix, std::int64_t rows, std::int64_t cols) {
  using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<row_major> m(matrix.data(), rows, cols);
  // Factor the tall orientation: A = m if rows >= cols, else m^T (a row-major m read as
  // column-major is exactly m^T, so no copy is needed beyond Eigen's working matrix).
  const bool tall = rows >= cols;
  const Eigen::Index height = tall ? rows : cols;
  const Eigen::Index width = tall ? cols : rows;
  Eigen::MatrixXd a = tall ? Eigen::MatrixXd(m) : Eigen::MatrixXd(m.transpose());
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(std::move(a));
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(height, width);
  const auto diagonal = qr.matrixQR().diagonal();
  for (Eigen::Index j = 0; j < width; ++j)
    if (diagonal(j) < 0) q.col(j) *= -1;
  if (tall)
    m = q;
  else
    m = q.transpose();
}

}  // namespace verinit::detail
