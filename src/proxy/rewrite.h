// Serialisation of the heads Gatehouse sends: the request to the upstream, the response to the
// client, and its own short responses. Writes into a fixed buffer and reports overflow instead
// of allocating.
#pragma once

#include <cstdint>
#include <string_view>

#include "client/address-t.h"
#include "core/buffer.h"
#include "http/message-t.h"

namespace gh::proxy {

struct ForwardContext {
  client::IpAddress peer;     // the connection's peer (or PROXY protocol source)
  bool peer_trusted = false;  // peer is a trusted proxy: its X-Forwarded-* are kept and extended
  bool tls = false;           // the client came over TLS Gatehouse terminated: https, whoever says
  // The protocol of an Upgrade the route opted into: sent as `Connection: upgrade` + `Upgrade`,
  // the only hop-by-hop fields ever forwarded. Empty: none.
  std::string_view upgrade{};
};

// Request head for the upstream: always HTTP/1.1, origin-form target, hop-by-hop fields removed,
// X-Forwarded-For / X-Forwarded-Proto / Via set, framing re-declared (chunked bodies are
// re-chunked). Returns false when it does not fit in `out` (nothing useful is left in it then).
bool write_request_head(const http::RequestHead& req, const ForwardContext& ctx, core::Buffer& out);

// Response head for the client: hop-by-hop fields removed, Via added, `Connection: close` when
// the connection ends after it, and `Transfer-Encoding: chunked` for re-chunked bodies.
// `extra_fields` (complete "Name: value\r\n" lines, e.g. Set-Cookie) are added as is.
bool write_response_head(const http::ResponseHead& resp, std::uint8_t client_version_minor,
                         bool close, core::Buffer& out, std::string_view extra_fields = {});

// Where the fields of a response head go when it is not written as HTTP/1.1 text (HTTP/2).
class FieldSink {
 public:
  virtual ~FieldSink() = default;
  virtual void field(std::string_view name, std::string_view value) = 0;
};

// The end-to-end fields write_response_head writes for `resp` (hop-by-hop ones dropped, Via,
// then `extra_fields`' lines), without HTTP/1.1's framing (Transfer-Encoding, Connection): HTTP/2
// carries the status apart and frames the body itself.
void response_fields(const http::ResponseHead& resp, std::string_view extra_fields,
                     FieldSink& sink);

// The upstream's 101 for the client: its end-to-end fields (Sec-WebSocket-Accept, ...), Via, and
// `Connection: upgrade` + `Upgrade: <protocol>`; the bytes after it belong to the new protocol.
bool write_switch_head(const http::ResponseHead& resp, std::string_view protocol,
                       core::Buffer& out);

// Gatehouse's own response with a short text body, e.g. 400, 408, 413, 429, 502, 503, 504.
// `retry_after_s` > 0 adds Retry-After; `extra_fields` (complete "Name: value\r\n" lines) is
// copied as is. HEAD responses carry the headers but no body.
bool write_local_response(int status, std::string_view detail, bool close, bool head_only,
                          std::uint32_t retry_after_s, std::string_view extra_fields,
                          core::Buffer& out);

// Gatehouse's own page (challenge, waiting room, closed sign-up): any content type and body.
bool write_local_page(int status, std::string_view content_type, std::string_view body, bool close,
                      bool head_only, std::uint32_t retry_after_s, std::string_view extra_fields,
                      core::Buffer& out);

// Appends "<hex size>\r\n" for a chunk of `size` bytes; the caller appends data and "\r\n".
bool write_chunk_header(std::uint64_t size, core::Buffer& out);

}  // namespace gh::proxy
