#include "tests/support/fake_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace fruix::testing {

const std::string* FakeHttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  }
  return nullptr;
}

void Gate::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
  cv_.notify_all();
}

bool Gate::Wait(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, limit, [&] { return open_; });
}

namespace {

// Byte stream over a plain socket or an SSL session.
class Stream {
 public:
  Stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Stream() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }
  // Returns bytes read, 0 on EOF or error.
  size_t Read(char* buf, size_t n) {
    if (ssl_ != nullptr) {
      int r = SSL_read(ssl_, buf, static_cast<int>(n));
      return r > 0 ? static_cast<size_t>(r) : 0;
    }
    for (;;) {
      ssize_t r = ::recv(fd_, buf, n, 0);
      if (r < 0 && errno == EINTR) continue;
      return r > 0 ? static_cast<size_t>(r) : 0;
    }
  }
  bool WriteAll(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      if (ssl_ != nullptr) {
        int r = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
        if (r <= 0) return false;
        off += static_cast<size_t>(r);
      } else {
        ssize_t r = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        off += static_cast<size_t>(r);
      }
    }
    return true;
  }

 private:
  int fd_;
  SSL* ssl_;
};

std::string Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 302:
      return "Found";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

Result<std::unique_ptr<FakeHttpServer>> FakeHttpServer::Start(Handler handler,
                                                              std::optional<TlsFiles> tls,
                                                              std::string address) {
  // OpenSSL writes to sockets with write(2): a peer that hung up must not kill the test process.
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<FakeHttpServer> s(new FakeHttpServer());
  s->handler_ = std::move(handler);
  s->address_ = std::move(address);
  if (tls) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) return Error::Internal("SSL_CTX_new failed");
    s->ssl_ctx_ = ctx;
    s->tls_ = true;
    if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_pem.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, tls->key_pem.c_str(), SSL_FILETYPE_PEM) != 1) {
      return Error::Io("FakeHttpServer: cannot load " + tls->cert_pem + " / " + tls->key_pem);
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (inet_pton(AF_INET, s->address_.c_str(), &addr.sin_addr) != 1) {
    return Error::InvalidArgument("FakeHttpServer: bad address " + s->address_);
  }
  s->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (s->listen_fd_ < 0 ||
      ::bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s->listen_fd_, 64) != 0) {
    return Error::Io(std::string("FakeHttpServer: bind/listen: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  s->port_ = ntohs(addr.sin_port);
  if (::pipe2(s->wake_pipe_, O_CLOEXEC) != 0) return Error::Io("FakeHttpServer: pipe");
  s->acceptor_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  return s;
}

FakeHttpServer::~FakeHttpServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  if (wake_pipe_[1] >= 0) {
    char c = 'x';
    (void)!::write(wake_pipe_[1], &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
  if (ssl_ctx_ != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

std::string FakeHttpServer::Url(std::string_view path) const {
  return std::string(tls_ ? "https://" : "http://") + address_ + ":" + std::to_string(port_) +
         std::string(path);
}

int FakeHttpServer::connections_accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

int FakeHttpServer::tls_handshakes_failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tls_failures_;
}

std::vector<FakeHttpRequest> FakeHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void FakeHttpServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    int connection = ++connections_;
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd, connection] { Serve(fd, connection); });
  }
}

void FakeHttpServer::Serve(int fd, int connection) {
  SSL* ssl = nullptr;
  bool ok = true;
  if (tls_) {
    ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      ERR_clear_error();
      std::lock_guard<std::mutex> lock(mu_);
      ++tls_failures_;
      ok = false;
    }
  }
  {
    Stream stream(fd, ssl);
    std::string buf;
    char chunk[16384];
    while (ok) {
      size_t header_end;
      while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
        size_t n = stream.Read(chunk, sizeof chunk);
        if (n == 0) {
          ok = false;
          break;
        }
        buf.append(chunk, n);
      }
      if (!ok) break;
      FakeHttpRequest req;
      req.connection = connection;
      std::string head = buf.substr(0, header_end);
      buf.erase(0, header_end + 4);
      size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      size_t sp1 = request_line.find(' ');
      size_t sp2 = request_line.rfind(' ');
      req.method = request_line.substr(0, sp1);
      req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t content_length = 0;
      bool client_close = false;
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        std::string line = head.substr(pos, e - pos);
        pos = e + 2;
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        if (name == "content-length") content_length = std::stoul(value);
        if (name == "connection" && strcasecmp(value.c_str(), "close") == 0) client_close = true;
        req.headers.emplace_back(std::move(name), std::move(value));
      }
      while (buf.size() < content_length) {
        size_t n = stream.Read(chunk, sizeof chunk);
        if (n == 0) {
          ok = false;
          break;
        }
        buf.append(chunk, n);
      }
      if (!ok) break;
      req.body = buf.substr(0, content_length);
      buf.erase(0, content_length);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      FakeHttpResponse resp = handler_(req);
      std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) +
                        "\r\nContent-Length: " + std::to_string(resp.body.size()) + "\r\n";
      for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
      bool close = resp.close || client_close;
      if (close) out += "Connection: close\r\n";
      out += "\r\n";
      out += resp.body;
      if (!stream.WriteAll(out) || close) break;
    }
    if (ssl != nullptr) SSL_shutdown(ssl);
  }
  std::lock_guard<std::mutex> lock(mu_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  ::close(fd);
  ++connections_closed_;
  closed_cv_.notify_all();
}

bool FakeHttpServer::WaitForClosedConnections(int n, std::chrono::milliseconds limit) const {
  std::unique_lock<std::mutex> lock(mu_);
  return closed_cv_.wait_for(lock, limit, [&] { return connections_closed_ >= n; });
}

}  // namespace fruix::testing
