#include "lib/sim/http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstring>
#include <list>

namespace fruix::sim {
namespace {

using asio::ip::tcp;

Error FromAsio(const char* what, const asio::error_code& ec) {
  return Error::Transport(std::string(what) + ": " + ec.message());
}

class PlainStream : public Stream {
 public:
  explicit PlainStream(tcp::socket socket) : socket_(std::move(socket)) {}
  Result<size_t> ReadSome(void* buf, size_t n) override {
    asio::error_code ec;
    size_t got = socket_.read_some(asio::buffer(buf, n), ec);
    if (ec == asio::error::eof) return size_t{0};
    if (ec) return FromAsio("read", ec);
    return got;
  }
  Result<void> WriteAll(const void* data, size_t n) override {
    asio::error_code ec;
    asio::write(socket_, asio::buffer(data, n), ec);
    if (ec) return FromAsio("write", ec);
    return Ok();
  }
  void Abort() override { ::shutdown(socket_.native_handle(), SHUT_RDWR); }
  void Close() override {
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
  }
  int native_handle() const override { return const_cast<tcp::socket&>(socket_).native_handle(); }

 private:
  tcp::socket socket_;
};

class TlsStream : public Stream {
 public:
  TlsStream(tcp::socket socket, asio::ssl::context& ctx) : stream_(std::move(socket), ctx) {}
  Result<void> Handshake() {
    asio::error_code ec;
    stream_.handshake(asio::ssl::stream_base::server, ec);
    if (ec) return Error::Tls("TLS handshake: " + ec.message());
    return Ok();
  }
  Result<size_t> ReadSome(void* buf, size_t n) override {
    asio::error_code ec;
    size_t got = stream_.read_some(asio::buffer(buf, n), ec);
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return size_t{0};
    if (ec) return FromAsio("read", ec);
    return got;
  }
  Result<void> WriteAll(const void* data, size_t n) override {
    asio::error_code ec;
    asio::write(stream_, asio::buffer(data, n), ec);
    if (ec) return FromAsio("write", ec);
    return Ok();
  }
  void Abort() override { ::shutdown(stream_.lowest_layer().native_handle(), SHUT_RDWR); }
  int native_handle() const override {
    return const_cast<asio::ssl::stream<tcp::socket>&>(stream_).lowest_layer().native_handle();
  }
  void Close() override {
    asio::error_code ec;
    // close_notify without waiting for the peer's (like stunnel in front of xapi).
    SSL_shutdown(stream_.native_handle());
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ec);
  }

 private:
  asio::ssl::stream<tcp::socket> stream_;
};

}  // namespace

Result<std::optional<HttpRequest>> HttpConnection::ReadRequest() {
  for (;;) {
    size_t end = buffer_.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string head = buffer_.substr(0, end);
      buffer_.erase(0, end + 4);
      // Tolerate stray CRLFs between requests.
      while (head.rfind("\r\n", 0) == 0) head.erase(0, 2);
      FRUIX_ASSIGN_OR_RETURN(HttpRequest req, ParseRequestHead(head));
      return std::optional<HttpRequest>(std::move(req));
    }
    if (buffer_.size() > kMaxHead) return Error::Protocol("request head too large");
    char buf[8192];
    FRUIX_ASSIGN_OR_RETURN(size_t n, stream_->ReadSome(buf, sizeof buf));
    if (n == 0) {
      if (buffer_.empty()) return std::optional<HttpRequest>();
      return Error::Protocol("connection closed inside a request head");
    }
    buffer_.append(buf, n);
  }
}

Result<size_t> HttpConnection::Read(void* buf, size_t n) {
  if (!buffer_.empty()) {
    size_t k = std::min(n, buffer_.size());
    std::memcpy(buf, buffer_.data(), k);
    buffer_.erase(0, k);
    return k;
  }
  return stream_->ReadSome(buf, n);
}

Result<std::string> HttpConnection::ReadExactly(uint64_t n) {
  std::string out;
  out.reserve(static_cast<size_t>(n));
  char buf[16384];
  while (out.size() < n) {
    FRUIX_ASSIGN_OR_RETURN(size_t got, Read(buf, std::min<uint64_t>(sizeof buf, n - out.size())));
    if (got == 0) return Error::Protocol("connection closed inside a request body");
    out.append(buf, got);
  }
  return out;
}

bool HttpConnection::InputReady() {
  if (!buffer_.empty()) return true;
  pollfd p{stream_->native_handle(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

void HttpConnection::Reset() {
  const int fd = stream_->native_handle();
  linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  (void)::connect(fd, &unspec, sizeof(unspec));  // TCP disconnect: sends RST when established
}

Result<void> HttpConnection::Write(std::string_view data) {
  return stream_->WriteAll(data.data(), data.size());
}

Result<void> HttpConnection::Send(const HttpResponse& response) {
  return Write(response.Serialize());
}

struct HttpServer::Impl {
  struct Listener {
    tcp::acceptor acceptor;
    bool tls;
    std::thread thread;
  };
  struct Conn {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
    std::shared_ptr<Stream> stream;  // for Abort() at Stop()
  };

  Impl(HttpHandler& h, HostResolver r) : handler(h), resolver(std::move(r)) {}

  void AcceptLoop(Listener* l) {
    for (;;) {
      asio::error_code ec;
      tcp::socket socket(io);
      l->acceptor.accept(socket, ec);
      if (stopping.load()) return;
      if (ec) {
        if (ec == asio::error::interrupted || ec == asio::error::connection_aborted) continue;
        return;
      }
      SpawnConnection(std::move(socket), l->tls);
    }
  }

  void SpawnConnection(tcp::socket socket, bool tls) {
    RequestContext ctx;
    asio::error_code ec;
    auto local = socket.local_endpoint(ec);
    auto remote = socket.remote_endpoint(ec);
    ctx.local_address = local.address().to_string();
    ctx.local_port = local.port();
    ctx.tls = tls;
    ctx.peer = remote.address().to_string() + ":" + std::to_string(remote.port());
    ctx.host_ref = resolver(ctx.local_address);
    std::shared_ptr<Stream> stream;
    TlsStream* tls_stream = nullptr;
    if (tls) {
      auto s = std::make_shared<TlsStream>(std::move(socket), *ssl);
      tls_stream = s.get();
      stream = s;
    } else {
      stream = std::make_shared<PlainStream>(std::move(socket));
    }
    std::lock_guard<std::mutex> lock(mu);
    if (stopping.load()) return;
    // Reap finished connection threads.
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    conns.push_back(Conn{std::thread([this, stream, tls_stream, ctx, done] {
                           Serve(stream, tls_stream, ctx);
                           done->store(true);
                         }),
                         done, stream});
  }

  void Serve(std::shared_ptr<Stream> stream, TlsStream* tls_stream, RequestContext ctx) {
    if (tls_stream != nullptr && !tls_stream->Handshake().ok()) {
      stream->Abort();
      return;
    }
    // The connection shares the stream; Stop() may Abort() it concurrently.
    struct Borrowed : Stream {
      explicit Borrowed(std::shared_ptr<Stream> shared) : s(std::move(shared)) {}
      Result<size_t> ReadSome(void* buf, size_t n) override { return s->ReadSome(buf, n); }
      Result<void> WriteAll(const void* d, size_t n) override { return s->WriteAll(d, n); }
      void Abort() override { s->Abort(); }
      void Close() override { s->Close(); }
      int native_handle() const override { return s->native_handle(); }
      std::shared_ptr<Stream> s;
    };
    HttpConnection conn(std::make_unique<Borrowed>(stream), std::move(ctx));
    for (;;) {
      auto req = conn.ReadRequest();
      if (!req.ok()) {
        if (req.error().code() == ErrorCode::kProtocol) {
          (void)conn.Send(HttpResponse::InternalError("The HTTP headers could not be parsed."));
        }
        break;
      }
      if (!req->has_value()) break;
      if (!handler.Serve(**req, conn) || stopping.load()) break;
    }
    conn.Close();
  }

  HttpHandler& handler;
  HostResolver resolver;
  asio::io_context io;
  std::unique_ptr<asio::ssl::context> ssl;
  std::list<Listener> listeners;
  mutable std::mutex mu;
  std::list<Conn> conns;
  std::atomic<bool> stopping{false};
  bool started = false;
};

HttpServer::HttpServer(HttpHandler& handler, HostResolver resolver)
    : impl_(std::make_unique<Impl>(handler, std::move(resolver))) {}

HttpServer::~HttpServer() { Stop(); }

Result<void> HttpServer::SetTlsIdentity(const TlsIdentity& identity) {
  try {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    ctx->use_certificate_chain(asio::buffer(identity.cert_pem));
    ctx->use_private_key(asio::buffer(identity.key_pem), asio::ssl::context::pem);
    impl_->ssl = std::move(ctx);
    return Ok();
  } catch (const std::exception& e) {
    return Error::Tls(std::string("installing TLS identity: ") + e.what());
  }
}

Result<uint16_t> HttpServer::Listen(const std::string& address, uint16_t port, bool tls) {
  if (tls && !impl_->ssl) return Error::FailedPrecondition("TLS listener without identity");
  asio::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) return Error::InvalidArgument("bad listen address " + address);
  tcp::acceptor acceptor(impl_->io);
  tcp::endpoint ep(addr, port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error::Unavailable("listening on " + address + ":" + std::to_string(port) + ": " +
                              ec.message());
  }
  uint16_t bound = acceptor.local_endpoint().port();
  impl_->listeners.push_back(Impl::Listener{std::move(acceptor), tls, {}});
  return bound;
}

void HttpServer::Start() {
  if (impl_->started) return;
  impl_->started = true;
  for (auto& l : impl_->listeners) {
    Impl::Listener* lp = &l;
    l.thread = std::thread([this, lp] { impl_->AcceptLoop(lp); });
  }
}

void HttpServer::Stop() {
  if (impl_->stopping.exchange(true)) return;
  for (auto& l : impl_->listeners) ::shutdown(l.acceptor.native_handle(), SHUT_RDWR);
  for (auto& l : impl_->listeners) {
    if (l.thread.joinable()) l.thread.join();
    asio::error_code ec;
    l.acceptor.close(ec);
  }
  std::list<Impl::Conn> conns;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    conns.swap(impl_->conns);
  }
  for (auto& c : conns) c.stream->Abort();
  for (auto& c : conns) {
    if (c.thread.joinable()) c.thread.join();
  }
}

size_t HttpServer::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  size_t n = 0;
  for (const auto& c : impl_->conns) n += c.done->load() ? 0 : 1;
  return n;
}

}  // namespace fruix::sim
