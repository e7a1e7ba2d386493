// Pages and the Accept helper over arbitrary text. Every interpolated string is escaped, so a
// page rendered with hostile strings has exactly as many '<' as the same page with harmless
// ones, and one <style>/<title> each; JSON answers never carry input; wants_json never crashes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "stages/waitroom/pages.h"

using namespace gh::waitroom;

namespace {

std::size_t count(std::string_view s, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string_view::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

std::size_t lt(std::string_view s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '<'));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  // Split into four fields at 0xff bytes (missing fields are empty).
  std::string_view f[4];
  std::string_view rest = all;
  for (int i = 0; i < 4; ++i) {
    const std::size_t cut = rest.find('\xff');
    f[i] = rest.substr(0, cut);
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
  }
  const bool json = wants_json(all);
  FUZZ_CHECK(json == wants_json(std::string(all)));

  const std::uint32_t n =
      size >= 4 ? static_cast<std::uint32_t>(data[0]) << 24 | data[1] << 16 | data[2] << 8 | data[3]
                : 7;
  QueuePage q;
  q.position = n;
  q.eta_s = n ^ 0x5555'5555;
  q.refresh_s = n % 100;
  QueuePage q0 = q;
  q0.site_name = "x";
  q.site_name = f[0];
  q.theme_css = f[1];
  q.lang = f[2].empty() ? std::string_view("x") : f[2];
  q0.lang = "x";
  const std::string page = queue_page(q);
  FUZZ_CHECK(lt(page) == lt(queue_page(q0)));
  FUZZ_CHECK(count(page, "</style>") == 1);
  FUZZ_CHECK(count(page, "</title>") == 1);
  const std::string qj = queue_json(q);
  FUZZ_CHECK(qj == queue_json(q0));

  ClosedPage c;
  c.retry_after_s = n;
  c.site_name = f[0];
  c.login_url = f[3].empty() ? std::string_view("x") : f[3];
  c.theme_css = f[1];
  ClosedPage c0 = c;
  c0.site_name = "x";
  c0.login_url = "x";
  c0.theme_css = "";
  FUZZ_CHECK(lt(closed_page(c)) == lt(closed_page(c0)));
  FUZZ_CHECK(closed_json(c) == closed_json(c0));

  FullPage p;
  p.reason = n & 1 ? Answer::Kind::PrefixFull : Answer::Kind::QueueFull;
  p.retry_after_s = n;
  p.site_name = f[0];
  p.theme_css = f[1];
  FullPage p0 = p;
  p0.site_name = "x";
  p0.theme_css = "";
  FUZZ_CHECK(lt(full_page(p)) == lt(full_page(p0)));
  const std::string w = eta_words(n);
  FUZZ_CHECK(!w.empty() && lt(w) == 0);
  return 0;
}
