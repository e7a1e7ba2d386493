// Shared by the HTTP head fuzzers (requests and responses): what every parse outcome answers to,
// whichever parser gave it.
#pragma once

#include <cstring>
#include <memory>
#include <string_view>

#include "fuzz_check.h"
#include "http/parser.h"

namespace gh::fuzz {

// Same status, error and bytes consumed.
inline bool same(const http::ParseResult& a, const http::ParseResult& b) {
  return a.status == b.status && a.error == b.error && a.consumed == b.consumed;
}

// `parse` applied to a copy of `buf` in an exactly sized heap block, so ASan sees any read past
// the end.
template <class Parse>
http::ParseResult parse_copy(std::string_view buf, Parse&& parse) {
  std::unique_ptr<char[]> copy(new char[buf.size()]);
  if (!buf.empty()) std::memcpy(copy.get(), buf.data(), buf.size());
  return parse(std::string_view(copy.get(), buf.size()));
}

// The checks of an outcome that hold for any head: it consumes no more than it was given; a
// NeedMore is clean and happens only below the head limit; an Error has a reason. And, checked on
// copies, the prefix property: a shorter buffer never decides differently, and the same buffer
// decides the same again.
template <class Parse>
void check_outcome(std::string_view buf, const http::HeadLimits& limits, const http::ParseResult& r,
                   Parse&& parse) {
  check(r.consumed <= buf.size(), "consumed <= size");
  if (r.status == http::ParseStatus::NeedMore) {
    check(r.consumed == 0 && r.error == http::ParseError::None, "need-more is clean");
    check(buf.size() < limits.max_head_bytes, "need-more only below the head limit");
  }
  if (r.status == http::ParseStatus::Error)
    check(r.error != http::ParseError::None, "error has a reason");
  for (const std::size_t k : {buf.size() / 2, buf.size() > 0 ? buf.size() - 1 : 0}) {
    const http::ParseResult p = parse_copy(buf.substr(0, k), parse);
    check(p.status == http::ParseStatus::NeedMore || same(p, r), "prefix decides like the whole");
  }
  check(same(parse_copy(buf, parse), r), "deterministic");
}

// The head alone of a complete outcome parses the same; one byte less needs more.
template <class Parse>
void check_head_alone(std::string_view head, const http::ParseResult& r, Parse&& parse) {
  check(same(parse_copy(head, parse), r), "head alone parses the same");
  check(parse_copy(head.substr(0, head.size() - 1), parse).status == http::ParseStatus::NeedMore,
        "head minus one byte needs more");
}

}  // namespace gh::fuzz
