// Samples He-normal weights through the installed package and checks their std.
#include <cmath>
#include <cstdio>
#include <verinit/verinit.hpp>

int main() {
  const verinit::tensor_shape shape{256, 512};
  const auto weights = verinit::sample<float>(shape, verinit::parse_scheme("he_normal"));
  double squares = 0;
  for (const float w : weights) squares += static_cast<double>(w) * w;
  const double std = std::sqrt(squares / static_cast<double>(weights.size()));
  std::printf("he_normal std %.5f (law 0.0625)\n", std);
  return std::fabs(std - 0.0625) < 0.001 ? 0 : 1;  // sampling error ~ 0.0625/sqrt(2*131072)
}
