// http::HttpClient — the seam for every HTTP exchange fruixd makes (XML-RPC to xapi today; disk
// upload and console CONNECT later). An abstract interface with one real implementation
// (CurlHttpClient, curl_http_client.h) and one test fake (tests/support/fake_http_client.h).
//
// Threads: implementations must allow Send() from any number of threads at once; one slow request
// (a 60 s event.from poll) must not delay requests made by other threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/core/result.h"

namespace fruix::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

enum class Method { kGet, kPost, kPut };

// Pulls the next bytes of a streamed request body into `buf`; returns how many (0 only at the
// end of the body) or an error, which abandons the request with that error.
using BodySource = std::function<Result<size_t>(std::span<uint8_t> buf)>;

struct HttpRequest {
  Method method = Method::kPost;
  // Absolute http:// or https:// URL. Only scheme://host:port/path reaches error messages; the
  // query (which may carry a session id) is never logged.
  std::string url;
  Headers headers;   // sent as given, in order
  std::string body;  // POST body (sent with Content-Length; never chunked)
  // kPut only: the body is pulled from `body_source` and is exactly `body_length` bytes, sent
  // with that Content-Length (never chunked, no `Expect: 100-continue`). A source that ends early
  // fails the request (kTransport).
  BodySource body_source;
  uint64_t body_length = 0;
  // Limits for this request; zero means the client's default.
  std::chrono::milliseconds connect_timeout{0};
  std::chrono::milliseconds timeout{0};  // whole exchange, connect included
  // When stop is requested the request is abandoned (observed within about a second) and Send
  // returns kCancelled.
  std::stop_token cancel;
};

struct HttpResponse {
  int status = 0;
  Headers headers;  // names lower-cased, in arrival order (final response only, not 1xx)
  std::string body;

  // The first header named `name` (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // Performs one exchange and returns the response whatever its HTTP status (redirects are not
  // followed). Never throws. Errors:
  //   kUnavailable  connection refused/reset, peer closed early, name not resolved (retryable)
  //   kTimeout      connect or total timeout elapsed
  //   kTls          handshake failure, certificate rejected, pin mismatch
  //   kCancelled    request.cancel was triggered
  //   kInvalidArgument  malformed URL or unsupported scheme
  //   kTransport    anything else on the wire; kProtocol for an oversized response
  // Each message names the URL without its query.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

// `url` with its query string and fragment removed, for messages and logs.
std::string RedactUrl(std::string_view url);

}  // namespace fruix::http
