// E-mail addresses for sign-ups: a population's mix of providers, disposable domains, and the
// variations that one mailbox accepts under many spellings (gmail ignores dots in the local part
// and everything after a '+').
#pragma once

#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gh::sim {

// A handful of domains that are on the CC0 disposable-email-domains list
// (github.com/disposable-email-domains/disposable-email-domains), so a shield that loads that
// list recognises them.
inline const std::vector<std::string>& default_disposable_domains() {
  static const std::vector<std::string> k{"mailinator.com", "guerrillamail.com",
                                          "yopmail.com",    "10minutemail.com",
                                          "trashmail.com",  "sharklasers.com"};
  return k;
}

struct EmailMix {
  bool given = false;  // false: <username>@mail.example.com, as before mixes existed
  std::vector<std::pair<std::string, double>> domains;  // provider and weight
  double disposable = 0;                                // share of addresses at a disposable domain
  double plus_tags = 0;                                 // share with a "+tag" after the local part
  double dots = 0;  // share with dots inserted into the local part
  // One mailbox reused for every address ("someone@gmail.com"): its local part and domain,
  // varied by `dots` and `plus_tags` (disposable and domains are then not used).
  std::string mailbox;
  std::vector<std::string> disposable_domains = default_disposable_domains();
};

// The address of a user named `name` (a local part of [a-z0-9]). The draws come from `rng`.
std::string make_email(const EmailMix& mix, std::string_view name, std::mt19937_64& rng);

// "a.b.c" -> true: a lower-case host name with at least one dot (what `domains` accepts).
bool plausible_domain(std::string_view d);

}  // namespace gh::sim
