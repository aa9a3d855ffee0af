// A sum of doubles kept exactly: the monoid behind every floating-point sum the verifier
// merges (blocks, threads, pieces of a stream, and later machines).
//
// Floating-point addition is not associative, so a sum combined in a different order (another
// thread count, another grouping of a stream's pieces) differs in its last bits. An exact_sum
// holds the sum of its terms as a fixed-point integer wide enough for every double (Kulisch's
// long accumulator: U. Kulisch, "Computer Arithmetic and Validity", 2nd ed., 2013, ch. 7):
// adding a term is exact, so any order of additions and merges gives the same integer, and
// value() rounds it once, to nearest even. Infinities and NaN are tracked beside it.
//
// Cost: a few integer operations per term. The verifier adds one partial sum per block of
// thousands of samples, never one term per sample.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace verinit::verify {

class exact_sum {
 public:
  /// Adds x exactly (an infinity or NaN is remembered, not added).
  void add(double x) noexcept;
  /// Adds another sum exactly.
  exact_sum& operator+=(const exact_sum& other) noexcept;
  exact_sum& operator+=(double x) noexcept {
    add(x);
    return *this;
  }
  /// The exact sum rounded to the nearest double (ties to even); NaN if a NaN was added or
  /// both infinities, else +-inf if one was or the sum overflows.
  double value() const noexcept;

  /// Bitwise identity of the exact value and the flags.
  friend bool operator==(const exact_sum& a, const exact_sum& b) noexcept;

  /// The exact value in a byte form of fixed size (byte_size), and back. from_bytes throws
  /// std::invalid_argument for bytes that are not such a form.
  static constexpr std::size_t limb_count = 70;
  static constexpr std::size_t byte_size = 1 + 8 * limb_count;
  void append_bytes(std::vector<std::byte>& out) const;
  static exact_sum from_bytes(std::span<const std::byte> bytes);

 private:
  // Limb k holds a signed multiple of 2^(32 k - 1074); normalized, limbs 0..n-2 are in
  // [0, 2^32) and the last carries the sign. Adds since the last normalization are counted so
  // that no limb can overflow (each add moves a limb by < 2^32; 2^30 adds stay far below 2^63).
  void normalize() noexcept;
  std::array<std::int64_t, limb_count> limbs_{};
  std::uint32_t pending_ = 0;
  bool positive_infinity_ = false, negative_infinity_ = false, nan_ = false;
};

}  // namespace verinit::verify
