// http::CurlHttpClient — the real HttpClient, on libcurl (curl_http_client.cc is the project's only
// file that includes <curl/curl.h>). Created once per remote endpoint policy (TLS options) and
// shared by every thread that talks to it.
//
// Connections: a small pool of curl easy handles; each Send() borrows one for its duration, so
// concurrent callers each use their own handle (and connection) and a long poll never blocks other
// requests. A returned handle keeps its connection open (HTTP/1.1 keep-alive) for the next caller;
// at most `max_idle_handles` are kept.
//
// TLS: see tls_options.h. With a pin, the leaf certificate's SHA-256 fingerprint is compared inside
// OpenSSL's verify callback, so the handshake fails before any request byte is sent; the error
// names the expected and the actual fingerprint.
//
// CONNECT tunnels (Connect()): each tunnel gets its own curl handle with CURLOPT_CONNECT_ONLY (TCP
// and, for https, the TLS handshake under the same policy as Send), then the CONNECT head is
// written and the reply head read with curl_easy_send/curl_easy_recv; the handle belongs to the
// returned ByteStream, whose Read polls CURLINFO_ACTIVESOCKET after curl_easy_recv (TLS may hold
// decrypted bytes the socket no longer shows).
//
// Threads: Send() and Connect() are safe from any thread. The client must outlive every Send() in
// progress; a ByteStream does not reference the client and may outlive it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "lib/core/result.h"
#include "lib/http/http_client.h"
#include "lib/http/tls_options.h"

namespace fruix::http {

struct CurlHttpClientOptions {
  TlsOptions tls;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};  // default per request
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};          // default per request
  size_t max_idle_handles = 8;
  size_t max_response_bytes = 256u * 1024 * 1024;  // larger bodies fail with kProtocol
  std::string user_agent = "fruixd";
};

class CurlHttpClient final : public HttpClient {
 public:
  // kInvalidArgument if the TLS options are incoherent (see ValidateTlsOptions) or the CA file is
  // unreadable. Logs a warning when verification is off (tls.insecure, or tls.verify false).
  static Result<std::unique_ptr<CurlHttpClient>> Create(CurlHttpClientOptions options);
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request) override;
  Result<std::unique_ptr<ByteStream>> Connect(const ConnectRequest& request) override;

 private:
  struct Impl;
  explicit CurlHttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fruix::http
