// The waiting room's loader piece.
#pragma once

#include <string>

#include "stages/waitroom/config-t.h"

namespace gh::policy {
class Document;
struct Field;
}  // namespace gh::policy

namespace gh::waitroom {

// A sign-up route's `waiting_room` (at `path`), errors reported to `doc`.
void load_waiting_room(policy::Document& doc, const policy::Field& f, const std::string& path,
                       policy::WaitingRoomConfig& out);

}  // namespace gh::waitroom
