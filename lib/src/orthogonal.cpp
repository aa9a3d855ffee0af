// Haar-random orthogonal matrices.
//
// PyTorch's orthogonal_ takes the QR of a Gaussian matrix and multiplies each column of Q by
// sign(R_kk) (F. Mezzadri, "How to generate random matrices from the classical compact groups",
// Notices of the AMS 54(5), 2007): without that correction Q is not Haar-distributed.
// We sample the same law at half the cost (G. W. Stewart, "The efficient generation of random
// orthogonal matrices with an application to condition estimators", SIAM J. Numer. Anal.
// 17(3), 1980): in the Householder QR of a Gaussian matrix A, the k-th reflector is built
// from column k of H_{k-1}...H_1 A below the diagonal, which, A's law being invariant under
// rotations and its columns independent, is a fresh standard Gaussian vector independent of
// the earlier reflectors. So the reflectors are built directly from the lower trapezoid of A,
// and only Q = H_1...H_n diag(sign(R_kk)) is formed (R_kk is each reflector's beta), skipping
// the factorization's update of the trailing columns.
#define EIGEN_DONT_PARALLELIZE
#include "orthogonal.hpp"

#include <Eigen/Dense>

namespace verinit::detail {

void orthogonalize(std::span<double> matrix, std::int64_t rows, std::int64_t cols) {
  using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<row_major> m(matrix.data(), rows, cols);
  // Work in the tall orientation A (height >= width): m itself, or m^T for a wide matrix.
  const bool tall = rows >= cols;
  const Eigen::Index height = tall ? rows : cols;
  const Eigen::Index width = tall ? cols : rows;
  Eigen::MatrixXd a = tall ? Eigen::MatrixXd(m) : Eigen::MatrixXd(m.transpose());
  Eigen::VectorXd taus(width);
  Eigen::VectorXd signs(width);
  for (Eigen::Index k = 0; k < width; ++k) {
    double tau = 0, beta = 0;
    // Stores the reflector's essential part in place, below the diagonal.
    a.col(k).tail(height - k).makeHouseholderInPlace(tau, beta);
    taus(k) = tau;
    signs(k) = beta < 0 ? -1.0 : 1.0;  // R_kk = beta
  }
  Eigen::MatrixXd q =
      Eigen::householderSequence(a, taus) * Eigen::MatrixXd::Identity(height, width);
  q *= signs.asDiagonal();
  if (tall)
    m = q;
  else
    m = q.transpose();
}

}  // namespace verinit::detail
