// The risk signals of issue 13: a browser that is not one, a form posted without its page, a
// throwaway address, an operator's list of hosting networks.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "stages/reputation/disposable.h"
#include "stages/reputation/scorer.h"
#include "test_util.h"

namespace gh::reputation {
namespace {

using policy::ReputationConfig;
using policy::ReputationRule;
using testing::parse;

// Chrome 124 on Linux, as it sends a sign-up form post to https (field order as captured).
const char* kChromePost =
    "POST /signup HTTP/1.1\nHost: example.com\nConnection: keep-alive\nContent-Length: 10\n"
    "Cache-Control: max-age=0\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\n"
    "sec-ch-ua-mobile: ?0\nsec-ch-ua-platform: \"Linux\"\nUpgrade-Insecure-Requests: 1\n"
    "Origin: https://example.com\nContent-Type: application/x-www-form-urlencoded\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\n"
    "Sec-Fetch-Site: same-origin\nSec-Fetch-Mode: navigate\nSec-Fetch-User: ?1\n"
    "Sec-Fetch-Dest: document\nReferer: https://example.com/signup\n"
    "Accept-Encoding: gzip, deflate, br, zstd\nAccept-Language: en-GB,en;q=0.9\n";

// Firefox 125: User-Agent right after Host.
const char* kFirefoxGet =
    "GET /signup HTTP/1.1\nHost: example.com\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\n"
    "Accept: text/html\nAccept-Language: en-US,en;q=0.5\nAccept-Encoding: gzip, deflate, br\n"
    "Connection: keep-alive\nUpgrade-Insecure-Requests: 1\nSec-Fetch-Dest: document\n"
    "Sec-Fetch-Mode: navigate\nSec-Fetch-Site: none\nSec-Fetch-User: ?1\n";

std::string without(std::string text, const std::string& line_start) {
  const std::size_t at = text.find("\n" + line_start);
  if (at == std::string::npos) return text;
  const std::size_t end = text.find('\n', at + 1);
  return text.erase(at, end - at);
}

bool mismatch(const std::string& text, bool secure) {
  return Scorer::browser_mismatch(parse(text)->head, secure);
}

TEST(BrowserMismatch, RealBrowsersPass) {
  EXPECT_FALSE(mismatch(kChromePost, true));
  EXPECT_FALSE(mismatch(kChromePost, false));
  EXPECT_FALSE(mismatch(kFirefoxGet, true));
}

TEST(BrowserMismatch, ImitationsAreCaught) {
  // A headless build says so.
  std::string headless = kChromePost;
  headless.replace(headless.find("Chrome/124"), 6, "HeadlessChrome");
  EXPECT_TRUE(mismatch(headless, false));
  // Fields every browser sends.
  EXPECT_TRUE(mismatch(without(kChromePost, "Accept-Language"), false));
  EXPECT_TRUE(mismatch(without(kChromePost, "Accept-Encoding"), false));
  EXPECT_TRUE(mismatch(without(kChromePost, "Accept:"), false));
  // Fetch metadata and client hints: required only where browsers send them.
  EXPECT_TRUE(mismatch(without(kChromePost, "Sec-Fetch-Mode"), true));
  EXPECT_FALSE(mismatch(without(kChromePost, "Sec-Fetch-Mode"), false));
  EXPECT_TRUE(mismatch(without(kChromePost, "sec-ch-ua:"), true));
  EXPECT_TRUE(mismatch(without(kFirefoxGet, "Sec-Fetch-Site"), true));
  // Order: a library that copies Chrome's fields but puts User-Agent first.
  std::string reordered = without(kChromePost, "User-Agent");
  reordered.insert(reordered.find("\nConnection"),
                   "\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                   "Gecko) Chrome/124.0.0.0 Safari/537.36");
  EXPECT_TRUE(mismatch(reordered, false));
  std::string ff = without(kFirefoxGet, "User-Agent");
  ff += "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\n";
  EXPECT_TRUE(mismatch(ff, false));
}

TEST(BrowserMismatch, NoBrowserClaimedIsNotAMismatch) {
  EXPECT_FALSE(mismatch("GET / HTTP/1.1\nHost: x\nUser-Agent: curl/8.5.0\n", true));
  EXPECT_FALSE(mismatch("GET / HTTP/1.1\nHost: x\n", true));
}

std::unique_ptr<Scorer> one_rule(ReputationRule r, ReputationConfig c) {
  r.name = "r";
  r.weight = 25;
  c.rules.push_back(r);
  std::string error;
  auto s = Scorer::build(c, error);
  EXPECT_NE(s, nullptr) << error;
  return s;
}

// A named default, not `= {}`: GCC 12 warns (falsely) on the temporary's strings.
std::unique_ptr<Scorer> one_rule(ReputationRule r) {
  ReputationConfig c;
  return one_rule(std::move(r), std::move(c));
}

TEST(Signals, BrowserMismatchRule) {
  ReputationRule r;
  r.browser_mismatch = true;
  auto s = one_rule(r);
  auto chrome = parse(kChromePost);
  Request q{&chrome->head, testing::ip("198.51.100.1"), {}};
  q.secure = true;
  EXPECT_EQ(s->score(q, 0).total, 0);
  auto bare = parse(without(kChromePost, "Sec-Fetch-Dest"));
  Request b{&bare->head, testing::ip("198.51.100.1"), {}};
  b.secure = true;
  EXPECT_EQ(s->score(b, 0).total, 25);
}

TEST(Signals, PageViewSkippedOrTooFast) {
  ReputationRule r;
  r.page_view_skipped = true;
  ReputationConfig c;
  c.page_view.min_age = 3'000;
  auto s = one_rule(r, c);
  EXPECT_TRUE(s->uses_page_view());
  auto head = parse(kChromePost);
  Request q{&head->head, testing::ip("198.51.100.1"), {}};
  q.page_view_age_ms = -1;  // never shown the page
  EXPECT_EQ(s->score(q, 0).total, 25);
  q.page_view_age_ms = 800;  // a form filled in under a second
  EXPECT_EQ(s->score(q, 0).total, 25);
  q.page_view_age_ms = 3'000;
  EXPECT_EQ(s->score(q, 0).total, 0);
}

TEST(Signals, DisposableEmail) {
  testing::TempDir dir;
  const std::string extra = dir.file("extra.txt");
  std::ofstream(extra) << "# our own finds\nThrowaway.Example.\n\n  tmp.example.net  # comment\n";
  ReputationRule r;
  r.disposable_email = true;
  ReputationConfig c;
  c.disposable_domains_file = extra;
  auto s = one_rule(r, c);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->uses_email());
  auto head = parse(kChromePost);
  auto with = [&](std::string_view domain) {
    Request q{&head->head, testing::ip("198.51.100.1"), {}};
    q.email_domain = domain;
    return s->score(q, 0).total;
  };
  EXPECT_EQ(with("mailinator.com"), 25);  // the embedded list
  EXPECT_EQ(with("yopmail.com"), 25);
  EXPECT_EQ(with("throwaway.example"), 25);   // the operator's file
  EXPECT_EQ(with("mx.tmp.example.net"), 25);  // and its subdomains
  EXPECT_EQ(with("gmail.com"), 0);
  EXPECT_EQ(with("example.com"), 0);
  EXPECT_EQ(with(""), 0);  // no address read
}

TEST(Disposable, TheEmbeddedListIsThere) {
  std::string error;
  auto d = DisposableDomains::load("", error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_GT(d->builtin_size(), 10'000u);
  EXPECT_TRUE(d->contains("guerrillamail.com"));
  EXPECT_FALSE(d->contains("outlook.com"));
  EXPECT_FALSE(d->contains("com"));
}

TEST(Disposable, ABadOperatorFileIsNamedWithItsLine) {
  testing::TempDir dir;
  const std::string f = dir.file("bad.txt");
  std::ofstream(f) << "ok.example\nalice@example.com\n";
  std::string error;
  EXPECT_EQ(DisposableDomains::load(f, error), nullptr);
  EXPECT_EQ(error, f + ":2: expected a domain, got 'alice@example.com'");
  EXPECT_EQ(DisposableDomains::load(dir.file("missing.txt"), error), nullptr);
  EXPECT_NE(error.find("cannot read"), std::string::npos);
}

TEST(Signals, AsnsFile) {
  testing::TempDir dir;
  const std::string f = dir.file("hosting.txt");
  std::ofstream(f) << "# hosting\nAS16509\n14061\n";
  ReputationRule r;
  r.asns_file = f;
  ReputationConfig c;
  c.asn_database = dir.file("missing.mmdb");
  std::string error;
  c.rules.push_back(r);
  c.rules.back().name = "hosting";
  c.rules.back().weight = 10;
  // The ASN list is read before the database is opened: a bad list line is reported first.
  std::ofstream(f, std::ios::app) << "AS-x\n";
  EXPECT_EQ(Scorer::build(c, error), nullptr);
  EXPECT_NE(error.find(f + ":4: expected an AS number"), std::string::npos) << error;
}

}  // namespace
}  // namespace gh::reputation
