// What a challenged client is shown: the proof-of-work page, the level-0 (no JavaScript) waiting
// page, the script, and the JSON form for API clients. Every interpolated value is escaped for
// its context (HTML text/attribute, URL query component, JSON string, CSS raw text).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gh::challenge {

struct ChallengePage {
  std::string_view token;          // the challenge token's text (also the PoW challenge string)
  std::uint8_t bits = 0;           // leading zero bits (levels >= 1)
  std::uint8_t level = 0;          // 0 = wait page, no proof of work
  std::string_view return_path;    // where to go afterwards; anything not safe_return_path is "/"
  std::int64_t wait_ms = 0;        // nojs_wait_ms(refresh_wait, level)
  std::int64_t expires_in_ms = 0;  // what is left of the challenge's lifetime
  std::string_view theme_css;      // operator CSS (challenge.theme_css_file), inlined
};

// How long a client without JavaScript waits before the level-0 URL is accepted:
// refresh_wait × (1 + level). Level 0 waits refresh_wait; every proof-of-work level adds one
// more, so skipping the work by waiting gets slower as the ladder rises. The server must refuse
// the level-0 GET before token.issued_ms + this.
std::int64_t nojs_wait_ms(std::int64_t refresh_wait_ms, std::uint8_t level);

// "/.gatehouse/challenge?token=T" plus "&return=R" (percent-encoded) unless the return is "/".
void append_wait_url(std::string_view token, std::string_view return_path, std::string& out);

// Pages are appended to `out` (reuse one string to avoid allocating per response).
// Proof of work (HTML): a form the script fills in and posts; <noscript> meta refresh to the
// level-0 URL after page.wait_ms. The operator CSS is inlined with every '<' written as the CSS
// escape "\3c " so that it cannot close the <style> element.
void render_pow_page(const ChallengePage& page, std::string& out);
// Level 0 (HTML): meta refresh to the level-0 URL after page.wait_ms, a visible link, and why.
void render_wait_page(const ChallengePage& page, std::string& out);
// JSON for API clients (the caller answers 403): PoW for level >= 1, wait for level 0.
void render_challenge_json(const ChallengePage& page, std::string& out);

// The script of /.gatehouse/challenge.js (application/javascript; cacheable, it never changes
// within one build). It runs the search in Web Workers, falling back to the page's own thread.
std::string_view challenge_script();

}  // namespace gh::challenge
