// http::HttpClient — the seam for every HTTP exchange fruixd makes (XML-RPC to xapi, disk upload,
// console CONNECT tunnels). An abstract interface with one real implementation (CurlHttpClient,
// curl_http_client.h) and one test fake (tests/support/fake_http_client.h).
//
// Threads: implementations must allow Send() and Connect() from any number of threads at once;
// one slow request (a 60 s event.from poll) must not delay requests made by other threads. A
// ByteStream returned by Connect() is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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

// A CONNECT tunnel as xapi serves consoles (xenapi-spec.md §7): `url`'s path and query are the
// CONNECT target (a URL path, not host:port), sent over TLS for https to url's host and port.
struct ConnectRequest {
  // Absolute http:// or https:// URL; path+query (default "/") become the request target. The
  // query (which may carry a session id) never reaches a message or a log.
  std::string url;
  Headers headers;  // sent as given, in order; "Host" is added unless present
  // Bounds TCP connect + TLS handshake + reading the reply head; zero = the client's default.
  std::chrono::milliseconds connect_timeout{0};
  // When stop is requested before the tunnel is up, Connect returns kCancelled (observed within
  // about 100 ms).
  std::stop_token cancel;
};

// One established tunnel: a raw byte pipe in both directions. Owned by the caller; closing or
// destroying it closes the connection. Used by one thread at a time.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Waits at most `wait` for bytes and copies up to buf.size() of them. Returns the count (> 0),
  // 0 when nothing arrived within `wait`, kUnavailable when the peer closed the connection or it
  // dropped (and for every Read after that or after Close()).
  virtual Result<size_t> Read(std::span<char> buf, std::chrono::milliseconds wait) = 0;
  // Sends all of `data` (blocking for at most about 10 s on a stalled peer: kTimeout).
  // kUnavailable when the connection is gone.
  virtual Result<void> Write(std::span<const char> data) = 0;
  // Closes the connection. Idempotent.
  virtual void Close() = 0;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // Opens a CONNECT tunnel: sends `CONNECT <path?query> HTTP/1.0`, reads the reply head byte-
  // exactly (bytes after the blank line are the first tunnel bytes, never lost) and, on 200,
  // returns the pipe. Never throws. Errors name the URL without its query and, for a non-200
  // reply, its status line:
  //   kNotFound           404 (no such console, or no backend for it)
  //   kPermissionDenied   401 or 403 (missing or invalid session)
  //   kUnavailable        503 (e.g. "Connection Limit Exceeded"), and connection refused/reset
  //   kFailedPrecondition 500 (xapi: the VM is not running on the host that was asked)
  //   kTransport          any other status; kProtocol for a malformed or oversized head
  //   kTimeout / kTls / kCancelled / kInvalidArgument as for Send()
  // The default implementation returns kInternal "not supported by this client".
  virtual Result<std::unique_ptr<ByteStream>> Connect(const ConnectRequest& request);

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
