// Fuzzes parse_response. Byte 0 picks the request method and small limits; the rest is the buffer.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_check.h"
#include "http/parser.h"
#include "http/upgrade.h"
#include "http_fuzz.h"

using namespace gh::http;
using gh::fuzz::check;
using gh::fuzz::inside;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::uint8_t sel = data[0];
  const auto method = static_cast<Method>(sel % (static_cast<int>(Method::Other) + 1));
  HeadLimits limits;
  if ((sel & 0x10) != 0) {
    limits.max_head_bytes = 8 + (sel >> 5) * 9;
  }
  if ((sel & 0xE0) == 0xE0) {
    limits.max_fields = sel & 3;
  }
  const std::string_view buf(reinterpret_cast<const char*>(data) + 1, size - 1);

  ResponseHead h;
  const ParseResult r = parse_response(buf, limits, method, h);
  const auto parse = [&](std::string_view b) {
    ResponseHead other;
    return parse_response(b, limits, method, other);
  };
  gh::fuzz::check_outcome(buf, limits, r, parse);
  if (r.status == ParseStatus::Complete) {
    check(r.consumed > 0 && r.error == ParseError::None, "complete is clean");
    check(r.consumed <= limits.max_head_bytes, "head within limit");
    check(h.status >= 100 && h.status <= 599, "status range");
    check(h.field_count <= std::min(limits.max_fields, kMaxHeaderFields), "field count");
    check(h.body != BodyKind::UntilClose || !h.keep_alive, "until-close never keeps alive");
    const bool bodiless = h.status < 200 || h.status == 204 || h.status == 304 ||
                          method == Method::Head ||
                          (method == Method::Connect && h.status / 100 == 2);
    check(!bodiless || h.body == BodyKind::None, "bodiless statuses");
    const std::string_view head = buf.substr(0, r.consumed);
    check(inside(head, h.reason), "reason inside the head");
    bool framing = false;
    for (std::size_t i = 0; i < h.field_count; ++i) {
      check(inside(head, h.fields[i].name) && inside(head, h.fields[i].value),
            "field views inside the head");
      check(!iequals(h.fields[i].name, "connection") ||
                !is_hop_by_hop("content-length", h.fields[i].value),
            "content-length is never made hop-by-hop");
      const bool cl = iequals(h.fields[i].name, "content-length");
      framing = framing || iequals(h.fields[i].name, "transfer-encoding") ||
                (cl && h.fields[i].value.find_first_not_of('0') != std::string_view::npos);
    }
    // A 1xx or 204 announcing a body may send one: its connection must not be reused.
    check(!(h.status < 200 || h.status == 204) || !framing || !h.keep_alive,
          "a bodyless status with framing is never kept alive");
    check(!switch_accepted(h, "websocket") || h.status == 101, "only a 101 switches");
    gh::fuzz::check_head_alone(head, r, parse);
  }
  return 0;
}
