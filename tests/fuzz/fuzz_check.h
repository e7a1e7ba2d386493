// Shared by the fuzz targets: checks that abort (so libFuzzer records the input) with a message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace gh::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
  std::abort();
}

// For harnesses that name each invariant in words.
inline void check(bool ok, const char* what) {
  if (!ok) fail("fuzz", 0, what);
}

// True when `inner` lies within `outer` (an empty view anywhere counts as inside).
inline bool inside(std::string_view outer, std::string_view inner) {
  if (inner.data() == nullptr) return inner.empty();
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// The fuzzer's bytes read one at a time, for harnesses that draw operations from them; zeros once
// they run out.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace gh::fuzz

#define FUZZ_CHECK(cond)                                         \
  do {                                                           \
    if (!(cond)) ::gh::fuzz::fail(__FILE__, __LINE__, #cond);    \
  } while (0)
