#include "lib/http/plain_http_put.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "lib/http/url.h"

namespace fruix::http {
namespace {

constexpr size_t kMaxResponse = 1024 * 1024;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Blocks SIGPIPE on this thread for its lifetime; consumes a SIGPIPE raised meanwhile.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (sigismember(&old_, SIGPIPE) == 0) {
      timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
};

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Result<int> Connect(const Url& url, const std::string& where, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = url.port().empty() ? "80" : url.port();
  int rc = ::getaddrinfo(url.host().c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return Error::Unavailable(where + ": cannot resolve: " + gai_strerror(rc));
  std::string last = "no address";
  bool timed_out = false;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int err = 0;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        err = errno;
      } else {
        pollfd p{fd, POLLOUT, 0};
        int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (n == 0) {
          err = ETIMEDOUT;
          timed_out = true;
        } else if (n < 0) {
          err = errno;
        } else {
          socklen_t len = sizeof(err);
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
    }
    if (err == 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // blocking for the transfer
      ::freeaddrinfo(res);
      return fd;
    }
    last = std::strerror(err);
    ::close(fd);
  }
  if (timed_out) {
    ::freeaddrinfo(res);
    return Error::Timeout(where + ": connect timed out");
  }
  ::freeaddrinfo(res);
  return Error::Unavailable(where + ": connect failed: " + last);
}

Result<void> WriteAll(int fd, std::string_view data, const std::string& where) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::Unavailable(where + ": send failed: " + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Result<HttpResponse> PlainHttpPut(const PlainPutRequest& request) {
  const std::string where = "PUT " + RedactUrl(request.url);
  FRUIX_ASSIGN_OR_RETURN(Url url, Url::Parse(request.url));
  if (url.scheme() != "http") return Error::InvalidArgument(where + ": not an http:// URL");
  FRUIX_ASSIGN_OR_RETURN(int raw_fd, Connect(url, where, request.connect_timeout));
  Fd fd(raw_fd);
  timeval tv = ToTimeval(request.io_timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  std::string host =
      url.host().find(':') != std::string::npos ? "[" + url.host() + "]" : url.host();
  if (!url.port().empty()) host += ":" + url.port();
  std::string head = "PUT " + (url.path().empty() ? std::string("/") : url.path()) +
                     " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: fruixd\r\n" +
                     "Content-Length: " + std::to_string(request.body_length) +
                     "\r\nConnection: close\r\n";
  for (const auto& [k, v] : request.headers) head += k + ": " + v + "\r\n";
  head += "\r\n";
  {
    SigpipeBlock block;
    FRUIX_RETURN_IF_ERROR(WriteAll(fd.get(), head, where));
    if (auto body = request.write_body(fd.get()); !body.ok()) {
      if (body.error().code() == ErrorCode::kIo) {
        // A socket write failure (peer closed or reset): transient.
        return Error::Unavailable(where + ": " + body.error().message());
      }
      return body.error();
    }
  }

  // Read the response.
  std::string buf;
  size_t header_end = std::string::npos;
  std::optional<size_t> content_length;
  HttpResponse response;
  char chunk[16384];
  while (true) {
    if (header_end != std::string::npos && content_length.has_value() &&
        buf.size() >= header_end + content_length.value_or(0)) {
      break;
    }
    ssize_t n = ::recv(fd.get(), chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Error::Timeout(where + ": no response");
      return Error::Unavailable(where + ": receive failed: " + std::strerror(errno));
    }
    if (n == 0) {
      if (header_end == std::string::npos) {
        return Error::Unavailable(where + ": connection closed before a response");
      }
      break;
    }
    buf.append(chunk, static_cast<size_t>(n));
    if (buf.size() > kMaxResponse) return Error::Protocol(where + ": response too large");
    if (header_end == std::string::npos) {
      size_t pos = buf.find("\r\n\r\n");
      if (pos == std::string::npos) continue;
      header_end = pos + 4;
      std::string_view lines(buf.data(), pos);
      size_t eol = lines.find("\r\n");
      std::string_view status_line = lines.substr(0, eol);
      if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
        return Error::Protocol(where + ": malformed status line");
      }
      response.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
      while (eol != std::string_view::npos) {
        lines.remove_prefix(eol + 2);
        eol = lines.find("\r\n");
        std::string_view line = lines.substr(0, eol);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string name = Lower(std::string(line.substr(0, colon)));
        std::string value(Trim(line.substr(colon + 1)));
        if (name == "content-length") content_length = std::strtoull(value.c_str(), nullptr, 10);
        response.headers.emplace_back(std::move(name), std::move(value));
      }
      if (response.status >= 100 && response.status < 200) {  // skip interim responses
        buf.erase(0, header_end);
        header_end = std::string::npos;
        content_length.reset();
        response.headers.clear();
      }
    }
  }
  response.body = buf.substr(header_end, content_length.value_or(buf.size() - header_end));
  return response;
}

}  // namespace fruix::http
