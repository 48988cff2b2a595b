// sim::http_message — HTTP/1.x request heads and responses as the simulator reads and writes
// them, plus the small parsers they need (query strings, cookies, request heads). Responses are
// written the way xapi's http-lib writes them (libs/http-lib/http.ml, http_svr.ml): status line,
// "content-length" first when there is a body, then the headers in the order given, lower-case
// names where xapi uses them. Plain value types and pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/core/result.h"

namespace fruix::sim {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;     // "POST", "PUT", "CONNECT", ...
  std::string target;     // as sent (may be an absolute URL for CONNECT)
  std::string path;       // "/import_raw_vdi"
  std::string raw_query;  // after '?', undecoded
  std::string version;    // "HTTP/1.1"
  HeaderList headers;     // names as sent
  std::vector<std::pair<std::string, std::string>> query;    // decoded
  std::vector<std::pair<std::string, std::string>> cookies;  // decoded

  // Case-insensitive header lookup.
  std::optional<std::string> Header(std::string_view name) const;
  std::optional<std::string> Query(std::string_view name) const;
  std::optional<std::string> Cookie(std::string_view name) const;
  // A value from the query string, else from the cookies (xapi reads both).
  std::optional<std::string> Param(std::string_view name) const;
  bool has_param(std::string_view name) const { return Param(name).has_value(); }
  std::optional<uint64_t> content_length() const;
  // HTTP/1.1 without "Connection: close", or HTTP/1.0 with "Connection: keep-alive".
  bool keep_alive() const;
  bool is_http10() const { return version == "HTTP/1.0"; }
};

struct HttpResponse {
  std::string version = "1.1";
  int status = 200;
  std::string reason = "OK";
  bool with_content_length = true;  // false for header-only replies (import 200, CONNECT 200)
  HeaderList headers;
  std::string body;

  std::string Serialize() const;
  // xapi's HTML error page (http_svr.ml response_error_html):
  // content-type: text/html, connection: close, cache-control: no-cache, no-store.
  static HttpResponse Html(int status, std::string reason, std::string body, HeaderList extra = {},
                           std::string version = "1.1");
  // "HTTP 500 internal server error" page, as xapi sends for malformed requests.
  static HttpResponse InternalError(std::string extra_html = "");
  // Header-only replies built like xapi's Http.http_* helpers (no content-length).
  static HttpResponse Bare(int status, std::string reason, HeaderList headers,
                           std::string version = "1.1");
};

// Parses "a=b&c=d" with percent-decoding ('+' is a space).
std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view q);
// Parses a Cookie header ("a=b; c=d", or xapi's legacy "a=b&c=d").
std::vector<std::pair<std::string, std::string>> ParseCookies(std::string_view header);
// Escapes &, <, > and " for the HTML bodies of xapi's error pages.
std::string EscapeHtml(std::string_view s);
std::string PercentDecode(std::string_view s);
std::string PercentEncode(std::string_view s);
// Parses a request head (request line + headers, without the final blank line).
// kProtocol on malformed input.
Result<HttpRequest> ParseRequestHead(std::string_view head);

}  // namespace fruix::sim
