// Client profiles: the request head a population's client writes, field by field and in order.
// `browser` is Google Chrome as it speaks HTTP/1.1: the fields and their order were captured from
// Debian's Chromium 156 (navigations, a link, a form POST, form.submit() from a script, the GET
// after a 303, fetch() with and without script-set fields), with Google Chrome's brand list and a
// Windows user agent. `perfect` writes the very same bytes: a farm that imitates a browser without
// a flaw. `headless` is an imperfect imitation (its tells are chosen per population), `scripted` a
// bare HTTP library (python-requests), `app` a mobile app's HTTP client (okhttp), and `default`
// what the simulator sent before profiles existed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gh::sim {

enum class Profile : std::uint8_t { Default, Browser, Scripted, Headless, Perfect, App };

// Tells of a headless imitation (bits of PopulationConfig::tells).
enum Tell : unsigned {
  kTellHeadlessUa = 1,        // "HeadlessChrome/..." in User-Agent (Linux), Chromium's brands only
  kTellNoClientHints = 2,     // no sec-ch-ua, sec-ch-ua-mobile, sec-ch-ua-platform
  kTellNoAcceptLanguage = 4,  // no Accept-Language (headless Chrome without a locale)
  kTellLanguageEarly = 8,     // Accept-Language right after User-Agent (a driver's locale override)
  kTellFieldOrder = 16,       // Host, User-Agent, then the rest by name (Go's net/http writes so)
};
inline constexpr unsigned kDefaultHeadlessTells = kTellHeadlessUa | kTellNoAcceptLanguage;

std::optional<Profile> profile_of(std::string_view name);  // "browser", ...
const char* profile_name(Profile p);
std::optional<unsigned> tell_of(std::string_view name);  // "headless-ua", ...
const char* tell_name(unsigned tell);

// What the request is, as a browser would have come to send it.
enum class Kind : std::uint8_t {
  Navigate,      // a typed address or a bookmark: Sec-Fetch-Site none
  Link,          // a same-origin link followed by the user: Referer
  Redirect,      // the GET that follows a 303 after a form POST
  FormPost,      // a form the user submitted: Origin, Referer, Cache-Control
  ScriptSubmit,  // form.submit() from a page's script (a challenge solver): no Sec-Fetch-User
  Fetch,         // fetch() from a page, or an app's API call: JSON
};

struct HeadSpec {
  std::string_view method = "GET";
  std::string_view path = "/";
  std::string_view authority;  // Host, and the origin http://<authority>
  Kind kind = Kind::Navigate;
  std::string_view referer;       // path of the page the request comes from; "" = none
  bool user_activated = true;     // Redirect: whether the POST before it was the user's doing
  std::string_view content_type;  // "" = no Content-Type
  std::optional<std::size_t> content_length;
  std::string_view cookie;  // the Cookie field's value; "" = none
  // Authorization: Bearer <this>; "" = none. Chrome sends it only with Kind::Fetch (a script's
  // field); navigations never carry it.
  std::string_view bearer;
  // The default profile's Accept and User-Agent: a resident's browser, or the API client.
  bool default_browser = false;
  // The simulator's own fields, each ending in CRLF (X-Sim-Population, X-Forwarded-For): after
  // Accept for `default` (where they always were), last for every other profile.
  std::string_view extra;
};

// The request line and the fields, each line ending in CRLF, without the empty line that ends the
// head. `tells` matters for Profile::Headless only.
std::string request_head(Profile p, unsigned tells, const HeadSpec& s);

// The values the profiles use, for tests and the README.
inline constexpr std::string_view kChromeUserAgent =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36";
inline constexpr std::string_view kHeadlessUserAgent =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36";
inline constexpr std::string_view kScriptedUserAgent = "python-requests/2.31.0";
inline constexpr std::string_view kAppUserAgent = "okhttp/4.12.0";

}  // namespace gh::sim
