// E-mail mixes: providers by weight, disposable domains, +tags and dots, one mailbox reused.
#include "sim/email.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace gh::sim {
namespace {

std::string local_of(const std::string& e) {
  return e.substr(0, e.rfind('@'));
}
std::string domain_of(const std::string& e) {
  return e.substr(e.rfind('@') + 1);
}
// What gmail delivers to: dots and everything after '+' dropped.
std::string mailbox_of(const std::string& local) {
  std::string out;
  for (char c : local.substr(0, local.find('+'))) {
    if (c != '.') out += c;
  }
  return out;
}

TEST(Email, WithoutAMixItIsTheOldAddress) {
  std::mt19937_64 rng(1);
  EXPECT_EQ(make_email(EmailMix{}, "n0123abcd", rng), "n0123abcd@mail.example.com");
}

TEST(Email, DomainsByWeightAndDisposableShare) {
  EmailMix m;
  m.given = true;
  m.domains = {{"gmail.com", 5}, {"outlook.com", 1}};
  m.disposable = 0.5;
  std::mt19937_64 rng(7);
  std::map<std::string, int> count;
  const int n = 6000;
  for (int i = 0; i < n; ++i) ++count[domain_of(make_email(m, "user" + std::to_string(i), rng))];
  int disposable = 0;
  for (const auto& d : default_disposable_domains()) disposable += count[d];
  EXPECT_NEAR(disposable, n / 2, n * 0.03);
  // The other half by weight, 5:1.
  EXPECT_NEAR(count["gmail.com"], n / 2 * 5 / 6, n * 0.03);
  EXPECT_NEAR(count["outlook.com"], n / 2 / 6, n * 0.02);
  EXPECT_EQ(count.size(), 2 + default_disposable_domains().size());
}

TEST(Email, PlusTagsAndDotsKeepTheMailbox) {
  EmailMix m;
  m.given = true;
  m.domains = {{"gmail.com", 1}};
  m.plus_tags = 0.3;
  m.dots = 0.2;
  std::mt19937_64 rng(3);
  int tagged = 0, dotted = 0;
  const int n = 5000;
  for (int i = 0; i < n; ++i) {
    const std::string name = "alice" + std::to_string(1000 + i);
    const std::string e = make_email(m, name, rng);
    const std::string local = local_of(e);
    EXPECT_EQ(mailbox_of(local), name) << e;
    const std::string before_tag = local.substr(0, local.find('+'));
    if (local.find('+') != std::string::npos) ++tagged;
    if (before_tag.find('.') != std::string::npos) {
      ++dotted;
      EXPECT_NE(before_tag.front(), '.') << e;
      EXPECT_NE(before_tag.back(), '.') << e;
      EXPECT_EQ(before_tag.find(".."), std::string::npos) << e;
    }
  }
  EXPECT_NEAR(tagged, n * 0.3, n * 0.03);
  EXPECT_NEAR(dotted, n * 0.2, n * 0.03);
}

TEST(Email, AFarmReusingOneMailbox) {
  EmailMix m;
  m.given = true;
  m.mailbox = "farmer.bob@gmail.com";
  m.plus_tags = 1;
  m.dots = 0.5;
  std::mt19937_64 rng(11);
  std::set<std::string> seen;
  for (int i = 0; i < 500; ++i) {
    const std::string e = make_email(m, "ignored", rng);
    EXPECT_EQ(domain_of(e), "gmail.com");
    EXPECT_EQ(mailbox_of(local_of(e)), "farmerbob") << e;
    seen.insert(e);
  }
  EXPECT_GT(seen.size(), 490u);  // distinct spellings, one mailbox
}

TEST(Email, ReproducibleFromTheSeed) {
  EmailMix m;
  m.given = true;
  m.domains = {{"gmail.com", 1}, {"yahoo.com", 1}};
  m.disposable = 0.3;
  m.plus_tags = 0.5;
  m.dots = 0.5;
  std::mt19937_64 a(42), b(42);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(make_email(m, "bob", a), make_email(m, "bob", b));
}

TEST(Email, PlausibleDomains) {
  EXPECT_TRUE(plausible_domain("gmail.com"));
  EXPECT_TRUE(plausible_domain("10minutemail.com"));
  EXPECT_FALSE(plausible_domain("Gmail.com"));
  EXPECT_FALSE(plausible_domain("localhost"));
  EXPECT_FALSE(plausible_domain(".gmail.com"));
  EXPECT_FALSE(plausible_domain("gmail..com"));
  EXPECT_FALSE(plausible_domain("gmail.com."));
  EXPECT_FALSE(plausible_domain("gm@il.com"));
}

}  // namespace
}  // namespace gh::sim
