#include "tests/support/sim_raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace fruix::testing {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<RawResponse> ParseHead(std::string head) {
  RawResponse r;
  r.head = head;
  size_t eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  size_t sp = line.find(' ');
  if (line.rfind("HTTP/", 0) != 0 || sp == std::string::npos) {
    return Error::Protocol("bad status line: " + line);
  }
  r.status = std::atoi(line.c_str() + sp + 1);
  size_t pos = eol + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos || e == pos) break;
    std::string h = head.substr(pos, e - pos);
    size_t colon = h.find(':');
    if (colon != std::string::npos) {
      std::string v = h.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers.emplace_back(h.substr(0, colon), v);
    }
    pos = e + 2;
  }
  return r;
}

}  // namespace

std::string RawResponse::Header(std::string_view name) const {
  std::string want = Lower(name);
  for (const auto& [k, v] : headers) {
    if (Lower(k) == want) return v;
  }
  return "";
}

Result<RawConnection> RawConnection::Connect(const std::string& address, uint16_t port,
                                             std::chrono::milliseconds timeout) {
  in_addr a{};
  if (inet_pton(AF_INET, address.c_str(), &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) {
    return Error::InvalidArgument("test client only talks to 127.0.0.0/8, not " + address);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::Io(std::string("socket: ") + std::strerror(errno));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr = a;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int err = errno;
    ::close(fd);
    return Error::Unavailable("connect " + address + ":" + std::to_string(port) + ": " +
                              std::strerror(err));
  }
  return RawConnection(fd);
}

RawConnection::RawConnection(RawConnection&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::Transport(std::string("send: ") + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

Result<RawResponse> RawConnection::ReadHead() {
  std::string head;
  while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::Timeout(std::string("reading head: ") + std::strerror(errno));
    if (n == 0) return Error::Protocol("connection closed inside a response head: " + head);
    head += c;
    if (head.size() > 65536) return Error::Protocol("response head too large");
  }
  return ParseHead(std::move(head));
}

Result<std::string> RawConnection::ReadExactly(size_t n) {
  std::string out;
  out.resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t k = ::recv(fd_, out.data() + got, n - got, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return Error::Timeout(std::string("reading body: ") + std::strerror(errno));
    if (k == 0)
      return Error::Protocol("connection closed after " + std::to_string(got) + " of " +
                             std::to_string(n) + " bytes");
    got += static_cast<size_t>(k);
  }
  return out;
}

Result<std::string> RawConnection::ReadToEnd() {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t k = ::recv(fd_, buf, sizeof buf, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      if (errno == ECONNRESET) return out;
      return Error::Timeout(std::string("reading to end: ") + std::strerror(errno));
    }
    if (k == 0) return out;
    out.append(buf, static_cast<size_t>(k));
  }
}

Result<std::string> RawConnection::ReadAvailable(std::chrono::milliseconds wait) {
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(wait.count()));
  if (r <= 0) return std::string();
  char buf[16384];
  ssize_t k = ::recv(fd_, buf, sizeof buf, 0);
  if (k <= 0) return Error::Unavailable("peer closed");
  return std::string(buf, static_cast<size_t>(k));
}

Result<RawResponse> RawConnection::ReadResponse() {
  FRUIX_ASSIGN_OR_RETURN(RawResponse r, ReadHead());
  std::string len = r.Header("content-length");
  if (!len.empty()) {
    FRUIX_ASSIGN_OR_RETURN(r.body, ReadExactly(static_cast<size_t>(std::stoull(len))));
  } else if (r.status != 200 || r.Header("connection") == "close") {
    FRUIX_ASSIGN_OR_RETURN(r.body, ReadToEnd());
  }
  return r;
}

void RawConnection::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

Result<RawResponse> RawExchange(const std::string& address, uint16_t port,
                                std::string_view request) {
  FRUIX_ASSIGN_OR_RETURN(RawConnection c, RawConnection::Connect(address, port));
  FRUIX_RETURN_IF_ERROR(c.Send(request));
  return c.ReadResponse();
}

std::string PostRequest(std::string_view path, std::string_view content_type, std::string_view body,
                        std::string_view extra_headers) {
  std::string r = "POST " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  r += "Content-Type: " + std::string(content_type) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "\r\n";
  r += body;
  return r;
}

}  // namespace fruix::testing
