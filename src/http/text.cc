// Small lookups around the parsers: status codes, reasons, method names, field-name helpers.
#include <string_view>

#include "http/charset.h"
#include "http/parser.h"

namespace gh::http {

int status_for(ParseError error) {
  switch (error) {
    case ParseError::None:
      return 200;
    case ParseError::UriTooLong:
      return 414;
    case ParseError::HeadTooLarge:
    case ParseError::TooManyFields:
      return 431;
    case ParseError::UnsupportedVersion:
      return 505;
    case ParseError::UnsupportedTransferCoding:
      return 501;
    case ParseError::BadStatusLine:
      return 502;
    case ParseError::BadRequestLine:
    case ParseError::BadMethod:
    case ParseError::BadTarget:
    case ParseError::BadVersion:
    case ParseError::BadFieldName:
    case ParseError::SpaceBeforeColon:
    case ParseError::BadFieldValue:
    case ParseError::ObsFold:
    case ParseError::BadLineEnding:
    case ParseError::BadContentLength:
    case ParseError::DuplicateContentLength:
    case ParseError::LengthAndChunked:
    case ParseError::BadTransferEncoding:
    case ParseError::MissingHost:
    case ParseError::DuplicateHost:
    case ParseError::BadHost:
    case ParseError::HostMismatch:
    case ParseError::BadChunk:
    case ParseError::BadTrailer:
    case ParseError::BadConnectionOption:
      return 400;
  }
  return 400;  // out-of-range value: refuse rather than pass
}

std::string_view describe(ParseError error) {
  switch (error) {
    case ParseError::None:
      return "ok";
    case ParseError::BadRequestLine:
      return "malformed request line";
    case ParseError::BadMethod:
      return "invalid method";
    case ParseError::BadTarget:
      return "invalid request target";
    case ParseError::UriTooLong:
      return "request target too long";
    case ParseError::BadVersion:
      return "malformed http version";
    case ParseError::UnsupportedVersion:
      return "unsupported http version";
    case ParseError::HeadTooLarge:
      return "header section too large";
    case ParseError::TooManyFields:
      return "too many header fields";
    case ParseError::BadFieldName:
      return "invalid field name";
    case ParseError::SpaceBeforeColon:
      return "whitespace before colon";
    case ParseError::BadFieldValue:
      return "invalid byte in field value";
    case ParseError::ObsFold:
      return "obsolete line folding";
    case ParseError::BadLineEnding:
      return "bare cr or lf";
    case ParseError::BadContentLength:
      return "invalid content-length";
    case ParseError::DuplicateContentLength:
      return "duplicate content-length";
    case ParseError::LengthAndChunked:
      return "content-length with transfer-encoding";
    case ParseError::BadTransferEncoding:
      return "invalid transfer-encoding";
    case ParseError::UnsupportedTransferCoding:
      return "unsupported transfer coding";
    case ParseError::MissingHost:
      return "missing host";
    case ParseError::DuplicateHost:
      return "duplicate host";
    case ParseError::BadHost:
      return "invalid host";
    case ParseError::HostMismatch:
      return "host does not match target";
    case ParseError::BadStatusLine:
      return "malformed status line";
    case ParseError::BadChunk:
      return "invalid chunked framing";
    case ParseError::BadTrailer:
      return "invalid trailer section";
    case ParseError::BadConnectionOption:
      return "connection option names a field that is not hop-by-hop";
  }
  return "unknown error";
}

Method method_from(std::string_view token) {
  // Methods are case-sensitive (RFC 9110 9.1): "get" is an unknown method, not GET.
  switch (token.size()) {
    case 3:
      if (token == "GET") {
        return Method::Get;
      }
      if (token == "PUT") {
        return Method::Put;
      }
      break;
    case 4:
      if (token == "POST") {
        return Method::Post;
      }
      if (token == "HEAD") {
        return Method::Head;
      }
      break;
    case 5:
      if (token == "PATCH") {
        return Method::Patch;
      }
      if (token == "TRACE") {
        return Method::Trace;
      }
      break;
    case 6:
      if (token == "DELETE") {
        return Method::Delete;
      }
      break;
    case 7:
      if (token == "OPTIONS") {
        return Method::Options;
      }
      if (token == "CONNECT") {
        return Method::Connect;
      }
      break;
    default:
      break;
  }
  return Method::Other;
}

std::string_view method_name(Method method) {
  switch (method) {
    case Method::Get:
      return "GET";
    case Method::Head:
      return "HEAD";
    case Method::Post:
      return "POST";
    case Method::Put:
      return "PUT";
    case Method::Delete:
      return "DELETE";
    case Method::Options:
      return "OPTIONS";
    case Method::Patch:
      return "PATCH";
    case Method::Trace:
      return "TRACE";
    case Method::Connect:
      return "CONNECT";
    case Method::Other:
      break;
  }
  return {};  // Other has no single name: use RequestHead::method_text
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (detail::to_lower(static_cast<unsigned char>(a[i])) !=
        detail::to_lower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool is_connection_option(std::string_view token) {
  // Options and the fields that only ever mean something to the next hop. Anything else named
  // here would be removed by one hop and kept by another: Content-Length or Content-Type read
  // one way by us and another by the application (RFC 9110 7.6.1 lets a sender name any field).
  static constexpr std::string_view kOptions[] = {
      "close",       "keep-alive",          "upgrade",           "te",
      "trailer",     "proxy-connection",    "http2-settings",    "proxy-authenticate",
      "proxy-authorization"};
  for (std::string_view o : kOptions) {
    if (iequals(token, o)) {
      return true;
    }
  }
  return false;
}

bool is_hop_by_hop(std::string_view name, std::string_view connection_value) {
  static constexpr std::string_view kAlways[] = {"connection", "keep-alive", "proxy-connection",
                                                 "te",         "trailer",    "transfer-encoding",
                                                 "upgrade"};
  for (std::string_view h : kAlways) {
    if (detail::equals_lower(name, h)) {
      return true;
    }
  }
  return detail::any_list_element(connection_value,
                                  [name](std::string_view token) { return iequals(token, name); });
}

}  // namespace gh::http
