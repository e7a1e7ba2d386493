// HTML pages of the demo app: plain semantic markup, no script, one shared layout.
#pragma once

#include <string>
#include <string_view>

#include "demo/db.h"

namespace gh::demo {

// What a form is re-shown with: the values typed (never the password) and per-field errors.
struct FormState {
  std::string username, email;
  std::string username_error, email_error, password_error;
  std::string form_error;  // not tied to one field (e.g. wrong credentials)
};

// `user` is the logged-in username, or nullptr.
std::string home_page(const std::string* user);
std::string signup_page(const FormState& f);
std::string login_page(const FormState& f);
std::string account_page(const Account& a);
std::string message_page(std::string_view title, std::string_view text, const std::string* user);

}  // namespace gh::demo
