// http::PlainHttpPut — one PUT over plain HTTP (no TLS) on a socket of its own, for disk uploads:
// the caller writes the body straight into the connected socket (so a file range can go by
// sendfile(2), zero copy), after a request head with an exact Content-Length (never chunked, no
// `Expect: 100-continue`). Used for http:// import URLs; https:// goes through HttpClient.
//
// Threads: a free function; concurrent calls use separate sockets. SIGPIPE is blocked on the
// calling thread while the body is written (a peer that closes early gives EPIPE, not a signal),
// and any SIGPIPE raised meanwhile is consumed before the mask is restored.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>

#include "lib/core/result.h"
#include "lib/http/http_client.h"

namespace fruix::http {

struct PlainPutRequest {
  std::string url;  // http://host[:port]/path?query
  Headers headers;  // extra headers, sent as given
  uint64_t body_length = 0;
  // Writes exactly body_length bytes to the connected socket `fd` (blocking). Its error ends the
  // request with that error.
  std::function<Result<void>(int fd)> write_body;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // Per send/receive inactivity limit (SO_SNDTIMEO / SO_RCVTIMEO).
  std::chrono::milliseconds io_timeout{std::chrono::seconds(60)};
};

// Connects, sends the head and the body, and reads the response (status line, headers, body up
// to 1 MiB, delimited by Content-Length or by the peer closing). Errors as HttpClient::Send:
// kUnavailable (refused, reset, peer closed early: retryable), kTimeout, kInvalidArgument (not an
// http:// URL), kProtocol (malformed response), or write_body's error, except that its kIo (the
// socket write failing: peer closed or reset) is reported as kUnavailable.
Result<HttpResponse> PlainHttpPut(const PlainPutRequest& request);

}  // namespace fruix::http
