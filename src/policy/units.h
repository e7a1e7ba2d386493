// The config's value syntaxes, for other parts that read the same spellings (admin API, ctl).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gh::policy {

// A whole number with ms, s, m, h or d ("500ms", "10s", "1h", "30d"), in milliseconds. On error
// nullopt, and `why` (when given) says what is wrong, in the words the config loader uses.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text, std::string* why);

}  // namespace gh::policy
