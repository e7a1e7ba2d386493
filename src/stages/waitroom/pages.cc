#include "stages/waitroom/pages.h"

#include <algorithm>
#include <cstddef>

#include "core/html.h"
#include "http/parser.h"
#include "http/text.h"

namespace gh::waitroom {
namespace {

// Dark text on white (about 17:1) and links at about 8:1; the operator's theme comes after it
// and may override anything.
constexpr std::string_view kBaseCss =
    "body{font:1.125rem/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff;margin:0}"
    "main{max-width:36rem;margin:3rem auto;padding:0 1rem}"
    "h1{font-size:1.6rem;line-height:1.25}"
    ".status{font-size:1.25rem;border-left:4px solid #1a4d8f;padding-left:.75rem}"
    "a{color:#0b4a9e}small{color:#3d3d3d}";

void append_num(std::string& out, std::uint64_t n) {
  out += std::to_string(n);
}

void append_css(std::string& out, std::string_view css) {
  core::append_css_inlined(out, css);
}

void head(std::string& out, std::string_view lang, std::string_view title,
          std::string_view site_name, std::string_view theme_css, std::uint32_t refresh_s) {
  out += "<!doctype html>\n<html lang=\"";
  append_escaped(out, lang.empty() ? std::string_view("en") : lang);
  out +=
      "\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">";
  if (refresh_s > 0) {
    out += "<meta http-equiv=\"refresh\" content=\"";
    append_num(out, refresh_s);
    out += "\">";
  }
  out += "<title>";
  append_escaped(out, title);
  if (!site_name.empty()) {
    out += " \xe2\x80\x93 ";  // en dash
    append_escaped(out, site_name);
  }
  out += "</title><style>";
  out += kBaseCss;
  append_css(out, theme_css);
  out += "</style></head>\n<body><main>\n<h1>";
  append_escaped(out, title);
  out += "</h1>\n";
}

// "a minute" reads better than "less than a minute" after "try again in".
std::string retry_words(std::uint32_t s) {
  return s < 60 ? "a minute" : eta_words(s);
}

void tail(std::string& out) {
  out += "</main></body></html>\n";
}

// RFC 9110 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")], as thousandths; -1 when malformed.
int parse_q(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return -1;
  int q = (v[0] - '0') * 1000;
  if (v.size() == 1) return q;
  if (v[1] != '.' || v.size() > 5) return -1;
  int scale = 100;
  for (std::size_t i = 2; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return -1;
    q += (v[i] - '0') * scale;
    scale /= 10;
  }
  return q <= 1000 ? q : -1;
}

struct Preference {
  int specificity = 0;  // 3 exact, 2 type/*, 1 */*; 0 = no range matched
  int q = 0;
};

void consider(Preference& p, int specificity, int q) {
  if (specificity > p.specificity) p = Preference{specificity, q};
}

}  // namespace

void append_escaped(std::string& out, std::string_view text) {
  core::append_html_escaped(out, text);
}

std::string eta_words(std::uint32_t s) {
  if (s == kEtaUnknown) return "unknown";
  if (s < 60) return "less than a minute";
  if (s < 3600) {
    const std::uint32_t m = (s + 59) / 60;
    if (m == 1) return "about 1 minute";
    if (m < 60) return "about " + std::to_string(m) + " minutes";
  }
  const std::uint64_t h = (std::uint64_t{s} + 1800) / 3600;  // to the nearest hour
  if (h <= 1) return "about 1 hour";
  return "about " + std::to_string(h) + " hours";
}

std::string queue_page(const QueuePage& p) {
  std::string out;
  out.reserve(2048 + p.theme_css.size());
  head(out, p.lang, "You are in line", p.site_name, p.theme_css, p.refresh_s);
  out += "<p class=\"status\" role=\"status\" aria-live=\"polite\">You are number <strong>";
  append_num(out, p.position);
  out += "</strong> in line. Estimated wait: ";
  if (p.eta_s == kEtaUnknown) {
    out += "we cannot estimate it right now.";
  } else {
    out += eta_words(p.eta_s);
    out += '.';
  }
  out += "</p>\n<p>Many people are signing up";
  if (!p.site_name.empty()) {
    out += " to ";
    append_escaped(out, p.site_name);
  }
  out +=
      " right now. To keep the service working for everyone, new sign-ups are let in a few at a "
      "time, in the order people arrived.</p>\n<p>Keep this page open: it refreshes itself every ";
  if (p.refresh_s == 1) {
    out += "second";
  } else {
    append_num(out, p.refresh_s);
    out += " seconds";
  }
  out +=
      " and takes you to the sign-up form when it is your turn. Reloading it does not "
      "lose your place. If you already have an account, logging in works as usual.</p>\n"
      "<p><small>Your arrival time is kept in a cookie in this browser, so you keep your order "
      "even if our servers restart; places may be reset then. Clearing cookies or changing "
      "browser starts you again at the back.</small></p>\n";
  tail(out);
  return out;
}

std::string queue_json(const QueuePage& p) {
  std::string out = "{\"status\":\"queued\",\"position\":";
  append_num(out, p.position);
  out += ",\"eta_seconds\":";
  if (p.eta_s == kEtaUnknown) {
    out += "null";
  } else {
    append_num(out, p.eta_s);
  }
  out += ",\"retry_after\":";
  append_num(out, p.refresh_s);
  out += '}';
  return out;
}

std::string closed_page(const ClosedPage& p) {
  std::string out;
  out.reserve(2048 + p.theme_css.size());
  head(out, p.lang, "Registrations are paused", p.site_name, p.theme_css, 0);
  out += "<p class=\"status\" role=\"status\">New accounts cannot be created right now";
  if (!p.site_name.empty()) {
    out += " on ";
    append_escaped(out, p.site_name);
  }
  out += ".</p>\n<p>If you already have an account, you can still ";
  if (!p.login_url.empty()) {
    out += "<a href=\"";
    append_escaped(out, p.login_url);
    out += "\">log in</a>";
  } else {
    out += "log in";
  }
  out += " as usual.</p>\n<p>Please try again later (in ";
  out += retry_words(p.retry_after_s);
  out += ").</p>\n";
  tail(out);
  return out;
}

std::string closed_json(const ClosedPage& p) {
  std::string out =
      "{\"error\":\"signup_closed\",\"message\":\"Registrations are paused. Existing users can "
      "still log in. Try again later.\",\"retry_after\":";
  append_num(out, p.retry_after_s);
  out += '}';
  return out;
}

std::string full_page(const FullPage& p) {
  std::string out;
  out.reserve(2048 + p.theme_css.size());
  const bool prefix = p.reason == Answer::Kind::PrefixFull;
  head(out, p.lang, "The waiting room is full", p.site_name, p.theme_css, 0);
  out += "<p class=\"status\" role=\"status\">";
  out += prefix ? "Too many people from your network are already waiting in line."
                : "The line for new sign-ups is full right now.";
  out += "</p>\n<p>Please try again in ";
  out += retry_words(p.retry_after_s);
  out += ". If you already have an account, logging in works as usual.</p>\n";
  if (prefix) {
    out +=
        "<p>Each network may hold only a limited number of places, so that no single network "
        "can fill the line.</p>\n";
  }
  tail(out);
  return out;
}

std::string full_json(const FullPage& p) {
  const bool prefix = p.reason == Answer::Kind::PrefixFull;
  std::string out = prefix ? "{\"error\":\"prefix_full\",\"message\":\"Too many places are held "
                             "from your network. Try again later.\",\"retry_after\":"
                           : "{\"error\":\"queue_full\",\"message\":\"The waiting room is full. "
                             "Try again later.\",\"retry_after\":";
  append_num(out, p.retry_after_s);
  out += '}';
  return out;
}

bool wants_json(std::string_view accept) {
  Preference json;
  Preference html;
  while (!accept.empty()) {
    const std::size_t comma = accept.find(',');
    std::string_view element = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);

    const std::size_t semi = element.find(';');
    const std::string_view range = http::trim_ows(element.substr(0, semi));
    int q = 1000;
    bool valid = true;
    std::string_view params =
        semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
    while (!params.empty()) {
      const std::size_t next = params.find(';');
      const std::string_view param = http::trim_ows(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      const std::size_t eq = param.find('=');
      if (eq != std::string_view::npos && http::iequals(http::trim_ows(param.substr(0, eq)), "q")) {
        q = parse_q(http::trim_ows(param.substr(eq + 1)));
        if (q < 0) valid = false;
      }
    }
    if (!valid) continue;  // a malformed element says nothing

    const std::size_t slash = range.find('/');
    if (slash == std::string_view::npos) continue;
    const std::string_view type = range.substr(0, slash);
    const std::string_view sub = range.substr(slash + 1);
    if (type == "*" && sub == "*") {
      consider(json, 1, q);
      consider(html, 1, q);
    } else if (http::iequals(type, "application")) {
      if (sub == "*") consider(json, 2, q);
      if (http::iequals(sub, "json")) consider(json, 3, q);
    } else if (http::iequals(type, "text")) {
      if (sub == "*") consider(html, 2, q);
      if (http::iequals(sub, "html")) consider(html, 3, q);
    }
  }
  // Equal q: a type named outright beats one reached only through a wildcard, so
  // "application/json, text/plain, */*" (axios, many SDKs) gets JSON; a full tie gets HTML.
  if (json.q != html.q) return json.q > html.q;
  return json.specificity > html.specificity && json.q > 0;
}

}  // namespace gh::waitroom
