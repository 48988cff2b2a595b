#include "tests/support/fake_fruixd.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "proto/methods.h"

namespace fruix::testing {

struct FakeFruixd::Connection {
  int fd = -1;
  int number = 0;
  proto::LineBuffer in;
  std::vector<int> pending_fds;  // received, not yet attached to a complete line
  bool closing = false;
};

FakeFruixd::FakeFruixd() {
  char tmpl[] = "/tmp/fruix-fakefruixd-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  socket_path_ = dir_ + "/fruixd.sock";
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("FakeFruixd: cannot listen on " + socket_path_ + ": " +
                             std::strerror(errno));
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { Run(); });
}

FakeFruixd::~FakeFruixd() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  Wake();
  thread_.join();
  for (auto& c : connections_) ::close(c->fd);
  for (int fd : received_fds_) ::close(fd);
  ::close(listen_fd_);
  ::close(wake_fd_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void FakeFruixd::On(const std::string& method, FakeScript script) {
  std::lock_guard lock(mu_);
  scripts_[method] = std::move(script);
}

void FakeFruixd::OnResult(const std::string& method, nlohmann::json result) {
  On(method, [result](const FakeRequest&) { return FakeReply::Result(result); });
}

void FakeFruixd::Push(std::string line) {
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  {
    std::lock_guard lock(mu_);
    pushes_.push_back(std::move(line));
  }
  Wake();
}

void FakeFruixd::CloseConnections() {
  {
    std::lock_guard lock(mu_);
    close_all_ = true;
  }
  Wake();
}

std::vector<FakeRequest> FakeFruixd::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

bool FakeFruixd::WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

std::string FakeFruixd::Event(const proto::JobEvent& event) {
  return proto::EncodeNotification(proto::kJobEventNotification, proto::ToJson(event));
}

std::string FakeFruixd::ReadAll(int fd) {
  std::string s;
  char buf[65536];
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
    offset += n;
  }
  return s;
}

void FakeFruixd::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void FakeFruixd::Run() {
  for (;;) {
    std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (auto& c : connections_) fds.push_back({c->fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t count;
      [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &count, sizeof count);
      std::vector<std::string> pushes;
      bool close_all;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        pushes.swap(pushes_);
        close_all = std::exchange(close_all_, false);
      }
      for (auto& c : connections_) {
        for (const auto& line : pushes) SendLine(*c, line);
        if (close_all) c->closing = true;
      }
    }
    if (fds[1].revents & POLLIN) Accept();
    // Connections accepted above are not in `fds`; only the first ones were polled.
    for (size_t i = 2; i < fds.size(); ++i) {
      Connection& c = *connections_[i - 2];
      if (!c.closing && fds[i].revents != 0 && !Receive(c)) c.closing = true;
    }
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->closing) {
        ::close((*it)->fd);
        for (int fd : (*it)->pending_fds) ::close(fd);
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

void FakeFruixd::Accept() {
  const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  auto c = std::make_unique<Connection>();
  c->fd = fd;
  c->number = next_connection_++;
  connections_.push_back(std::move(c));
}

bool FakeFruixd::Receive(Connection& c) {
  char buf[65536];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(c.fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h != nullptr; h = CMSG_NXTHDR(&msg, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
      c.pending_fds.push_back(fd);
    }
  }
  if (n == 0) return false;
  c.in.Append(std::string_view(buf, static_cast<size_t>(n)));
  std::string line;
  for (;;) {
    const auto status = c.in.Next(&line);
    if (status == proto::LineBuffer::Status::kNeedMore) break;
    if (status == proto::LineBuffer::Status::kTooLong) {
      SendLine(c, proto::EncodeError(nullptr, proto::RpcError::Of(proto::RpcCode::kInvalidRequest,
                                                                  "line too long")));
      continue;
    }
    Handle(c, line, std::exchange(c.pending_fds, {}));
    if (c.closing) return false;
  }
  return true;
}

void FakeFruixd::Handle(Connection& c, const std::string& line, std::vector<int> fds) {
  auto decoded = proto::DecodeRequest(line);
  if (auto* bad = std::get_if<proto::BadRequest>(&decoded)) {
    for (int fd : fds) ::close(fd);
    SendLine(c, proto::EncodeError(bad->id, bad->error));
    return;
  }
  auto& request = std::get<proto::Request>(decoded);
  FakeRequest r;
  r.line = line;
  r.id = request.id;
  r.method = request.method;
  r.params = request.params;
  r.fds = fds;
  r.connection = c.number;
  FakeScript script;
  {
    std::lock_guard lock(mu_);
    r.call_index = calls_[r.method]++;
    received_fds_.insert(received_fds_.end(), fds.begin(), fds.end());
    auto it = scripts_.find(r.method);
    if (it != scripts_.end()) script = it->second;
  }
  FakeReply reply;
  if (script) {
    reply = script(r);
  } else {
    reply = FakeReply::Error(proto::RpcError::Of(proto::RpcCode::kMethodNotFound,
                                                 "FakeFruixd has no script for " + r.method));
  }
  {
    // Recorded after the script ran, so a test that waits for the request also sees its effects.
    std::lock_guard lock(mu_);
    requests_.push_back(r);
  }
  cv_.notify_all();
  for (const auto& l : reply.before) SendLine(c, l);
  if (!request.notification) {
    if (reply.error) {
      SendLine(c, proto::EncodeError(request.id, *reply.error));
    } else if (reply.result) {
      SendLine(c, proto::EncodeResult(request.id, *reply.result));
    }
  }
  for (const auto& l : reply.after) SendLine(c, l);
  if (reply.close) c.closing = true;
}

void FakeFruixd::SendLine(Connection& c, std::string line) {
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(c.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away
    sent += static_cast<size_t>(n);
  }
}

}  // namespace fruix::testing
