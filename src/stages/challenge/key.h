// The master key everything Gatehouse signs derives from (secrets.key_file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gh::challenge {

inline constexpr std::size_t kMinKeyBytes = 32;

// Reads the key file, or creates it when missing. File format: either hex text (at least 64 hex
// digits, an even count, optionally followed by a newline — what `openssl rand -hex 32` writes and
// what we create) or raw bytes (at least 32). A created file holds 32 bytes from RAND_bytes as 64
// hex digits and a newline, mode 0600; missing parent directories are created with mode 0700.
// Creation goes through a temporary file and link(2), so concurrent starters agree on one key.
// Refused, with the reason in `error`: a file any group or other permission bit is set on (the
// key signs every clearance), not a regular file, shorter than 32 bytes, larger than 4 KiB.
std::optional<std::vector<std::uint8_t>> load_or_create_key(const std::string& path,
                                                            std::string& error);

}  // namespace gh::challenge
