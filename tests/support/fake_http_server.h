// FakeHttpServer — a minimal HTTP/1.1 (optionally TLS) server for testing the HTTP client against
// real sockets. Listens on 127.0.0.1 (or another loopback address) on an ephemeral port, serves
// each connection on its own thread with keep-alive, and records what it received. Requests with a
// Content-Length body only (no chunked encoding).
//
// Threads: the handler runs on connection threads, possibly concurrently. All accessors are
// thread-safe. The destructor stops accepting, shuts every connection down and joins all threads;
// a handler that blocks must be released first (see Gate).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lib/core/result.h"
#include "lib/http/http_client.h"

namespace fruix::testing {

struct FakeHttpRequest {
  std::string method;
  std::string target;     // path and query as sent
  http::Headers headers;  // names lower-cased
  std::string body;
  int connection = 0;  // 1-based index of the connection it arrived on

  const std::string* Header(std::string_view name) const;
};

struct FakeHttpResponse {
  int status = 200;
  http::Headers headers;
  std::string body;
  bool close = false;  // send "Connection: close" and close after the response
};

// A one-shot latch a handler can block on, with a bound so a broken test cannot hang.
class Gate {
 public:
  void Open();
  // Returns true once opened, false if `limit` passed first.
  bool Wait(std::chrono::milliseconds limit = std::chrono::seconds(20));

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeHttpResponse(const FakeHttpRequest&)>;
  struct TlsFiles {
    std::string cert_pem;
    std::string key_pem;
  };

  // Binds `address`:0 and starts serving. With `tls`, every connection is TLS.
  static Result<std::unique_ptr<FakeHttpServer>> Start(Handler handler,
                                                       std::optional<TlsFiles> tls = std::nullopt,
                                                       std::string address = "127.0.0.1");
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  uint16_t port() const { return port_; }
  // "http(s)://address:port" + path.
  std::string Url(std::string_view path = "/") const;

  int connections_accepted() const;
  int tls_handshakes_failed() const;
  std::vector<FakeHttpRequest> requests() const;
  // Blocks until at least `n` connections have been fully served and closed by the server, or
  // `limit` passes; returns whether it happened.
  bool WaitForClosedConnections(int n,
                                std::chrono::milliseconds limit = std::chrono::seconds(10)) const;

 private:
  FakeHttpServer() = default;
  void AcceptLoop();
  void Serve(int fd, int connection);

  Handler handler_;
  std::string address_;
  bool tls_ = false;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*, kept out of the header
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::vector<std::thread> workers_;  // guarded by mu_
  std::vector<int> open_fds_;         // guarded by mu_
  std::vector<FakeHttpRequest> requests_;
  int connections_ = 0;
  int tls_failures_ = 0;
  int connections_closed_ = 0;
  mutable std::condition_variable closed_cv_;
  bool stopping_ = false;
};

}  // namespace fruix::testing
