// Who is asking: the client's class, which several stages read (a limit may apply to some classes
// only, admission sheds by it). In gh::policy with the rest of the configuration's vocabulary: a
// limit's `classes` name it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gh::policy {

// Who is asking, lowest priority first: shedding goes up this order, and a class is shed only
// when every lower one already is (SRE criticality).
enum class ClientClass : std::uint8_t {
  Suspect,    // anonymous with a bad score or recent refusals of its prefix
  Anonymous,  // nothing known
  Verified,   // holds a valid challenge clearance
  Resident,   // holds a valid device token: an existing user who logged in from here before
};
inline constexpr std::size_t kClientClasses = 4;

}  // namespace gh::policy
