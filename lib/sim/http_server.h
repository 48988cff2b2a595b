// sim::HttpServer — the simulator's HTTP/HTTPS front end on standalone asio.
//
// One thread per listener accepts; each accepted connection gets its own thread, which reads
// request heads and hands each request to the HttpHandler (HTTP/1.1 keep-alive: the handler says
// whether the connection stays open). Thread-per-connection is deliberate: handlers block
// (event.from waits up to its timeout, imports stream bodies through blocking readers, console
// connections stream for as long as the guest runs), and clients such as Xen Orchestra keep a
// long event.from open while making other calls on other connections.
//
// Stop() closes the listeners, shuts every open connection down (blocked reads return) and joins
// all threads; handlers blocked on something other than their socket must be woken by their own
// module's shutdown first (see Simulator::Stop). Listen()/Start()/Stop() are called by one owner
// thread; open_connections() from anywhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lib/core/result.h"
#include "lib/sim/http_message.h"
#include "lib/sim/request_context.h"
#include "lib/sim/tls_identity.h"

namespace fruix::sim {

// A connected byte stream (plain TCP or TLS). Read/Write from the connection thread only;
// Abort() from any thread.
class Stream {
 public:
  virtual ~Stream() = default;
  // Up to n bytes; 0 at end of stream.
  virtual Result<size_t> ReadSome(void* buf, size_t n) = 0;
  virtual Result<void> WriteAll(const void* data, size_t n) = 0;
  // Shuts the socket down in both directions: blocked reads and writes return.
  virtual void Abort() = 0;
  // Orderly end (TLS close_notify, then socket shutdown).
  virtual void Close() = 0;
  // The underlying socket (for readiness polling only).
  virtual int native_handle() const = 0;
};

// One accepted connection with a read buffer, as handlers see it.
class HttpConnection {
 public:
  static constexpr size_t kMaxHead = 64 * 1024;

  HttpConnection(std::unique_ptr<Stream> stream, RequestContext context)
      : stream_(std::move(stream)), context_(std::move(context)) {}

  // The next request head; nullopt on end of stream before any byte. kProtocol on a malformed or
  // oversized head.
  Result<std::optional<HttpRequest>> ReadRequest();
  // Exactly n body bytes (kProtocol if the peer closes early).
  Result<std::string> ReadExactly(uint64_t n);
  // Up to n bytes, buffered bytes first; 0 at end of stream.
  Result<size_t> Read(void* buf, size_t n);
  Result<void> Write(std::string_view data);
  Result<void> Send(const HttpResponse& response);
  // True when the peer sent something (or closed): a Read() would not block long.
  bool InputReady();
  void Close() { stream_->Close(); }
  void Abort() { stream_->Abort(); }
  // Ends the connection at once with a TCP reset (SO_LINGER 0, then disconnect), as the client
  // sees a server that closes with request bytes unread, or a cut connection: its next send or
  // receive fails with ECONNRESET (bytes it already received stay readable). Later reads and
  // writes here fail.
  void Reset();

  const RequestContext& context() const { return context_; }

 private:
  std::unique_ptr<Stream> stream_;
  RequestContext context_;
  std::string buffer_;  // bytes read past the last request head
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Serves one request. Returns true to keep the connection for another request.
  virtual bool Serve(const HttpRequest& request, HttpConnection& connection) = 0;
};

class HttpServer {
 public:
  // Maps the local address a connection arrived on to the simulated host that owns it.
  using HostResolver = std::function<std::string(const std::string& local_address)>;

  HttpServer(HttpHandler& handler, HostResolver resolver);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Installs the certificate for TLS listeners. Call before Listen(..., tls = true).
  Result<void> SetTlsIdentity(const TlsIdentity& identity);
  // Binds address:port (0 = ephemeral) and returns the bound port. Accepting starts at Start().
  Result<uint16_t> Listen(const std::string& address, uint16_t port, bool tls);
  void Start();
  void Stop();
  size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fruix::sim
