#include "stages/waitroom/config.h"

#include "config/document.h"

namespace gh::waitroom {
namespace {

using policy::Field;
using policy::kDay;
using policy::kHour;
using policy::kMinute;
using policy::kSecond;

constexpr std::string_view kWaitingRoomKeys[] = {"new_users_per_minute",
                                                 "max_active",
                                                 "session_idle",
                                                 "max_per_prefix",
                                                 "max_queue",
                                                 "refresh",
                                                 "ticket_lifetime",
                                                 "max_signups_per_ticket"};

}  // namespace

void load_waiting_room(policy::Document& doc, const Field& f, const std::string& path,
                       policy::WaitingRoomConfig& w) {
  doc.each_section_field(
      f, kWaitingRoomKeys, path, [&](const Field& e, const std::string& key_path) {
        if (e.key == "new_users_per_minute") {
          doc.read_uint(e, key_path, 1, 1'000'000, w.new_users_per_minute);
        } else if (e.key == "max_active") {
          doc.read_uint(e, key_path, 1, 10'000'000, w.max_active);
        } else if (e.key == "session_idle") {
          doc.read_duration(e, key_path, 10 * kSecond, 24 * kHour, w.session_idle);
        } else if (e.key == "max_per_prefix") {
          doc.read_uint(e, key_path, 1, 1'000'000, w.max_per_prefix);
        } else if (e.key == "max_queue") {
          doc.read_uint(e, key_path, 1, 10'000'000, w.max_queue);
        } else if (e.key == "refresh") {
          doc.read_duration(e, key_path, kSecond, 5 * kMinute, w.refresh);
        } else if (e.key == "ticket_lifetime") {
          doc.read_duration(e, key_path, kMinute, 7 * kDay, w.ticket_lifetime);
        } else if (e.key == "max_signups_per_ticket") {
          doc.read_uint(e, key_path, 0, 1'000, w.max_signups_per_ticket);
        }
      });
}

}  // namespace gh::waitroom
