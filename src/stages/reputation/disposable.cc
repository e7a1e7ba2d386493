#include "stages/reputation/disposable.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace gh::reputation {
namespace {

constexpr std::size_t kMaxExtraBytes = 16u << 20;  // an operator's file: 16 MiB at most

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t nl = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(std::min(nl + 1, text.size()));
    if (!line.empty()) out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool has(const std::vector<std::string_view>& sorted, std::string_view v) {
  return std::binary_search(sorted.begin(), sorted.end(), v);
}

}  // namespace

std::unique_ptr<DisposableDomains> DisposableDomains::load(const std::string& extra_file,
                                                           std::string& error) {
  std::unique_ptr<DisposableDomains> d(new DisposableDomains());
  const DisposableLists lists = builtin_disposable_lists();
  d->builtin_ = lines_of(lists.domains);
  d->wildcard_ = lines_of(lists.wildcards);
  if (extra_file.empty()) return d;
  std::ifstream in(extra_file, std::ios::binary);
  if (!in) {
    error = extra_file + ": cannot read it";
    return nullptr;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (const std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.pop_back();
    }
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    std::string domain = line.substr(start);
    for (char& c : domain) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    const bool ok = !domain.empty() && domain.size() <= 253 &&
                    domain.find_first_of(" \t@/") == std::string::npos && domain.front() != '.';
    if (!ok) {
      error = extra_file + ":" + std::to_string(n) + ": expected a domain, got '" + line + "'";
      return nullptr;
    }
    if (d->extra_text_.size() + domain.size() + 1 > kMaxExtraBytes) {
      error = extra_file + ": over 16 MiB of domains";
      return nullptr;
    }
    d->extra_text_ += domain;
    d->extra_text_ += '\n';
  }
  d->extra_ = lines_of(d->extra_text_);
  return d;
}

bool DisposableDomains::contains(std::string_view domain) const {
  if (domain.empty()) return false;
  if (has(builtin_, domain) || has(extra_, domain)) return true;
  // mx.example.org is example.org's when example.org is a wildcard or operator entry.
  for (std::string_view d = domain;;) {
    if (has(wildcard_, d) || has(extra_, d)) return true;
    const std::size_t dot = d.find('.');
    if (dot == std::string_view::npos) return false;
    d.remove_prefix(dot + 1);
  }
}

}  // namespace gh::reputation
