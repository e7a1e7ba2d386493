#include "proxy/rewrite.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <span>

#include "client/address.h"
#include "http/fields.h"
#include "http/parser.h"

namespace gh::proxy {

using http::reason_phrase;

namespace {

// Writes into the free part of a buffer; a write that does not fit marks the whole result
// unusable and commits nothing.
struct Writer : http::FieldWriter {
  explicit Writer(core::Buffer& b) : FieldWriter(b.write_ptr(), b.writable()) {}
  bool commit(core::Buffer& b) {
    if (ok) b.commit(len);
    return ok;
  }
  void put_ip(const client::IpAddress& ip) {
    char buf[INET6_ADDRSTRLEN];
    put(client::format_ip(ip, buf, sizeof buf));
  }
  void field(std::string_view name, std::string_view value) {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  }
};

template <typename Head>
bool hop_by_hop(const Head& head, std::string_view name) {
  if (http::is_hop_by_hop(name, {})) return true;
  for (std::uint16_t i = 0; i < head.field_count; ++i) {
    const auto& f = head.fields[i];
    if (http::iequals(f.name, "connection") && http::is_hop_by_hop(name, f.value)) return true;
  }
  return false;
}

// Fields that name the client, its scheme or host for the application: believed only when a
// trusted proxy set them, as X-Forwarded-For is. From anyone else they are dropped, so the
// application cannot be told another address than the one Gatehouse limited.
constexpr std::string_view kClientClaims[] = {
    "x-real-ip",        "true-client-ip",      "cf-connecting-ip",   "client-ip",
    "x-client-ip",      "x-cluster-client-ip", "fastly-client-ip",   "x-forwarded-host",
    "x-forwarded-port", "x-forwarded-server",  "x-forwarded-prefix", "x-original-forwarded-for",
    "x-proxyuser-ip",   "forwarded",           "x-forwarded-proto"};

// Fields with which frameworks replace the path or method they route on (Symfony, Laravel,
// IIS URL Rewrite, Rack::MethodOverride): the application would route on a request Gatehouse
// never saw. Dropped from everyone, trusted peers included (they pass clients' fields on).
constexpr std::string_view kRoutingOverrides[] = {"x-original-url", "x-rewrite-url",
                                                  "x-override-url", "x-http-method-override",
                                                  "x-http-method",  "x-method-override"};

bool listed(std::string_view name, std::span<const std::string_view> names) {
  for (std::string_view n : names) {
    if (http::iequals(name, n)) return true;
  }
  return false;
}

// The upstream's end-to-end fields, one `emit(name, value)` each: what every response head we
// relay carries, as HTTP/1.1 text or as HTTP/2 fields.
template <typename Emit>
void relayed_fields(const http::ResponseHead& resp, Emit&& emit) {
  for (std::uint16_t i = 0; i < resp.field_count; ++i) {
    const http::Field& f = resp.fields[i];
    if (!hop_by_hop(resp, f.name)) emit(f.name, f.value);
  }
}

std::string_view via_for(const http::ResponseHead& resp) {
  return resp.version_minor == 0 ? "1.0 gatehouse" : "1.1 gatehouse";
}

bool has_connection_tokens(const http::RequestHead& req) {
  for (std::uint16_t i = 0; i < req.field_count; ++i) {
    if (http::iequals(req.fields[i].name, "connection")) return true;
  }
  return false;
}

}  // namespace

bool write_request_head(const http::RequestHead& req, const ForwardContext& ctx,
                        core::Buffer& out) {
  Writer w(out);
  w.put(req.method_text);
  w.put(" ");
  // Upstreams get origin-form: an absolute-form target is reduced to its path and query.
  w.put(req.path.empty() ? std::string_view("/") : req.path);
  if (!req.query.empty()) {
    w.put("?");
    w.put(req.query);
  }
  w.put(" HTTP/1.1\r\n");

  const bool check_connection = has_connection_tokens(req);
  bool saw_host = false;
  bool saw_xff = false;
  bool saw_proto = false;
  for (std::uint16_t i = 0; i < req.field_count; ++i) {
    const http::Field& f = req.fields[i];
    if (check_connection ? hop_by_hop(req, f.name) : http::is_hop_by_hop(f.name, {})) continue;
    // CGI-style backends map '_' and '-' alike: "Content_Length" could become a second
    // Content-Length behind us. Such fields are dropped, as nginx does by default.
    if (f.name.find('_') != std::string_view::npos) continue;
    if (http::iequals(f.name, "x-forwarded-for")) {
      if (!ctx.peer_trusted) continue;  // a client's own claim is dropped, never extended
      if (!saw_xff) {
        // Several X-Forwarded-For fields form one list: join them, then append the peer.
        w.put("X-Forwarded-For: ");
        bool first = true;
        for (std::uint16_t j = i; j < req.field_count; ++j) {
          if (!http::iequals(req.fields[j].name, "x-forwarded-for")) continue;
          if (!first) w.put(", ");
          w.put(req.fields[j].value);
          first = false;
        }
        w.put(", ");
        w.put_ip(ctx.peer);
        w.put("\r\n");
        saw_xff = true;
      }
      continue;
    }
    if (listed(f.name, kRoutingOverrides)) continue;
    if (listed(f.name, kClientClaims)) {
      if (!ctx.peer_trusted) continue;
      if (http::iequals(f.name, "x-forwarded-proto")) {
        if (ctx.tls) continue;  // we terminated TLS: the scheme is known, not claimed
        saw_proto = true;
      }
    }
    if (http::iequals(f.name, "host")) saw_host = true;
    if (http::iequals(f.name, "expect")) continue;  // Gatehouse answers 100-continue itself
    w.field(f.name, f.value);
  }
  if (!saw_host) w.field("Host", req.host);  // HTTP/1.0 without Host: an empty one, as 1.1 needs
  if (!saw_xff) {
    w.put("X-Forwarded-For: ");
    w.put_ip(ctx.peer);
    w.put("\r\n");
  }
  if (!saw_proto) w.put(ctx.tls ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n");
  w.put("Via: 1.");
  w.put(req.version_minor == 0 ? "0" : "1");
  w.put(" gatehouse\r\n");
  if (req.body == http::BodyKind::Chunked) w.put("Transfer-Encoding: chunked\r\n");
  if (!ctx.upgrade.empty()) {
    w.put("Connection: upgrade\r\nUpgrade: ");
    w.put(ctx.upgrade);
    w.put("\r\n");
  }
  w.put("\r\n");
  return w.commit(out);
}

bool write_switch_head(const http::ResponseHead& resp, std::string_view protocol,
                       core::Buffer& out) {
  Writer w(out);
  w.put("HTTP/1.1 101 ");
  w.put(resp.reason.empty() ? reason_phrase(101) : resp.reason);
  w.put("\r\n");
  relayed_fields(resp, [&w](std::string_view n, std::string_view v) { w.field(n, v); });
  w.put("Via: 1.1 gatehouse\r\nConnection: upgrade\r\nUpgrade: ");
  w.put(protocol);
  w.put("\r\n\r\n");
  return w.commit(out);
}

bool write_response_head(const http::ResponseHead& resp, std::uint8_t client_version_minor,
                         bool close, core::Buffer& out, std::string_view extra_fields) {
  Writer w(out);
  w.put(client_version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
  w.put_uint(resp.status);
  w.put(" ");
  w.put(resp.reason.empty() ? reason_phrase(resp.status) : resp.reason);
  w.put("\r\n");
  relayed_fields(resp, [&w](std::string_view n, std::string_view v) { w.field(n, v); });
  w.field("Via", via_for(resp));
  w.put(extra_fields);
  if (resp.body == http::BodyKind::Chunked) {
    // An HTTP/1.0 client cannot read chunked framing: it gets the raw body until close.
    if (client_version_minor != 0) w.put("Transfer-Encoding: chunked\r\n");
  }
  if (close) {
    w.put("Connection: close\r\n");
  } else if (client_version_minor == 0) {
    w.put("Connection: keep-alive\r\n");
  }
  w.put("\r\n");
  return w.commit(out);
}

void response_fields(const http::ResponseHead& resp, std::string_view extra_fields,
                     FieldSink& sink) {
  relayed_fields(resp, [&sink](std::string_view n, std::string_view v) { sink.field(n, v); });
  sink.field("Via", via_for(resp));
  // Our own "Name: value\r\n" lines (the pipeline's FieldWriter): split, never parsed as input.
  while (!extra_fields.empty()) {
    std::size_t end = extra_fields.find("\r\n");
    if (end == std::string_view::npos) end = extra_fields.size();
    const std::string_view line = extra_fields.substr(0, end);
    extra_fields.remove_prefix(std::min(end + 2, extra_fields.size()));
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    sink.field(line.substr(0, colon), value);
  }
}

bool write_local_response(int status, std::string_view detail, bool close, bool head_only,
                          std::uint32_t retry_after_s, std::string_view extra_fields,
                          core::Buffer& out) {
  Writer w(out);
  std::string_view reason = reason_phrase(status);
  w.put("HTTP/1.1 ");
  w.put_uint(static_cast<std::uint64_t>(status));
  w.put(" ");
  w.put(reason);
  w.put(
      "\r\nServer: gatehouse\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: "
      "no-store\r\n");
  if (retry_after_s > 0) {
    w.put("Retry-After: ");
    w.put_uint(retry_after_s);
    w.put("\r\n");
  }
  w.put(extra_fields);
  // Body: "<code> <reason>: <detail>\n"
  std::size_t body_len = 3 + 1 + reason.size() + (detail.empty() ? 0 : 2 + detail.size()) + 1;
  w.put("Content-Length: ");
  w.put_uint(body_len);
  w.put(close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
  if (!head_only) {
    w.put_uint(static_cast<std::uint64_t>(status));
    w.put(" ");
    w.put(reason);
    if (!detail.empty()) {
      w.put(": ");
      w.put(detail);
    }
    w.put("\n");
  }
  return w.commit(out);
}

bool write_local_page(int status, std::string_view content_type, std::string_view body, bool close,
                      bool head_only, std::uint32_t retry_after_s, std::string_view extra_fields,
                      core::Buffer& out) {
  Writer w(out);
  w.put("HTTP/1.1 ");
  w.put_uint(static_cast<std::uint64_t>(status));
  w.put(" ");
  w.put(reason_phrase(status));
  w.put("\r\nServer: gatehouse\r\nContent-Type: ");
  w.put(content_type);
  // Challenge and queue pages are per client: never cached, never framed by another site.
  w.put(
      "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
      "X-Frame-Options: DENY\r\nReferrer-Policy: same-origin\r\n");
  if (retry_after_s > 0) {
    w.put("Retry-After: ");
    w.put_uint(retry_after_s);
    w.put("\r\n");
  }
  w.put(extra_fields);
  w.put("Content-Length: ");
  w.put_uint(body.size());
  w.put(close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
  if (!head_only) w.put(body);
  return w.commit(out);
}

bool write_chunk_header(std::uint64_t size, core::Buffer& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, size, 16);
  Writer w(out);
  w.put({buf, static_cast<std::size_t>(r.ptr - buf)});
  w.put("\r\n");
  return w.commit(out);
}

}  // namespace gh::proxy
