// The decision service: the HTTP/1.1 session on a `decide` listener. A proxy in front (nginx
// auth_request, Envoy ext_authz, Traefik forwardAuth, Caddy forward_auth) describes a request;
// the pipeline decides on it exactly as it would inline; the answer goes back in the form that
// proxy understands (docs/DECIDE.md). Nothing is forwarded from here.
#include <arpa/inet.h>

#include <algorithm>
#include <optional>

#include "client/address.h"
#include "gate/pipeline.h"
#include "http/fields.h"
#include "http/parser.h"
#include "policy/snapshot.h"
#include "proxy/observe.h"
#include "proxy/rewrite.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace gh::proxy {
namespace {

constexpr std::string_view kAnswerPrefix = "/.gatehouse/answer/";

std::string_view field(const http::RequestHead& head, std::string_view name) {
  for (std::uint16_t i = 0; i < head.field_count; ++i) {
    if (http::iequals(head.fields[i].name, name)) return head.fields[i].value;
  }
  return {};
}

// Fields that describe the request for us, not fields of it.
bool describing(std::string_view name) {
  for (std::string_view d :
       {"x-original-method", "x-original-uri", "x-original-url", "x-forwarded-method",
        "x-forwarded-uri", "x-forwarded-host", "host", "content-length", "transfer-encoding",
        "connection", "keep-alive", "expect"}) {
    if (http::iequals(name, d)) return true;
  }
  return false;
}

const char* class_name(policy::ClientClass c) {
  switch (c) {
    case policy::ClientClass::Resident:
      return "resident";
    case policy::ClientClass::Verified:
      return "verified";
    case policy::ClientClass::Suspect:
      return "suspect";
    case policy::ClientClass::Anonymous:
      break;
  }
  return "anonymous";
}

}  // namespace

// A proxy we trust may describe the request it asks about (nginx: X-Original-Method and
// X-Original-URI as our examples set them; Traefik and Caddy: X-Forwarded-Method, -Uri, -Host).
// Without those, the request is itself the one to decide on (Envoy's ext_authz sends the
// original method, path and headers; and /.gatehouse/ requests come to us directly).
const http::RequestHead& Session::describe_original() {
  subrequest_ = false;
  if (!hold_->runtime->trust.trusted(peer_.ip)) return req_;
  std::string_view method = field(req_, "x-original-method");
  if (method.empty()) method = field(req_, "x-forwarded-method");
  std::string_view uri = field(req_, "x-original-uri");
  if (uri.empty()) uri = field(req_, "x-forwarded-uri");
  if (method.empty() && uri.empty()) return req_;
  if (method.empty()) method = req_.method_text;
  if (uri.empty()) uri = req_.target;
  std::string_view host = field(req_, "x-forwarded-host");
  if (host.empty()) host = req_.host;
  original_text_.clear();
  original_text_.append(method).append(" ").append(uri).append(" HTTP/1.1\r\nHost: ");
  original_text_.append(host).append("\r\n");
  for (std::uint16_t i = 0; i < req_.field_count; ++i) {
    const http::Field& f = req_.fields[i];
    if (describing(f.name)) continue;
    original_text_.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  original_text_.append("\r\n");
  subrequest_ = true;
  const policy::LimitsConfig& lim = hold_->snapshot->config.limits;
  http::HeadLimits limits;
  limits.max_head_bytes = lim.max_head_bytes + 4096;
  limits.max_fields = lim.max_header_fields;
  limits.max_target_bytes = lim.max_target_bytes;
  const http::ParseResult r = http::parse_request(original_text_, limits, original_);
  if (r.status != http::ParseStatus::Complete) {
    original_ = {};  // caller refuses: the described request is not one we would accept
    original_.method = http::Method::Other;
  }
  return original_;
}

// "Pass": 200, the class and client for the application, and any cookie of ours that should
// reach the client with the application's answer (a fresh waiting-room ticket).
void Session::allow() {
  http::FieldWriter w(allow_fields_.data(), allow_fields_.size());
  w.put("X-Gatehouse-Class: ");
  w.put(class_name(x_.cls));
  w.put("\r\nX-Gatehouse-Client: ");
  char ip[INET6_ADDRSTRLEN];
  w.put(client::format_ip(x_.client, ip, sizeof ip));
  w.put("\r\n");
  w.put(x_.response_fields());
  allowed_ = true;
  respond(stages::page(200, stages::kText, {}, 0, w.view()));
}

// How a refusal travels back through the proxy in front.
stages::Answer Session::for_host(const stages::Answer& a) {
  if (decide_ == policy::DecideFor::Nginx) {
    if (!subrequest_) return a;  // /.gatehouse/ requests and fetches come to us directly
    // auth_request passes 401 and 403 only (any other status is a 500) and drops the body:
    // the real answer is kept, and nginx fetches it by id (error_page -> @gatehouse).
    answer_id_ = worker_.server().answers().put(a, worker_.loop().now_ms());
    answer_id_.insert(0, "X-Gatehouse-Answer: ");
    answer_id_.append("\r\nX-Gatehouse-Status: ").append(std::to_string(a.status)).append("\r\n");
    stages::Answer r = stages::page(a.status == 401 ? 401 : 403, stages::kText, {}, 0, answer_id_);
    return r;
  }
  // Envoy, Traefik and Caddy pass any non-2xx answer to the client as it is, and read a 2xx as
  // "pass": a waiting-room page (200) or its JSON (202) must not open the door. Gatehouse's own
  // endpoints (/.gatehouse/, reached directly) answer as they are.
  if (!x_.gatehouse && a.status >= 200 && a.status < 300) {
    stages::Answer r = a;
    r.status = 429;
    r.retry_after_s = std::max<std::uint32_t>(r.retry_after_s, 1);
    return r;
  }
  return a;
}

// nginx's fetch of a kept refusal: GET /.gatehouse/answer/<id>, answered as it was decided.
bool Session::answer_fetch() {
  if (decide_ != policy::DecideFor::Nginx || !req_.path.starts_with(kAnswerPrefix)) return false;
  const std::string_view id = req_.path.substr(kAnswerPrefix.size());
  if (std::optional<AnswerStore::Stored> kept =
          worker_.server().answers().take(id, worker_.loop().now_ms())) {
    respond(kept->view());  // written out before `kept` goes
    return true;
  }
  respond(AnswerStore::fallback(id));
  return true;
}

}  // namespace gh::proxy
