// Fuzzes parse_request. Byte 0 picks small limits so the limit paths get exercised; the rest is
// the buffer. Aborts on any broken invariant, including the prefix property.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_check.h"
#include "http/parser.h"
#include "http/text.h"
#include "http/upgrade.h"
#include "http_fuzz.h"

namespace {

using namespace gh::http;

using gh::fuzz::check;
using gh::fuzz::inside;

HeadLimits limits_from(std::uint8_t sel) {
  HeadLimits l;
  if ((sel & 1) != 0) {
    l.max_head_bytes = 8 + (sel >> 2) * 3;
  }
  if ((sel & 2) != 0) {
    l.max_target_bytes = (sel >> 3);
  }
  if ((sel & 0xC0) == 0xC0) {
    l.max_fields = sel & 7;
  }
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const HeadLimits limits = limits_from(data[0]);
  const std::string_view buf(reinterpret_cast<const char*>(data) + 1, size - 1);

  RequestHead h;
  const ParseResult r = parse_request(buf, limits, h);
  const auto parse = [&](std::string_view b) {
    RequestHead other;
    return parse_request(b, limits, other);
  };
  gh::fuzz::check_outcome(buf, limits, r, parse);
  switch (r.status) {
    case ParseStatus::Complete: {
      check(r.consumed > 0, "complete implies consumed > 0");
      check(r.error == ParseError::None, "complete without error");
      check(r.consumed <= limits.max_head_bytes, "head within limit");
      check(h.field_count <= std::min(limits.max_fields, kMaxHeaderFields), "field count");
      check(h.target.size() <= limits.max_target_bytes, "target within limit");
      check(h.version_minor <= 1, "version");
      check(h.version_minor == 0 || !h.host.empty(), "HTTP/1.1 has a host");
      check(h.body != BodyKind::UntilClose, "requests are never until-close");
      check(h.content_length <= (std::uint64_t{1} << 62), "content-length bound");
      check(h.body != BodyKind::Chunked || h.version_minor == 1, "chunked only in 1.1");
      check(!h.method_text.empty() && !h.target.empty(), "method and target");
      const std::string_view head = buf.substr(0, r.consumed);
      check(inside(head, h.method_text) && inside(head, h.target) && inside(head, h.path) &&
                inside(head, h.query) && inside(head, h.host),
            "request views inside the head");
      for (std::size_t i = 0; i < h.field_count; ++i) {
        check(inside(head, h.fields[i].name) && inside(head, h.fields[i].value),
              "field views inside the head");
        check(!h.fields[i].name.empty(), "field name non-empty");
        // A Connection field names only hop-by-hop options: never Content-Length, Host, ...
        if (iequals(h.fields[i].name, "connection")) {
          std::string_view list = h.fields[i].value;
          while (!list.empty()) {
            const std::size_t comma = std::min(list.find(','), list.size());
            const std::string_view token = trim_ows(list.substr(0, comma));
            check(token.empty() || is_connection_option(token), "connection names an option");
            check(token.empty() || !is_hop_by_hop("content-length", h.fields[i].value),
                  "content-length is never made hop-by-hop");
            list.remove_prefix(comma == list.size() ? comma : comma + 1);
          }
        }
      }
      // The protocol an upgrade names is written into the forwarded head: a token, never a
      // line break or a list, and only for an upgrade request.
      if (const std::string_view p = upgrade_protocol(h); !p.empty()) {
        check(h.upgrade && inside(head, p), "an upgrade protocol comes from an upgrade head");
        check(p.find_first_of("\r\n ,;\t") == std::string_view::npos, "one token");
      }
      gh::fuzz::check_head_alone(head, r, parse);
      break;
    }
    case ParseStatus::NeedMore:
      break;
    case ParseStatus::Error:
      check(status_for(r.error) >= 400 && !describe(r.error).empty(), "error maps to a status");
      break;
  }
  return 0;
}
