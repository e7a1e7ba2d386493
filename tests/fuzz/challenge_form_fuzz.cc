// Fuzzes the solution form / level-0 query parser and safe_return_path. Invariants: no crash;
// views stay inside the Solution; an Ok result has a non-empty token of at most 512 bytes, a
// nonce of 1-20 digits (POST) or none (GET), and a safe return path; safe_return_path agrees with
// a plain reference; the level-0 URL built from a token and return parses back to both.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "stages/challenge/form.h"
#include "stages/challenge/pages.h"

namespace {

using namespace gh::challenge;

bool reference_safe(std::string_view p) {
  if (p.empty() || p.size() > 1024 || p.front() != '/') return false;
  if (p.size() >= 2 && p[1] == '/') return false;
  for (unsigned char c : p) {
    if (c < 0x21 || c > 0x7e || c == '\\') return false;
  }
  return true;
}

void check_ok(const Solution& s, bool post) {
  FUZZ_CHECK(!s.token().empty() && s.token().size() <= kMaxTokenBytes);
  if (post) {
    FUZZ_CHECK(!s.nonce().empty() && s.nonce().size() <= 20);
    for (char c : s.nonce()) FUZZ_CHECK(c >= '0' && c <= '9');
  } else {
    FUZZ_CHECK(s.nonce().empty());
  }
  FUZZ_CHECK(safe_return_path(s.return_path()));
  FUZZ_CHECK(s.return_path().size() <= kMaxReturnBytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Solution s;
  const std::string_view self(reinterpret_cast<const char*>(&s), sizeof(s));

  if (parse_solution_form(in, s) == FormStatus::Ok) check_ok(s, true);
  FUZZ_CHECK(gh::fuzz::inside(self, s.token()) && gh::fuzz::inside(self, s.nonce()));
  if (parse_wait_query(in, s) == FormStatus::Ok) check_ok(s, false);

  FUZZ_CHECK(safe_return_path(in) == reference_safe(in));
  const std::string_view r = return_or_root(in);
  FUZZ_CHECK(safe_return_path(r));

  // Split the input into a token and a return path; the level-0 URL must carry both back.
  const std::size_t cut = in.find('\n');
  if (cut != std::string_view::npos) {
    const std::string_view token = in.substr(0, cut);
    const std::string_view ret = in.substr(cut + 1);
    if (!token.empty() && token.size() <= kMaxTokenBytes) {
      std::string url;
      append_wait_url(token, ret, url);
      const std::string_view query = std::string_view(url).substr(url.find('?') + 1);
      FUZZ_CHECK(parse_wait_query(query, s) == FormStatus::Ok);
      FUZZ_CHECK(s.token() == token);
      FUZZ_CHECK(s.return_path() == return_or_root(ret));
    }
  }
  return 0;
}
