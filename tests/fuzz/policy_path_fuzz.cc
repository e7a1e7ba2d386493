// Arbitrary bytes into normalize_path: the result is never longer than the input, a second pass
// changes nothing, it holds no empty, "." or ".." segment, and a smaller scratch either gives
// the same result or the input unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "policy/route_table.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view path(reinterpret_cast<const char*>(data), size);
  std::vector<char> a(size + 1);
  std::vector<char> b(size + 1);
  std::string_view once = gh::policy::normalize_path(path, a.data(), a.size());
  if (once.size() > path.size()) std::abort();
  std::string_view twice = gh::policy::normalize_path(once, b.data(), b.size());
  if (twice != once) std::abort();
  if (!path.empty() && path.front() == '/') {
    if (once.empty() || once.front() != '/') std::abort();
    std::size_t start = 1;
    while (start <= once.size()) {
      std::size_t end = once.find('/', start);
      if (end == std::string_view::npos) end = once.size();
      std::string_view segment = once.substr(start, end - start);
      if (segment == "." || segment == "..") std::abort();
      if (segment.empty() && end != once.size()) std::abort();  // only a trailing slash
      start = end + 1;
    }
  } else if (once.data() != path.data()) {
    std::abort();
  }
  if (size > 0) {
    std::vector<char> small(size / 2);
    std::string_view cut = gh::policy::normalize_path(path, small.data(), small.size());
    if (cut != once && cut.data() != path.data()) std::abort();
  }
  return 0;
}
