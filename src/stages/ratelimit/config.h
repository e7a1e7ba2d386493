// The rate-limit section's loader piece (`routes[].limits`), and the rules about a limit that
// both the loader and the stage apply, so each is written once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/ratelimit/config-t.h"
#include "stages/ratelimit/ratelimit-t.h"

namespace gh::policy {
class Document;
struct Field;
}  // namespace gh::policy

namespace gh::ratelimit {

inline constexpr std::uint32_t kMaxBurst = 1'000'000;

// A limit's burst: as configured, else its rate (a period's worth back to back), at most
// kMaxBurst.
std::uint32_t burst_of(const policy::LimitConfig& limit);

// The limit in the GCRA's terms (burst_of's burst). nullopt when a full bucket would take more than
// kMaxSpan (36 years) to refill: the loader refuses such a limit, the stage never builds one.
std::optional<Limit> gcra_of(const policy::LimitConfig& limit);

// A route's `limits` list: each limit appended to `limits` (the route's, for duplicate names),
// errors reported to `doc`.
void load_limits(policy::Document& doc, const policy::Field& f, const std::string& path,
                 std::vector<policy::LimitConfig>& limits);

// One element of a limit's `key` list (also the residents' `account`); `why` says what is wrong
// otherwise.
std::optional<policy::KeyPart> parse_key_part(std::string_view text, std::string& why);

}  // namespace gh::ratelimit
