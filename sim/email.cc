#include "sim/email.h"

#include <algorithm>

namespace gh::sim {
namespace {

double uniform(std::mt19937_64& rng) {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::string tag(std::mt19937_64& rng) {
  static constexpr char k[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string t;
  const int n = 4 + static_cast<int>(rng() % 5);
  for (int i = 0; i < n; ++i) t += k[rng() % 36];
  return t;
}

// Dots between some letters of `local` (never first, last or doubled), at least one.
std::string dotted(std::string_view local, std::mt19937_64& rng) {
  if (local.size() < 2) return std::string(local);
  std::string out;
  bool any = false;
  for (std::size_t i = 0; i < local.size(); ++i) {
    if (i > 0 && local[i] != '.' && local[i - 1] != '.' && rng() % 3 == 0) {
      out += '.';
      any = true;
    }
    out += local[i];
  }
  if (!any) out.insert(1 + rng() % (local.size() - 1), 1, '.');
  return out;
}

}  // namespace

bool plausible_domain(std::string_view d) {
  if (d.size() < 3 || d.size() > 253 || d.find('.') == std::string_view::npos) return false;
  if (d.front() == '.' || d.back() == '.' || d.front() == '-' ||
      d.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(d.begin(), d.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

std::string make_email(const EmailMix& mix, std::string_view name, std::mt19937_64& rng) {
  if (!mix.given) return std::string(name) + "@mail.example.com";
  std::string local(name), domain;
  if (!mix.mailbox.empty()) {
    const auto at = mix.mailbox.rfind('@');
    local = mix.mailbox.substr(0, at);
    domain = mix.mailbox.substr(at + 1);
  } else if (!mix.disposable_domains.empty() && uniform(rng) < mix.disposable) {
    domain = mix.disposable_domains[rng() % mix.disposable_domains.size()];
  } else if (!mix.domains.empty()) {
    double total = 0;
    for (const auto& [d, w] : mix.domains) total += w;
    double x = uniform(rng) * total;
    domain = mix.domains.back().first;
    for (const auto& [d, w] : mix.domains) {
      if (x < w) {
        domain = d;
        break;
      }
      x -= w;
    }
  } else {
    domain = "mail.example.com";
  }
  if (uniform(rng) < mix.dots) local = dotted(local, rng);
  if (uniform(rng) < mix.plus_tags) local += "+" + tag(rng);
  return local + "@" + domain;
}

}  // namespace gh::sim
