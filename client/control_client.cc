#include "client/control_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace fruix::client {

namespace {

constexpr size_t kMaxKept = 10000;  // notifications kept while a call waits

std::string Seconds(Clock::Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + "s";
}

}  // namespace

std::string ResolveSocketPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv(std::string(kSocketEnv).c_str());
  if (env != nullptr && *env != '\0') return env;
  return std::string(kDefaultSocketPath);
}

ControlClient::ControlClient(std::string socket_path, const Clock& clock,
                             Clock::Duration call_timeout)
    : path_(std::move(socket_path)), clock_(clock), call_timeout_(call_timeout) {}

ControlClient::~ControlClient() {
  if (fd_ >= 0) ::close(fd_);
}

Error ControlClient::Fail(Failure kind, Error e) {
  failure_ = kind;
  if (kind != Failure::kRpc) rpc_error_.reset();
  return e;
}

Error ControlClient::ProtocolError(std::string message) {
  return Fail(Failure::kProtocol, Error::Protocol(std::move(message)));
}

Error ControlClient::Lost(std::string_view what, int err) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  std::string m = "lost the connection to fruixd at " + path_ + " during " + std::string(what);
  m += err == 0 ? ": fruixd closed it" : ": " + std::string(std::strerror(err));
  return Fail(Failure::kConnectionLost, Error::Unavailable(m));
}

Result<void> ControlClient::Connect() {
  if (fd_ >= 0) return {};
  auto unreachable = [&](const std::string& why, int err = 0) {
    std::string m = "cannot reach fruixd at " + path_ + ": " + why;
    m += err == EACCES ? "; are you in the group that owns the socket?"
                       : "; is the service running?";
    return Fail(Failure::kUnreachable, Error::Unavailable(m));
  };
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof addr.sun_path) {
    return unreachable("the socket path must be 1 to " + std::to_string(sizeof addr.sun_path - 1) +
                       " bytes long");
  }
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unreachable(std::strerror(errno), errno);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    ::close(fd);
    return unreachable(std::strerror(err), err);
  }
  // Non-blocking from here on: every wait is a poll with a deadline.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  fd_ = fd;
  return {};
}

Result<void> ControlClient::Await(short events, std::optional<Deadline> deadline,
                                  std::string_view what) {
  for (;;) {
    // The earlier of the call's deadline and the wait limit decides.
    const Deadline* d = deadline ? &*deadline : nullptr;
    bool by_limit = false;
    if (limit_ && (d == nullptr || limit_->at() <= d->at())) {
      d = &*limit_;
      by_limit = true;
    }
    int timeout_ms = -1;
    if (d != nullptr) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(d->remaining()).count();
      timeout_ms = static_cast<int>(std::min<int64_t>(left, INT_MAX));
    }
    pollfd p{fd_, events, 0};
    const int n = timeout_ms == 0 ? 0 : ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Lost(what, errno);
    if (n > 0) return {};
    if (d != nullptr && !d->expired()) continue;
    if (by_limit) {
      return Fail(Failure::kLimit,
                  Error::Timeout("the wait limit passed during " + std::string(what)));
    }
    return Fail(
        Failure::kNoAnswer,
        Error::Unavailable("fruixd at " + path_ + " did not answer " + std::string(what) +
                           " within " + Seconds(call_timeout_) + "; is the service healthy?"));
  }
}

ssize_t SendWithDescriptor(int sock, std::string_view bytes, int fd) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL);
}

Result<void> ControlClient::Send(const std::string& line, int pass_fd, std::string_view method) {
  const Deadline deadline(clock_, call_timeout_);
  size_t sent = 0;
  bool fd_pending = pass_fd >= 0;
  while (sent < line.size()) {
    ssize_t n;
    if (fd_pending) {
      n = SendWithDescriptor(fd_, line, pass_fd);
    } else {
      n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    }
    if (n > 0) {
      sent += static_cast<size_t>(n);
      fd_pending = false;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      FRUIX_RETURN_IF_ERROR(Await(POLLOUT, deadline, method));
      continue;
    }
    if (n < 0 && (errno == EBADF || errno == EINVAL) && fd_pending) {
      return Fail(Failure::kLocal,
                  Error::InvalidArgument("cannot pass file descriptor " + std::to_string(pass_fd) +
                                         ": " + std::strerror(errno)));
    }
    return Lost(method, n < 0 ? errno : 0);
  }
  return {};
}

Result<ControlClient::Incoming> ControlClient::Read(std::optional<Deadline> deadline,
                                                    std::string_view what) {
  for (;;) {
    std::string line;
    switch (in_.Next(&line)) {
      case proto::LineBuffer::Status::kLine: {
        if (line.empty()) continue;
        auto msg = proto::DecodeIncoming(line);
        if (!msg.ok()) {
          return ProtocolError("fruixd sent a message that is not the protocol: " +
                               msg.error().message());
        }
        return std::move(*msg);
      }
      case proto::LineBuffer::Status::kTooLong:
        return ProtocolError("fruixd sent a message over " +
                             std::to_string(proto::kMaxMessageBytes) + " bytes");
      case proto::LineBuffer::Status::kNeedMore:
        break;
    }
    if (fd_ < 0) return Lost(what, 0);
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.Append(std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) return Lost(what, 0);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      FRUIX_RETURN_IF_ERROR(Await(POLLIN, deadline, what));
      continue;
    }
    return Lost(what, errno);
  }
}

Result<nlohmann::json> ControlClient::CallRaw(std::string_view method, const nlohmann::json& params,
                                              int pass_fd) {
  FRUIX_RETURN_IF_ERROR(Connect());
  const int64_t id = next_id_++;
  const std::string line = proto::EncodeRequest(id, method, params);
  if (line.size() > proto::kMaxMessageBytes) {
    return Fail(Failure::kLocal,
                Error::InvalidArgument("the " + std::string(method) + " request is over " +
                                       std::to_string(proto::kMaxMessageBytes) + " bytes"));
  }
  FRUIX_RETURN_IF_ERROR(Send(line, pass_fd, method));
  const Deadline deadline(clock_, call_timeout_);
  for (;;) {
    FRUIX_ASSIGN_OR_RETURN(Incoming msg, Read(deadline, method));
    if (auto* n = std::get_if<proto::Notification>(&msg)) {
      if (kept_.size() >= kMaxKept) kept_.pop_front();
      kept_.push_back(std::move(*n));
      continue;
    }
    auto& response = std::get<proto::Response>(msg);
    if (response.id != nlohmann::json(id)) continue;  // not ours (an answer we gave up on)
    if (response.error) {
      failure_ = Failure::kRpc;
      rpc_error_ = *response.error;
      return proto::FromRpcError(*response.error);
    }
    return std::move(*response.result);
  }
}

Result<void> ControlClient::Listen(const NotificationHandler& handler) {
  while (!kept_.empty()) {
    proto::Notification n = std::move(kept_.front());
    kept_.pop_front();
    if (!handler(n)) return {};
  }
  FRUIX_RETURN_IF_ERROR(Connect());
  for (;;) {
    FRUIX_ASSIGN_OR_RETURN(Incoming msg, Read(std::nullopt, "the wait for job events"));
    if (auto* n = std::get_if<proto::Notification>(&msg)) {
      if (!handler(*n)) return {};
    }
  }
}

}  // namespace fruix::client
