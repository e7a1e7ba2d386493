// Arbitrary bytes into canonical_path (byte 0 picks the options). Invariants: the result is never
// longer, rooted, without ';', empty, "." or ".." segments; and, the point of it all, an accepted
// path means to a lenient framework exactly what it means to the routes: decoding it once (with
// %uXXXX, as IIS does), cutting ;parameters, resolving dot segments and folding case gives the
// canonical path, and a second decoding pass changes nothing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/lenient_decode.h"
#include "fuzz_check.h"
#include "http/path.h"

namespace {

using gh::fuzz::check;
using gh::test::lenient_decode;

// Tomcat-like: split on '/', cut each segment at ';', drop empty and ".", ".." pops; lower case.
std::string route_view(std::string_view decoded, bool fold) {
  std::vector<std::string> segs;
  std::size_t i = 1;
  bool trailing = false;
  while (i <= decoded.size()) {
    std::size_t end = decoded.find('/', i);
    const bool last = end == std::string_view::npos;
    if (last) end = decoded.size();
    std::string seg(decoded.substr(i, end - i));
    seg = seg.substr(0, seg.find(';'));
    if (fold) {
      for (char& c : seg) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    trailing = false;
    if (seg.empty() || seg == ".") {
      trailing = last;
    } else if (seg == "..") {
      if (!segs.empty()) segs.pop_back();
      trailing = last;
    } else {
      segs.push_back(seg);
    }
    i = end + 1;
  }
  std::string out;
  for (const std::string& s : segs) out += "/" + s;
  if (out.empty() || trailing) out += "/";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  gh::http::PathOptions o;
  o.fold_case = (data[0] & 1) != 0;
  o.keep_encoded_slashes = (data[0] & 2) != 0;
  const std::string_view path(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<char> a(path.size() + 1);
  const gh::http::PathResult r = gh::http::canonical_path(path, o, a.data(), a.size());
  std::vector<char> again(path.size() + 1);
  const gh::http::PathResult r2 = gh::http::canonical_path(path, o, again.data(), again.size());
  check(r.error == r2.error && r.path == r2.path, "deterministic");
  if (r.error != gh::http::PathError::None) {
    check(!gh::http::describe(r.error).empty(), "an error has a reason");
    return 0;
  }
  const std::string_view out = r.path;
  check(out.size() <= path.size(), "never longer");
  if (path.empty() || path.front() != '/') {
    check(out.data() == path.data(), "a non-path is left alone");
    return 0;
  }
  check(!out.empty() && out.front() == '/', "rooted");
  check(out.find(';') == std::string_view::npos, "no parameters");
  std::size_t start = 1;
  while (start <= out.size()) {
    std::size_t end = out.find('/', start);
    if (end == std::string_view::npos) end = out.size();
    const std::string_view segment = out.substr(start, end - start);
    check(segment != "." && segment != "..", "no dot segments");
    check(!segment.empty() || end == out.size(), "only a trailing slash is empty");
    start = end + 1;
  }
  if (!o.keep_encoded_slashes) {
    const std::string once = lenient_decode(path);
    check(lenient_decode(once) == once, "a second decoding pass reads nothing new");
    check(route_view(once, o.fold_case) == out, "the framework's route is the canonical path");
  }
  return 0;
}
