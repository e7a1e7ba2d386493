#include "sim/profile.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>
#include <vector>

namespace gh::sim {
namespace {

// Google Chrome 156 on Windows. The brand list is Chromium's (as captured) with Google Chrome's
// own brand added; the Accept of a navigation is the captured one.
constexpr std::string_view kChromeBrands =
    R"("Not:A-Brand";v="8", "Chromium";v="156", "Google Chrome";v="156")";
constexpr std::string_view kChromiumBrands = R"("Not:A-Brand";v="8", "Chromium";v="156")";
constexpr std::string_view kNavigateAccept =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
constexpr std::string_view kChromeEncodings = "gzip, deflate, br, zstd";
constexpr std::string_view kChromeLanguages = "en-US,en;q=0.9";

struct Names {
  std::string_view name;
  Profile profile;
};
constexpr std::array<Names, 6> kProfiles{{{"default", Profile::Default},
                                          {"browser", Profile::Browser},
                                          {"scripted", Profile::Scripted},
                                          {"headless", Profile::Headless},
                                          {"perfect", Profile::Perfect},
                                          {"app", Profile::App}}};

struct TellName {
  std::string_view name;
  unsigned tell;
};
constexpr std::array<TellName, 5> kTells{{{"headless-ua", kTellHeadlessUa},
                                          {"no-client-hints", kTellNoClientHints},
                                          {"no-accept-language", kTellNoAcceptLanguage},
                                          {"language-early", kTellLanguageEarly},
                                          {"field-order", kTellFieldOrder}}};

using Field = std::pair<std::string, std::string>;

class Fields {
 public:
  void add(std::string_view name, std::string_view value) {
    v_.emplace_back(std::string(name), std::string(value));
  }
  void add_if(bool cond, std::string_view name, std::string_view value) {
    if (cond) add(name, value);
  }
  std::vector<Field>& list() { return v_; }

 private:
  std::vector<Field> v_;
};

bool has_body_method(std::string_view m) {
  return m != "GET" && m != "HEAD";
}

std::string origin(const HeadSpec& s) {
  return "http://" + std::string(s.authority);
}

std::string referer(const HeadSpec& s) {
  return origin(s) + std::string(s.referer);
}

std::string length_text(const HeadSpec& s) {
  return s.content_length ? std::to_string(*s.content_length) : std::string();
}

// Chrome's fields for one request, in Chrome's order (see the captures named in profile.h).
void chrome_fields(const HeadSpec& s, std::string_view ua, std::string_view brands,
                   std::string_view platform, Fields& f) {
  const bool body = s.content_length.has_value();
  const bool ref = !s.referer.empty();
  const bool cookie = !s.cookie.empty();
  f.add("Host", s.authority);
  f.add("Connection", "keep-alive");
  switch (s.kind) {
    case Kind::Navigate:
    case Kind::Link: {
      const bool link = s.kind == Kind::Link;
      f.add("sec-ch-ua", brands);
      f.add("sec-ch-ua-mobile", "?0");
      f.add("sec-ch-ua-platform", platform);
      f.add("Upgrade-Insecure-Requests", "1");
      f.add("User-Agent", ua);
      f.add("Accept", kNavigateAccept);
      f.add("Sec-Fetch-Site", link ? "same-origin" : "none");
      f.add("Sec-Fetch-Mode", "navigate");
      f.add("Sec-Fetch-User", "?1");
      f.add("Sec-Fetch-Dest", "document");
      f.add_if(link && ref, "Referer", referer(s));
      break;
    }
    case Kind::Redirect:
      // After a 303 Chrome writes the client hints late, after the Sec-Fetch fields.
      f.add("Cache-Control", "max-age=0");
      f.add("Upgrade-Insecure-Requests", "1");
      f.add("User-Agent", ua);
      f.add("Accept", kNavigateAccept);
      f.add("Sec-Fetch-Site", "same-origin");
      f.add("Sec-Fetch-Mode", "navigate");
      f.add_if(s.user_activated, "Sec-Fetch-User", "?1");
      f.add("Sec-Fetch-Dest", "document");
      f.add("sec-ch-ua", brands);
      f.add("sec-ch-ua-mobile", "?0");
      f.add("sec-ch-ua-platform", platform);
      f.add_if(ref, "Referer", referer(s));
      break;
    case Kind::FormPost:
    case Kind::ScriptSubmit:
      f.add_if(body, "Content-Length", length_text(s));
      f.add("Cache-Control", "max-age=0");
      f.add("sec-ch-ua", brands);
      f.add("sec-ch-ua-mobile", "?0");
      f.add("sec-ch-ua-platform", platform);
      f.add("Upgrade-Insecure-Requests", "1");
      f.add_if(!s.content_type.empty(), "Content-Type", s.content_type);
      f.add("User-Agent", ua);
      f.add("Origin", origin(s));
      f.add("Accept", kNavigateAccept);
      f.add("Sec-Fetch-Site", "same-origin");
      f.add("Sec-Fetch-Mode", "navigate");
      f.add_if(s.kind == Kind::FormPost, "Sec-Fetch-User", "?1");
      f.add("Sec-Fetch-Dest", "document");
      f.add_if(ref, "Referer", referer(s));
      break;
    case Kind::Fetch:
      // The fields a script sets (Authorization, Accept, Content-Type) fall between Chrome's own.
      f.add_if(body, "Content-Length", length_text(s));
      f.add("sec-ch-ua-platform", platform);
      f.add_if(!s.bearer.empty(), "Authorization", "Bearer " + std::string(s.bearer));
      f.add("User-Agent", ua);
      f.add("Accept", "application/json");
      f.add("sec-ch-ua", brands);
      f.add_if(!s.content_type.empty(), "Content-Type", s.content_type);
      f.add("sec-ch-ua-mobile", "?0");
      f.add_if(has_body_method(s.method), "Origin", origin(s));
      f.add("Sec-Fetch-Site", "same-origin");
      f.add("Sec-Fetch-Mode", "cors");
      f.add("Sec-Fetch-Dest", "empty");
      f.add_if(ref, "Referer", referer(s));
      break;
  }
  f.add("Accept-Encoding", kChromeEncodings);
  f.add("Accept-Language", kChromeLanguages);
  f.add_if(cookie, "Cookie", s.cookie);
}

void drop(std::vector<Field>& v, std::string_view name) {
  std::erase_if(v, [&](const Field& f) { return f.first == name; });
}

// Go's http.CanonicalHeaderKey: the first letter and every letter after '-' upper case.
std::string canonical(std::string_view name) {
  std::string out(name);
  bool up = true;
  for (char& c : out) {
    c = static_cast<char>(up ? std::toupper(static_cast<unsigned char>(c))
                             : std::tolower(static_cast<unsigned char>(c)));
    up = c == '-';
  }
  return out;
}

void headless_tells(unsigned tells, std::vector<Field>& v) {
  if (tells & kTellNoClientHints) {
    drop(v, "sec-ch-ua");
    drop(v, "sec-ch-ua-mobile");
    drop(v, "sec-ch-ua-platform");
  }
  if (tells & kTellNoAcceptLanguage) drop(v, "Accept-Language");
  if ((tells & kTellLanguageEarly) && !(tells & kTellNoAcceptLanguage)) {
    auto lang = std::find_if(v.begin(), v.end(),
                             [](const Field& f) { return f.first == "Accept-Language"; });
    if (lang != v.end()) {
      Field moved = std::move(*lang);
      v.erase(lang);
      auto ua =
          std::find_if(v.begin(), v.end(), [](const Field& f) { return f.first == "User-Agent"; });
      v.insert(ua == v.end() ? v.end() : ua + 1, std::move(moved));
    }
  }
  if (tells & kTellFieldOrder) {
    for (auto& f : v) f.first = canonical(f.first);
    auto rank = [](const Field& f) {
      return f.first == "Host" ? 0 : f.first == "User-Agent" ? 1 : 2;
    };
    std::stable_sort(v.begin(), v.end(), [&](const Field& a, const Field& b) {
      if (rank(a) != rank(b)) return rank(a) < rank(b);
      return rank(a) == 2 && a.first < b.first;
    });
  }
}

// python-requests 2.31: Host (http.client), the session's defaults, then what the request adds
// (cookies, body, auth) in PreparedRequest.prepare's order.
void scripted_fields(const HeadSpec& s, Fields& f) {
  f.add("Host", s.authority);
  f.add("User-Agent", kScriptedUserAgent);
  f.add("Accept-Encoding", "gzip, deflate");
  f.add("Accept", "*/*");
  f.add("Connection", "keep-alive");
  f.add_if(!s.cookie.empty(), "Cookie", s.cookie);
  f.add_if(s.content_length.has_value(), "Content-Length", length_text(s));
  f.add_if(!s.content_type.empty(), "Content-Type", s.content_type);
  f.add_if(!s.bearer.empty(), "Authorization", "Bearer " + std::string(s.bearer));
}

// okhttp 4: the application's fields first, then the bridge's (Host, Connection,
// Accept-Encoding, Cookie, User-Agent).
void app_fields(const HeadSpec& s, Fields& f) {
  f.add_if(!s.bearer.empty(), "Authorization", "Bearer " + std::string(s.bearer));
  f.add("Accept", "application/json");
  f.add_if(!s.content_type.empty(), "Content-Type", s.content_type);
  f.add_if(s.content_length.has_value(), "Content-Length", length_text(s));
  f.add("Host", s.authority);
  f.add("Connection", "Keep-Alive");
  f.add("Accept-Encoding", "gzip");
  f.add_if(!s.cookie.empty(), "Cookie", s.cookie);
  f.add("User-Agent", kAppUserAgent);
}

}  // namespace

std::optional<Profile> profile_of(std::string_view name) {
  for (const auto& p : kProfiles) {
    if (p.name == name) return p.profile;
  }
  return std::nullopt;
}

const char* profile_name(Profile p) {
  for (const auto& n : kProfiles) {
    if (n.profile == p) return n.name.data();
  }
  return "?";
}

std::optional<unsigned> tell_of(std::string_view name) {
  for (const auto& t : kTells) {
    if (t.name == name) return t.tell;
  }
  return std::nullopt;
}

const char* tell_name(unsigned tell) {
  for (const auto& t : kTells) {
    if (t.tell == tell) return t.name.data();
  }
  return "?";
}

std::string request_head(Profile p, unsigned tells, const HeadSpec& s) {
  std::string h;
  h.reserve(1024);
  h += s.method;
  h += ' ';
  h += s.path;
  h += " HTTP/1.1\r\n";
  if (p == Profile::Default) {
    // Byte for byte what the simulator wrote before profiles, so earlier results compare.
    h += "Host: ";
    h += s.authority;
    h += "\r\n";
    h += s.default_browser
             ? "User-Agent: Mozilla/5.0 (X11; Linux x86_64; gatehouse-sim resident)\r\n"
               "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
             : "User-Agent: gatehouse-sim/0.1\r\nAccept: application/json\r\n";
    h += s.extra;
    if (!s.bearer.empty()) {
      h += "Authorization: Bearer ";
      h += s.bearer;
      h += "\r\n";
    }
    if (!s.cookie.empty()) {
      h += "Cookie: ";
      h += s.cookie;
      h += "\r\n";
    }
    if (!s.content_type.empty()) {
      h += "Content-Type: ";
      h += s.content_type;
      h += "\r\n";
    }
    if (s.content_length) h += "Content-Length: " + std::to_string(*s.content_length) + "\r\n";
    return h;
  }
  Fields f;
  switch (p) {
    case Profile::Browser:
    case Profile::Perfect:
      chrome_fields(s, kChromeUserAgent, kChromeBrands, "\"Windows\"", f);
      break;
    case Profile::Headless:
      if (tells & kTellHeadlessUa) {
        chrome_fields(s, kHeadlessUserAgent, kChromiumBrands, "\"Linux\"", f);
      } else {
        chrome_fields(s, kChromeUserAgent, kChromeBrands, "\"Windows\"", f);
      }
      headless_tells(tells, f.list());
      break;
    case Profile::Scripted:
      scripted_fields(s, f);
      break;
    case Profile::App:
      app_fields(s, f);
      break;
    case Profile::Default:
      break;
  }
  for (const auto& [name, value] : f.list()) {
    h += name;
    h += ": ";
    h += value;
    h += "\r\n";
  }
  h += s.extra;
  return h;
}

}  // namespace gh::sim
