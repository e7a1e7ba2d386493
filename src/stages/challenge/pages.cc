#include "stages/challenge/pages.h"

#include <charconv>

#include "core/html.h"
#include "stages/challenge/form.h"

namespace gh::challenge {

namespace {

void append_int(std::int64_t v, std::string& out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

void append_html(std::string_view s, std::string& out) {
  core::append_html_escaped(out, s);
}

void append_query_component(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
}

void append_json_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || c == '<' || c == '>') {
      // '<' and '>' too, so the JSON is inert if a confused client renders it as HTML.
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_css(std::string_view css, std::string& out) {
  core::append_css_inlined(out, css);
}

std::int64_t ceil_seconds(std::int64_t ms) {
  return ms <= 0 ? 0 : (ms + 999) / 1000;
}

// Expected seconds of a search in a browser: 2^bits tries at a conservative 250 000 hashes per
// second (one core of a mid-range phone; desktops with several workers go ten times faster).
std::int64_t estimate_seconds(std::uint8_t bits) {
  if (bits >= 50) return 1 << 30;
  const double tries = static_cast<double>(std::uint64_t{1} << bits);
  const auto s = static_cast<std::int64_t>(tries / 250'000.0 + 0.999);
  return s < 1 ? 1 : s;
}

void append_duration(std::int64_t seconds, std::string& out) {
  if (seconds < 90) {
    append_int(seconds, out);
    out += seconds == 1 ? " second" : " seconds";
  } else {
    append_int((seconds + 59) / 60, out);
    out += " minutes";
  }
}

constexpr std::string_view kBaseCss =
    "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;padding:2rem 1rem;"
    "color:#1a1a1a;background:#fff}main{max-width:36rem;margin:0 auto}"
    "progress{width:100%;height:1.25rem}a{color:#0645ad}"
    "@media (prefers-color-scheme:dark){body{color:#eee;background:#121212}a{color:#8ab4f8}}";

void append_head(const ChallengePage& page, std::string_view refresh_url, bool noscript_refresh,
                 std::string& out) {
  out +=
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"robots\" content=\"noindex, nofollow\">\n"
      "<title>Checking your browser</title>\n";
  if (noscript_refresh) out += "<noscript>";
  out += "<meta http-equiv=\"refresh\" content=\"";
  append_int(ceil_seconds(page.wait_ms), out);
  out += "; url=";
  append_html(refresh_url, out);
  out += "\">";
  if (noscript_refresh) out += "</noscript>";
  out += "\n<style>";
  out += kBaseCss;
  out += "</style>\n";
  if (!page.theme_css.empty()) {
    out += "<style>";
    append_css(page.theme_css, out);
    out += "</style>\n";
  }
  out += "</head>\n<body>\n<main>\n<h1>One moment, please</h1>\n";
}

}  // namespace

std::int64_t nojs_wait_ms(std::int64_t refresh_wait_ms, std::uint8_t level) {
  return refresh_wait_ms * (1 + static_cast<std::int64_t>(level));
}

void append_wait_url(std::string_view token, std::string_view return_path, std::string& out) {
  out += kChallengePath;
  out += "?token=";
  append_query_component(token, out);
  const std::string_view ret = return_or_root(return_path);
  if (ret != "/") {
    out += "&return=";
    append_query_component(ret, out);
  }
}

void render_pow_page(const ChallengePage& page, std::string& out) {
  std::string url;
  append_wait_url(page.token, page.return_path, url);
  append_head(page, url, true, out);
  out +=
      "<p>This site is getting a lot of automated traffic, so before letting a new visitor in it "
      "asks the browser to do a short calculation. There is nothing to click and no picture to "
      "pick: it runs by itself and usually takes about ";
  append_duration(estimate_seconds(page.bits), out);
  out +=
      " (longer on older phones). Afterwards this page continues to where you were going.</p>\n"
      "<form id=\"gh-form\" method=\"post\" action=\"";
  out += kChallengePath;
  out += "\" data-bits=\"";
  append_int(page.bits, out);
  out += "\">\n<input type=\"hidden\" name=\"token\" value=\"";
  append_html(page.token, out);
  out +=
      "\">\n<input type=\"hidden\" name=\"nonce\" value=\"\">\n"
      "<input type=\"hidden\" name=\"return\" value=\"";
  append_html(return_or_root(page.return_path), out);
  out +=
      "\">\n<label for=\"gh-progress\">Progress of the check</label>\n"
      "<progress id=\"gh-progress\" max=\"100\" value=\"0\"></progress>\n"
      "<p id=\"gh-status\" role=\"status\" aria-live=\"polite\">Starting the "
      "check\xe2\x80\xa6</p>\n"
      "</form>\n<noscript><p>JavaScript is turned off, which is fine: this page will continue by "
      "itself in ";
  append_duration(ceil_seconds(page.wait_ms), out);
  out += ". If it does not, <a href=\"";
  append_html(url, out);
  out +=
      "\">continue here</a> once that time has passed.</p></noscript>\n"
      "<p id=\"gh-fallback\" hidden>You can also <a href=\"";
  append_html(url, out);
  out += "\">continue without the calculation</a> after waiting ";
  append_duration(ceil_seconds(page.wait_ms), out);
  out += ".</p>\n</main>\n<script src=\"";
  out += kScriptPath;
  out += "\"></script>\n</body>\n</html>\n";
}

void render_wait_page(const ChallengePage& page, std::string& out) {
  std::string url;
  append_wait_url(page.token, page.return_path, url);
  append_head(page, url, false, out);
  out +=
      "<p>This site checks new visitors before letting them in, to keep automated sign-ups out. "
      "This page will continue by itself in ";
  append_duration(ceil_seconds(page.wait_ms), out);
  out += "; there is nothing you need to do.</p>\n<p>If nothing happens, <a href=\"";
  append_html(url, out);
  out += "\">continue here</a> once that time has passed.</p>\n</main>\n</body>\n</html>\n";
}

void render_challenge_json(const ChallengePage& page, std::string& out) {
  out += "{\"error\":\"challenge\",\"challenge\":{\"algorithm\":";
  if (page.level == 0) {
    std::string url;
    append_wait_url(page.token, page.return_path, url);
    out += "\"wait\",\"token\":";
    append_json_string(page.token, out);
    out += ",\"wait_ms\":";
    append_int(page.wait_ms, out);
    out += ",\"url\":";
    append_json_string(url, out);
  } else {
    out += "\"sha256-leading-zero-bits\",\"token\":";
    append_json_string(page.token, out);
    out += ",\"bits\":";
    append_int(page.bits, out);
    out += ",\"submit\":";
    append_json_string(kChallengePath, out);
  }
  out += ",\"expires_in\":";
  append_int(ceil_seconds(page.expires_in_ms), out);
  out += "}}";
}

}  // namespace gh::challenge
