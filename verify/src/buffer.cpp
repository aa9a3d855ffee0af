#include "buffer.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "verinit/detail/huge_pages.hpp"

namespace verinit::verify::detail {
namespace {

constexpr std::size_t huge = verinit::detail::huge_page_bytes;

struct pool_state {
  std::mutex mutex;
  int scopes = 0;
  std::size_t at_most = 0;                          // the smallest bound of the live scopes
  std::vector<std::pair<void*, std::size_t>> idle;  // blocks and their capacities
  std::size_t idle_bytes = 0;
};

// Never destroyed: a buffer freed during the program's exit still finds its pool.
pool_state& pool() noexcept {
  static pool_state* const state = new pool_state;
  return *state;
}

}  // namespace

void* allocate_block(std::size_t bytes, std::size_t& capacity) {
  if (bytes < huge / 4) {
    capacity = 0;
    void* p = std::malloc(bytes > 0 ? bytes : 1);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  if (bytes > static_cast<std::size_t>(-1) - huge) throw std::bad_alloc();
  const std::size_t rounded = (bytes + huge - 1) / huge * huge;
  {
    pool_state& s = pool();
    const std::lock_guard lock(s.mutex);
    std::size_t best = s.idle.size();
    for (std::size_t i = 0; i < s.idle.size(); ++i)
      if (s.idle[i].second >= rounded &&
          (best == s.idle.size() || s.idle[i].second < s.idle[best].second))
        best = i;
    if (best != s.idle.size()) {
      const auto [p, size] = s.idle[best];
      s.idle[best] = s.idle.back();
      s.idle.pop_back();
      s.idle_bytes -= size;
      capacity = size;
      return p;
    }
  }
  void* p = std::aligned_alloc(huge, rounded);
  if (p == nullptr) throw std::bad_alloc();
  verinit::detail::advise_huge_pages(p, rounded);
  capacity = rounded;
  return p;
}

void buffer_deleter::operator()(void* p) const noexcept {
  if (p == nullptr) return;
  if (capacity != 0) {
    pool_state& s = pool();
    const std::lock_guard lock(s.mutex);
    if (s.scopes > 0 && s.idle_bytes + capacity <= s.at_most) {
      try {
        s.idle.emplace_back(p, capacity);
        s.idle_bytes += capacity;
        return;
      } catch (const std::bad_alloc&) {  // no room to remember it: free it
      }
    }
  }
  std::free(p);
}

buffer_pool_scope::buffer_pool_scope(std::size_t keep_at_most) noexcept {
  pool_state& s = pool();
  const std::lock_guard lock(s.mutex);
  s.at_most = s.scopes++ == 0 ? keep_at_most : std::min(s.at_most, keep_at_most);
}

buffer_pool_scope::~buffer_pool_scope() {
  std::vector<std::pair<void*, std::size_t>> freed;
  {
    pool_state& s = pool();
    const std::lock_guard lock(s.mutex);
    if (--s.scopes == 0) {
      freed.swap(s.idle);
      s.idle_bytes = 0;
    }
  }
  for (const auto& [p, size] : freed) std::free(p);
}

std::size_t pooled_bytes() noexcept {
  pool_state& s = pool();
  const std::lock_guard lock(s.mutex);
  return s.idle_bytes;
}

}  // namespace verinit::verify::detail
