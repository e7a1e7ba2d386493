// Helpers shared by the reputation tests: parsed requests, prefixes, a temporary directory.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "client/address.h"
#include "http/parser.h"

namespace gh::reputation::testing {

inline client::Cidr cidr(std::string_view text) {
  auto c = client::parse_cidr(text);
  EXPECT_TRUE(c.has_value()) << text;
  return c.value_or(client::Cidr{});
}

inline client::IpAddress ip(std::string_view text) {
  auto a = client::parse_ip(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(client::IpAddress{});
}

// A request head parsed from text ("\n" becomes CRLF), kept alive with its buffer.
struct Parsed {
  std::string buffer;
  http::RequestHead head;
};

inline std::unique_ptr<Parsed> parse(std::string_view text) {
  auto p = std::make_unique<Parsed>();
  for (const char c : text) {
    if (c == '\n') p->buffer += '\r';
    p->buffer += c;
  }
  p->buffer += "\r\n";
  const http::ParseResult r = http::parse_request(p->buffer, http::HeadLimits{}, p->head);
  EXPECT_EQ(r.status, http::ParseStatus::Complete) << text;
  return p;
}

// A directory removed with its files at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "gh_reputation_XXXXXX";
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  ~TempDir() {
    for (const std::string& f : files_) std::remove(f.c_str());
    if (!path_.empty()) rmdir(path_.c_str());
  }
  std::string file(const std::string& name) {
    files_.push_back(path_ + "/" + name);
    return files_.back();
  }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

}  // namespace gh::reputation::testing
