// The process log's settings (core/log.h), as the config holds them.
#pragma once

#include <cstdint>

namespace gh::core {

enum class LogFormat : std::uint8_t { Text, Json };
enum class LogLevel : std::uint8_t { Trace, Debug, Info, Warn, Error };  // the config's order

}  // namespace gh::core
