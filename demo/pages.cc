#include "demo/pages.h"

#include <ctime>

#include "demo/forms.h"

namespace gh::demo {
namespace {

constexpr std::string_view kStyle = R"css(
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}
header,main{max-width:32rem;margin:0 auto;padding:1rem}
header{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a,header button{color:#0b57d0}
.brand{font-weight:700;margin-right:auto;text-decoration:none;color:#1b1b1b}
form.inline{display:inline;margin:0}
form.inline button{background:none;border:0;padding:0;font:inherit;text-decoration:underline;cursor:pointer}
main{background:#fff;border:1px solid #dde1e6;border-radius:8px}
label{display:block;font-weight:600;margin-top:1rem}
input{display:block;width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #8a8f98;border-radius:4px}
input[aria-invalid=true]{border-color:#b3261e}
.hint{color:#555;font-size:.9rem;margin:.25rem 0 0}
.error{color:#b3261e;font-weight:600;margin:.25rem 0 0}
main>form>button{margin-top:1.25rem;padding:.5rem 1rem;font:inherit;background:#0b57d0;color:#fff;border:0;border-radius:4px;cursor:pointer}
dt{font-weight:600}dd{margin:0 0 .5rem}
)css";

std::string layout(std::string_view title, std::string_view main_html, const std::string* user) {
  std::string h;
  h.reserve(2048 + main_html.size());
  h += "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  h += html_escape(title);
  h += " · Demo app</title>\n<style>";
  h += kStyle;
  h += "</style>\n</head>\n<body>\n<header>\n<a class=\"brand\" href=\"/\">Demo app</a>\n"
       "<nav aria-label=\"Main\">";
  if (user != nullptr) {
    h += "<a href=\"/account\">Account (" + html_escape(*user) +
         ")</a> "
         "<form class=\"inline\" method=\"post\" action=\"/logout\">"
         "<button type=\"submit\">Log out</button></form>";
  } else {
    h += "<a href=\"/signup\">Sign up</a> <a href=\"/login\">Log in</a>";
  }
  h += "</nav>\n</header>\n<main>\n";
  h += main_html;
  h += "\n</main>\n</body>\n</html>\n";
  return h;
}

// A labelled input whose error (if any) is tied to it by aria-describedby.
std::string field(std::string_view id, std::string_view label, std::string_view type,
                  std::string_view value, std::string_view autocomplete, std::string_view hint,
                  std::string_view error) {
  std::string described;
  std::string h = "<label for=\"" + std::string(id) + "\">" + std::string(label) + "</label>\n";
  if (!hint.empty()) {
    h += "<p class=\"hint\" id=\"" + std::string(id) + "-hint\">" + std::string(hint) + "</p>\n";
    described += std::string(id) + "-hint";
  }
  if (!error.empty()) {
    h += "<p class=\"error\" id=\"" + std::string(id) + "-error\">" + html_escape(error) + "</p>\n";
    described += (described.empty() ? "" : " ") + std::string(id) + "-error";
  }
  h += "<input id=\"" + std::string(id) + "\" name=\"" + std::string(id) + "\" type=\"" +
       std::string(type) + "\" autocomplete=\"" + std::string(autocomplete) + "\" required";
  if (!value.empty()) h += " value=\"" + html_escape(value) + "\"";
  if (!described.empty()) h += " aria-describedby=\"" + described + "\"";
  if (!error.empty()) h += " aria-invalid=\"true\"";
  h += ">\n";
  return h;
}

std::string form_error(const FormState& f) {
  if (f.form_error.empty()) return {};
  return "<p class=\"error\" id=\"form-error\" role=\"alert\">" + html_escape(f.form_error) +
         "</p>\n";
}

bool has_errors(const FormState& f) {
  return !f.form_error.empty() || !f.username_error.empty() || !f.email_error.empty() ||
         !f.password_error.empty();
}

}  // namespace

std::string home_page(const std::string* user) {
  std::string m =
      "<h1>Welcome to the demo app</h1>\n"
      "<p>A small sign-up and login service, shown behind Gatehouse.</p>\n";
  if (user != nullptr) {
    m += "<p>You are logged in as <strong>" + html_escape(*user) +
         "</strong>. <a href=\"/account\">Go to your account</a>.</p>\n";
  } else {
    m += "<ul>\n<li><a href=\"/signup\">Create an account</a></li>\n"
         "<li><a href=\"/login\">Log in</a></li>\n</ul>\n";
  }
  return layout("Home", m, user);
}

std::string signup_page(const FormState& f) {
  std::string m = "<h1>Create an account</h1>\n";
  if (has_errors(f) && f.form_error.empty()) {
    m += "<p class=\"error\" role=\"alert\">Please correct the errors below.</p>\n";
  }
  m += form_error(f);
  m += "<form method=\"post\" action=\"/signup\" novalidate>\n";
  m += field("username", "Username", "text", f.username, "username",
             "3 to 32 characters: lowercase letters, digits, _ . -", f.username_error);
  m += field("email", "Email", "email", f.email, "email", "", f.email_error);
  m += field("password", "Password", "password", "", "new-password", "At least 8 characters.",
             f.password_error);
  m += "<button type=\"submit\">Sign up</button>\n</form>\n"
       "<p>Already have an account? <a href=\"/login\">Log in</a>.</p>";
  return layout(has_errors(f) ? "Error: Sign up" : "Sign up", m, nullptr);
}

std::string login_page(const FormState& f) {
  std::string m = "<h1>Log in</h1>\n";
  m += form_error(f);
  m += "<form method=\"post\" action=\"/login\" novalidate";
  if (!f.form_error.empty()) m += " aria-describedby=\"form-error\"";
  m += ">\n";
  m += field("username", "Username", "text", f.username, "username", "", f.username_error);
  m += field("password", "Password", "password", "", "current-password", "", f.password_error);
  m += "<button type=\"submit\">Log in</button>\n</form>\n"
       "<p>No account yet? <a href=\"/signup\">Sign up</a>.</p>";
  return layout(has_errors(f) ? "Error: Log in" : "Log in", m, nullptr);
}

std::string account_page(const Account& a) {
  std::time_t t = static_cast<std::time_t>(a.created_at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char iso[32], human[40];
  std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::strftime(human, sizeof human, "%Y-%m-%d %H:%M UTC", &tm);
  std::string m = "<h1>Your account</h1>\n<dl>\n<dt>Username</dt><dd>" + html_escape(a.username) +
                  "</dd>\n<dt>Email</dt><dd>" + html_escape(a.email) +
                  "</dd>\n<dt>Created</dt><dd><time datetime=\"" + iso + "\">" + human +
                  "</time></dd>\n</dl>\n"
                  "<form method=\"post\" action=\"/logout\"><button type=\"submit\">Log out"
                  "</button></form>";
  return layout("Account", m, &a.username);
}

std::string message_page(std::string_view title, std::string_view text, const std::string* user) {
  return layout(title,
                "<h1>" + html_escape(title) + "</h1>\n<p>" + html_escape(text) +
                    "</p>\n"
                    "<p><a href=\"/\">Back to the home page</a></p>",
                user);
}

}  // namespace gh::demo
