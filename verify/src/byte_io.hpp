// Internal: little-endian byte forms of the states and results that move between processes (a
// stream_state's to_bytes, a rank's share of a distributed run). The reader checks every length
// against the bytes left before it allocates, and throws std::invalid_argument naming what it
// reads (`what`) and the offset.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "verinit/verify/exact_sum.hpp"

namespace verinit::verify::detail {

class byte_writer {
 public:
  explicit byte_writer(std::vector<std::byte>& out) : out_(out) {}
  void u64(std::uint64_t v) {
    for (int b = 0; b < 8; ++b) out_.push_back(static_cast<std::byte>(v >> (8 * b)));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void sum(const exact_sum& s) { s.append_bytes(out_); }
  void bytes(std::span<const std::byte> b) {
    u64(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void string(std::string_view s) { bytes(std::as_bytes(std::span(s.data(), s.size()))); }
  void doubles(std::span<const double> v) {
    u64(v.size());
    for (double x : v) f64(x);
  }
  void integers(std::span<const std::int64_t> v) {
    u64(v.size());
    for (std::int64_t x : v) i64(x);
  }
  std::vector<std::byte>& out() { return out_; }

 private:
  std::vector<std::byte>& out_;
};

class byte_reader {
 public:
  byte_reader(std::span<const std::byte> bytes, std::string what)
      : bytes_(bytes), what_(std::move(what)) {}
  [[noreturn]] void fail(const std::string& problem) const {
    throw std::invalid_argument(what_ + " bytes at offset " + std::to_string(at_) + ": " + problem);
  }
  std::uint64_t u64() {
    if (bytes_.size() - at_ < 8) fail("they end early");
    std::uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v |= static_cast<std::uint64_t>(bytes_[at_ + b]) << (8 * b);
    at_ += 8;
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  std::int64_t count(const char* what) {
    const std::int64_t v = i64();
    if (v < 0) fail(std::string(what) + " is negative");
    return v;
  }
  double f64() { return std::bit_cast<double>(u64()); }
  exact_sum sum() {
    if (bytes_.size() - at_ < exact_sum::byte_size) fail("they end inside a sum");
    const exact_sum s = exact_sum::from_bytes(bytes_.subspan(at_, exact_sum::byte_size));
    at_ += exact_sum::byte_size;
    return s;
  }
  /// `count` doubles, only if the bytes hold them.
  std::vector<double> doubles(std::uint64_t count) {
    if (count > (bytes_.size() - at_) / 8) fail("a length exceeds what the bytes hold");
    std::vector<double> v(static_cast<std::size_t>(count));
    for (double& x : v) x = f64();
    return v;
  }
  /// The forms byte_writer::doubles, integers, bytes and string wrote (their length first).
  std::vector<double> doubles() { return doubles(u64()); }
  std::vector<std::int64_t> integers() {
    const std::uint64_t count = u64();
    if (count > (bytes_.size() - at_) / 8) fail("a length exceeds what the bytes hold");
    std::vector<std::int64_t> v(static_cast<std::size_t>(count));
    for (std::int64_t& x : v) x = i64();
    return v;
  }
  std::span<const std::byte> bytes() {
    const std::uint64_t count = u64();
    if (count > bytes_.size() - at_) fail("a length exceeds what the bytes hold");
    const auto out = bytes_.subspan(at_, static_cast<std::size_t>(count));
    at_ += static_cast<std::size_t>(count);
    return out;
  }
  std::string string() {
    const auto b = bytes();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  std::size_t& position() { return at_; }
  std::span<const std::byte> all() const { return bytes_; }
  bool done() const { return at_ == bytes_.size(); }

 private:
  std::span<const std::byte> bytes_;
  std::string what_;
  std::size_t at_ = 0;
};

}  // namespace verinit::verify::detail
