#include "http/upgrade.h"

#include <algorithm>
#include <cstdint>

#include "http/charset.h"
#include "http/parser.h"

namespace gh::http {

namespace {

using detail::any_list_element;

bool tchar(char c) {
  return detail::is(static_cast<unsigned char>(c), detail::kTchar);
}

// A protocol token of the Upgrade field: token ["/" token] (RFC 9110 7.8).
bool protocol_token(std::string_view p) {
  const std::size_t slash = p.find('/');
  const std::string_view name = p.substr(0, slash);
  if (name.empty() || !std::all_of(name.begin(), name.end(), tchar)) return false;
  if (slash == std::string_view::npos) return true;
  const std::string_view version = p.substr(slash + 1);
  return !version.empty() && std::all_of(version.begin(), version.end(), tchar);
}

template <class Head>
std::string_view single_upgrade(const Head& head) {
  std::string_view value;
  bool conn_upgrade = false;
  int upgrades = 0;
  for (std::uint16_t i = 0; i < head.field_count; ++i) {
    const Field& f = head.fields[i];
    if (iequals(f.name, "upgrade")) {
      ++upgrades;
      value = trim_ows(f.value);
    } else if (iequals(f.name, "connection")) {
      conn_upgrade = conn_upgrade || any_list_element(f.value, [](std::string_view t) {
                       return iequals(t, "upgrade");
                     });
    }
  }
  if (!conn_upgrade || upgrades != 1 || !protocol_token(value)) return {};
  return value;
}

}  // namespace

std::string_view upgrade_protocol(const RequestHead& head) {
  return single_upgrade(head);
}

bool switch_accepted(const ResponseHead& resp, std::string_view protocol) {
  if (resp.status != 101 || protocol.empty()) return false;
  const std::string_view named = single_upgrade(resp);
  return !named.empty() && iequals(named, protocol);
}

}  // namespace gh::http
