// Disposable-mail domains: the maintained list from the npm package `disposable-email-domains`,
// embedded at build time (cmake/disposable.cmake), plus an operator's own file. One address at
// such a domain is cheap to have by the thousand, so a sign-up from one is a risk signal.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gh::reputation {

class DisposableDomains {
 public:
  // The built-in list with `extra_file`'s domains added (one per line; '#' starts a comment;
  // empty: none). nullopt with `error` ("file:line: ...") when the file cannot be used.
  static std::unique_ptr<DisposableDomains> load(const std::string& extra_file, std::string& error);

  // `domain` (lowercase, no trailing dot) is one of the list's, or a subdomain of one of its
  // wildcard entries or of an operator's entry.
  bool contains(std::string_view domain) const;

  std::size_t builtin_size() const { return builtin_.size(); }
  std::size_t extra_size() const { return extra_.size(); }

 private:
  DisposableDomains() = default;
  std::vector<std::string_view> builtin_;   // sorted, into the embedded text
  std::vector<std::string_view> wildcard_;  // sorted: subdomains count too
  std::string extra_text_;
  std::vector<std::string_view> extra_;  // sorted, into extra_text_; subdomains count too
};

// The embedded lists (generated): newline-separated, sorted, lowercase.
struct DisposableLists {
  std::string_view domains;
  std::string_view wildcards;
};
DisposableLists builtin_disposable_lists();

}  // namespace gh::reputation
