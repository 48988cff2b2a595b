#include "daemon/control_server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace fruix::daemon {

namespace {

using Socket = asio::local::stream_protocol::socket;
using Acceptor = asio::local::stream_protocol::acceptor;
using proto::RpcCode;
using proto::RpcError;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxFdsPerRecv = 16;  // control buffer room; the kernel closes any beyond it
constexpr int kReadsPerWakeup = 16;    // then yield to other connections
constexpr size_t kMaxWriteLines = 64;  // lines gathered into one write
constexpr size_t kMaxWriteBytes = 256 * 1024;
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

std::string ErrnoText(int err) { return std::strerror(err); }

void SetCloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

class Connection;

// What the server shares with its connections. Io thread only, except `open` (any thread) and the
// immutable members.
struct Hub {
  Hub(asio::io_context& io_context, Dispatcher& d, ServerOptions o)
      : io(io_context), dispatcher(d), options(std::move(o)), read_buffer(kReadChunk) {}
  asio::io_context& io;
  Dispatcher& dispatcher;
  const ServerOptions options;
  std::vector<char> read_buffer;  // every connection reads into it, one at a time
  std::map<uint64_t, std::shared_ptr<Connection>> live;
  std::atomic<size_t> open{0};
};

// One accepted control connection: reads lines (with passed descriptors) and dispatches them,
// writes queued lines in order. Reading, writing and the end of the connection happen on the io
// thread; the Outbox members are thread-safe.
class Connection final : public Outbox, public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Hub> hub, uint64_t id, Socket socket, Peer peer)
      : hub_(std::move(hub)), id_(id), socket_(std::move(socket)), peer_(std::move(peer)) {}

  // Io thread: starts reading.
  void Start() {
    spdlog::debug("control: connection #{} from {} (pid {})", id_, PeerName(peer_), peer_.pid);
    WaitReadable();
  }

  // Io thread: ends the connection now (queued output is dropped) and runs the OnClose callbacks.
  void Shutdown(const std::string& why) {
    if (shut_) return;
    auto self = shared_from_this();  // `live` may hold the last reference
    shut_ = true;
    read_closed_ = true;
    closed_.store(true);
    std::error_code ignored;
    socket_->close(ignored);
    socket_.reset();  // pending operations complete with operation_aborted
    queue_.clear();
    carry_fds_.clear();
    lines_ = proto::LineBuffer();
    if (hub_->live.erase(id_) > 0) hub_->open.fetch_sub(1);
    spdlog::debug("control: connection #{} from {} closed: {}", id_, PeerName(peer_), why);
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(close_mu_);
      callbacks.swap(on_close_);
      close_ran_ = true;
    }
    for (auto& callback : callbacks) {
      try {
        callback();
      } catch (const std::exception& e) {
        spdlog::error("control: an OnClose callback of connection #{} threw: {}", id_, e.what());
      }
    }
  }

  // ---- Outbox ----
  bool SendLine(std::string line) override {
    if (closed_.load()) return false;
    const size_t n = line.size();
    const size_t total = queued_bytes_.fetch_add(n) + n;
    if (total > hub_->options.max_outbox_bytes) {
      queued_bytes_.fetch_sub(n);
      if (!closed_.exchange(true)) {
        spdlog::warn(
            "control: connection #{} from {} does not read its messages (over {} bytes queued); "
            "disconnecting it",
            id_, PeerName(peer_), hub_->options.max_outbox_bytes);
        asio::post(hub_->io,
                   [self = shared_from_this()] { self->Shutdown("outbox over max_outbox_bytes"); });
      }
      return false;
    }
    if (OnIoThread()) {
      Enqueue(std::move(line));
    } else {
      asio::post(hub_->io, [self = shared_from_this(), l = std::move(line)]() mutable {
        self->Enqueue(std::move(l));
      });
    }
    return true;
  }

  bool closed() const override { return closed_.load(); }

  void OnClose(std::function<void()> callback) override {
    {
      std::lock_guard lock(close_mu_);
      if (!close_ran_) {
        on_close_.push_back(std::move(callback));
        return;
      }
    }
    asio::post(hub_->io, std::move(callback));
  }

  void Close() override {
    if (closed_.exchange(true)) return;
    asio::post(hub_->io, [self = shared_from_this()] {
      self->closing_ = true;
      self->read_closed_ = true;
      self->MaybeFinish();
    });
  }

  // Any thread: a dispatched call has been answered (or dropped).
  void EndCall() {
    if (closed_.load()) return;
    asio::post(hub_->io, [self = shared_from_this()] {
      if (self->inflight_ > 0) --self->inflight_;
      self->MaybeFinish();
    });
  }

 private:
  // One line out of the framing, with the descriptors that came with it.
  struct Line {
    bool too_long = false;
    std::string text;
    std::vector<UniqueFd> fds;
    bool fds_refused = false;  // too many, or the control message was truncated
  };
  enum class ReadStatus { kData, kAgain, kEof, kError };

  // Lives as long as the dispatcher holds the send function of one call.
  class CallToken {
   public:
    explicit CallToken(std::shared_ptr<Connection> connection)
        : connection_(std::move(connection)) {}
    CallToken(const CallToken&) = delete;
    CallToken& operator=(const CallToken&) = delete;
    ~CallToken() { connection_->EndCall(); }

   private:
    std::shared_ptr<Connection> connection_;
  };

  bool OnIoThread() const { return hub_->io.get_executor().running_in_this_thread(); }

  void WaitReadable() {
    socket_->async_wait(Socket::wait_read,
                        [self = shared_from_this()](std::error_code ec) { self->OnReadable(ec); });
  }

  void OnReadable(std::error_code ec) {
    if (shut_ || read_closed_) return;
    if (ec) return Shutdown("waiting for input: " + ec.message());
    for (int i = 0; i < kReadsPerWakeup; ++i) {
      std::string error;
      switch (ReadOnce(&error)) {
        case ReadStatus::kData:
          if (shut_ || read_closed_) return;
          continue;
        case ReadStatus::kAgain:
          return WaitReadable();
        case ReadStatus::kEof:
          return OnEof();
        case ReadStatus::kError:
          return Shutdown(error);
      }
    }
    asio::post(hub_->io, [self = shared_from_this()] { self->OnReadable({}); });
  }

  ReadStatus ReadOnce(std::string* error) {
    std::vector<char>& buffer = hub_->read_buffer;
    iovec iov{buffer.data(), buffer.size()};
    union {
      cmsghdr align;
      char bytes[CMSG_SPACE(sizeof(int) * kMaxFdsPerRecv)];
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof(control.bytes);
    ssize_t n = 0;
    do {
      n = ::recvmsg(socket_->native_handle(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadStatus::kAgain;
      *error = "recvmsg: " + ErrnoText(errno);
      return ReadStatus::kError;
    }
    std::vector<UniqueFd> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const unsigned char* data = CMSG_DATA(c);
      for (size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, data + i * sizeof(int), sizeof(int));
        fds.emplace_back(fd);
      }
    }
    const bool truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
    if (n == 0) return ReadStatus::kEof;  // (a stream socket cannot pass descriptors without data)
    Feed(std::string_view(buffer.data(), static_cast<size_t>(n)), std::move(fds), truncated);
    return ReadStatus::kData;
  }

  // Frames `bytes` into lines and gives each its descriptors: those received with this chunk
  // belong to the line holding the chunk's last byte, those carried from earlier chunks to the
  // line that was in progress. Descriptors of a line discarded as too long are closed.
  void Feed(std::string_view bytes, std::vector<UniqueFd> fds, bool fds_truncated) {
    const bool has_newline = bytes.find('\n') != std::string_view::npos;
    const bool ends_line = bytes.back() == '\n';
    lines_.Append(bytes);
    std::vector<Line> out;
    for (;;) {
      std::string text;
      const auto status = lines_.Next(&text);
      if (status == proto::LineBuffer::Status::kNeedMore) break;
      Line line;
      line.too_long = status == proto::LineBuffer::Status::kTooLong;
      line.text = std::move(text);
      out.push_back(std::move(line));
    }
    // Carried descriptors belong to the line in progress, which is the first one out now.
    if (!out.empty()) {
      Attach(&out.front(), std::move(carry_fds_), carry_refused_);
      carry_fds_.clear();
      carry_refused_ = false;
    }
    // Is the line in progress at the end of this chunk being discarded (over the limit)?
    if (!out.empty()) {
      discarding_ = out.back().too_long && !ends_line && lines_.buffered() == 0;
    } else if (has_newline) {
      discarding_ = false;  // the newline ended a discarded line
    }
    if (!fds.empty() || fds_truncated) {
      if (ends_line) {
        if (!out.empty()) Attach(&out.back(), std::move(fds), fds_truncated);
        // else: the newline ended a discarded line; its descriptors close here.
      } else if (!discarding_) {
        for (auto& fd : fds) carry_fds_.push_back(std::move(fd));
        carry_refused_ = carry_refused_ || fds_truncated;
      }
    }
    for (auto& line : out) {
      if (shut_) return;
      Handle(std::move(line));
    }
  }

  static void Attach(Line* line, std::vector<UniqueFd> fds, bool refused) {
    for (auto& fd : fds) line->fds.push_back(std::move(fd));
    line->fds_refused = line->fds_refused || refused || line->fds.size() > kMaxFdsPerRequest;
  }

  void Handle(Line line) {
    if (line.too_long) {
      SendLine(proto::EncodeError(
          nullptr, RpcError::Of(RpcCode::kInvalidRequest,
                                "message exceeds 1 MiB (the limit for one line); it was "
                                "discarded up to its newline")));
      return;
    }
    if (IsBlank(line.text)) return;
    if (line.fds_refused) {
      RefuseDescriptors(line);
      return;
    }
    auto self = shared_from_this();
    CallContext context{peer_, std::move(line.fds), self};
    ++inflight_;
    auto token = std::make_shared<CallToken>(self);
    try {
      hub_->dispatcher.Dispatch(line.text, std::move(context), [self, token](std::string reply) {
        self->SendLine(std::move(reply));
      });
    } catch (const std::exception& e) {
      spdlog::error("control: dispatching a request of connection #{} failed: {}", id_, e.what());
    }
  }

  void RefuseDescriptors(const Line& line) {
    auto decoded = proto::DecodeRequest(line.text);
    nlohmann::json id = nullptr;
    if (auto* request = std::get_if<proto::Request>(&decoded)) {
      if (request->notification) return;  // no answer to a notification
      id = request->id;
    } else {
      id = std::get<proto::BadRequest>(decoded).id;
    }
    spdlog::warn("control: connection #{} from {} passed too many descriptors with one request",
                 id_, PeerName(peer_));
    SendLine(proto::EncodeError(
        id, RpcError::Of(RpcCode::kInvalidRequest,
                         "too many file descriptors passed with one request (at most " +
                             std::to_string(kMaxFdsPerRequest) + ")")));
  }

  void OnEof() {
    read_closed_ = true;
    // An unterminated last line still counts (printf '...' | socat ...).
    if (lines_.buffered() > 0) Feed("\n", {}, false);
    carry_fds_.clear();
    MaybeFinish();
  }

  void Enqueue(std::string line) {
    if (shut_) return;
    queue_.push_back(std::move(line));
    WriteMore();
  }

  void WriteMore() {
    if (writing_ || shut_ || queue_.empty()) return;
    writing_lines_.clear();
    write_buffers_.clear();
    size_t bytes = 0;
    while (!queue_.empty() && writing_lines_.size() < kMaxWriteLines && bytes < kMaxWriteBytes) {
      bytes += queue_.front().size();
      writing_lines_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    for (const auto& l : writing_lines_) write_buffers_.emplace_back(asio::buffer(l));
    writing_ = true;
    asio::async_write(*socket_, write_buffers_,
                      [self = shared_from_this(), bytes](std::error_code ec, size_t) {
                        self->OnWritten(ec, bytes);
                      });
  }

  void OnWritten(std::error_code ec, size_t bytes) {
    writing_ = false;
    queued_bytes_.fetch_sub(bytes);
    if (shut_) return;
    if (ec) return Shutdown("writing: " + ec.message());
    writing_lines_.clear();
    write_buffers_.clear();
    if (!queue_.empty()) return WriteMore();
    MaybeFinish();
  }

  // Ends the connection once nothing more can be sent: after Close() when the queue is written,
  // after the peer's end of input when, in addition, every request has been answered.
  void MaybeFinish() {
    if (shut_ || writing_ || !queue_.empty()) return;
    if (closing_) return Shutdown("closed by fruixd");
    if (read_closed_ && inflight_ == 0) Shutdown("the peer ended its input");
  }

  std::shared_ptr<Hub> hub_;
  const uint64_t id_;
  std::optional<Socket> socket_;
  const Peer peer_;

  // Io thread only.
  proto::LineBuffer lines_;
  std::vector<UniqueFd> carry_fds_;  // received with the line still in progress
  bool carry_refused_ = false;
  bool discarding_ = false;  // the line in progress is over the limit
  std::deque<std::string> queue_;
  std::vector<std::string> writing_lines_;
  std::vector<asio::const_buffer> write_buffers_;
  bool writing_ = false;
  bool read_closed_ = false;  // end of input, or Close()
  bool closing_ = false;      // Close(): end once the queue is written
  bool shut_ = false;
  size_t inflight_ = 0;  // dispatched calls not yet answered

  // Any thread.
  std::atomic<bool> closed_{false};
  std::atomic<size_t> queued_bytes_{0};  // accepted by SendLine, not yet written
  std::mutex close_mu_;
  std::vector<std::function<void()>> on_close_;
  bool close_ran_ = false;
};

// How Start finds out whether a socket file is in use.
enum class Probe { kLive, kStale };

Result<Probe> ProbeSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::Io("socket(AF_UNIX): " + ErrnoText(errno));
  UniqueFd owner(fd);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    return Probe::kLive;
  }
  switch (errno) {
    case EAGAIN:  // the listener's backlog is full: it is alive
    case EINPROGRESS:
      return Probe::kLive;
    case ECONNREFUSED:
    case ENOENT:
      return Probe::kStale;
    default:
      return Error::FailedPrecondition("cannot tell whether " + path +
                                       " is in use: connect: " + ErrnoText(errno));
  }
}

// Creates the missing directories of `dir` with mode 0755.
Result<void> MakeDirectories(const std::filesystem::path& dir) {
  std::filesystem::path prefix;
  for (const auto& part : dir) {
    prefix /= part;
    struct stat st {};
    if (::stat(prefix.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        return Error::FailedPrecondition(prefix.string() + " is not a directory");
      }
      continue;
    }
    if (errno != ENOENT) return Error::Io("stat " + prefix.string() + ": " + ErrnoText(errno));
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return Error::Io("creating directory " + prefix.string() + ": " + ErrnoText(errno));
    }
    if (::chmod(prefix.c_str(), 0755) != 0) {
      return Error::Io("chmod 0755 " + prefix.string() + ": " + ErrnoText(errno));
    }
  }
  return Ok();
}

}  // namespace

class ControlServer::Impl : public std::enable_shared_from_this<ControlServer::Impl> {
 public:
  Impl(asio::io_context& io, Dispatcher& dispatcher, ServerOptions options)
      : hub_(std::make_shared<Hub>(io, dispatcher, std::move(options))), retry_timer_(io) {}

  Result<void> Start() {
    if (started_ || stopped_) {
      return Error::FailedPrecondition("the control server was already started");
    }
    FRUIX_RETURN_IF_ERROR(hub_->dispatcher.CheckComplete());
    const ServerOptions& o = hub_->options;
    const std::string path = o.socket.string();
    if (path.empty()) return Error::InvalidArgument("daemon.socket: no socket path configured");
    if (path.size() >= sizeof(sockaddr_un::sun_path)) {
      return Error::InvalidArgument("daemon.socket: " + path + " is too long for a Unix socket (" +
                                    std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                    " bytes at most)");
    }
    std::optional<gid_t> gid;
    if (!o.group.empty()) {
      auto g = GroupId(o.group);
      if (!g.ok()) return g.error().WithContext("daemon.socket_group");
      gid = *g;
    }
    const std::filesystem::path parent = o.socket.parent_path();
    if (!parent.empty()) FRUIX_RETURN_IF_ERROR(MakeDirectories(parent));

    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return Error::FailedPrecondition(path +
                                         " exists and is not a socket; remove it or set "
                                         "daemon.socket to another path");
      }
      FRUIX_ASSIGN_OR_RETURN(Probe probe, ProbeSocket(path));
      if (probe == Probe::kLive) {
        return Error::FailedPrecondition("another process (a running fruixd?) listens on " + path);
      }
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Error::Io("removing the stale socket " + path + ": " + ErrnoText(errno));
      }
      spdlog::info("control: replaced the stale socket {}", path);
    } else if (errno != ENOENT) {
      return Error::Io("stat " + path + ": " + ErrnoText(errno));
    }

    Acceptor acceptor(hub_->io);
    std::error_code ec;
    acceptor.open(asio::local::stream_protocol(), ec);
    if (ec) {
      return Error::Io("creating the control socket: " + ec.message());
    }
    SetCloexec(acceptor.native_handle());
    acceptor.bind(asio::local::stream_protocol::endpoint(path), ec);
    if (ec) {
      if (ec == std::errc::address_in_use) {
        return Error::FailedPrecondition("another process (a running fruixd?) listens on " + path);
      }
      return Error::Io("bind " + path + ": " + ec.message());
    }
    // Nobody can connect before listen(), so the file's mode and group are set in time.
    auto fail = [&](const std::string& what) -> Error {
      const int err = errno;
      ::unlink(path.c_str());
      return Error::Io(what + " " + path + ": " + ErrnoText(err));
    };
    if (::chmod(path.c_str(), o.mode) != 0) return fail("chmod");
    if (gid && ::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
      return fail("chown (group " + o.group + ")");
    }
    if (::lstat(path.c_str(), &st) != 0) return fail("stat");
    file_id_ = std::make_pair(st.st_dev, st.st_ino);
    acceptor.listen(o.backlog, ec);
    if (ec) {
      ::unlink(path.c_str());
      file_id_.reset();
      return Error::Io("listen " + path + ": " + ec.message());
    }
    acceptor_.emplace(std::move(acceptor));
    started_ = true;
    spdlog::info("control: listening on {} (mode {:04o}{}{})", path, o.mode,
                 o.group.empty() ? "" : ", group ", o.group);
    Accept();
    return Ok();
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    std::error_code ignored;
    if (acceptor_) {
      acceptor_->close(ignored);
      acceptor_.reset();
    }
    retry_timer_.cancel();
    if (file_id_) {
      const std::string path = hub_->options.socket.string();
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && st.st_dev == file_id_->first &&
          st.st_ino == file_id_->second) {
        ::unlink(path.c_str());
      }
      file_id_.reset();
    }
  }

  void CloseAll() {
    std::vector<std::shared_ptr<Connection>> all;
    for (auto& [id, connection] : hub_->live) all.push_back(connection);
    for (auto& connection : all) connection->Shutdown("fruixd is closing all connections");
  }

  size_t connections() const { return hub_->open.load(); }
  const std::filesystem::path& socket_path() const { return hub_->options.socket; }

 private:
  void Accept() {
    if (stopped_ || !acceptor_) return;
    acceptor_->async_accept([self = shared_from_this()](std::error_code ec, Socket socket) {
      if (self->stopped_) return;
      if (ec) {
        spdlog::warn("control: accept failed: {}", ec.message());
        self->retry_timer_.expires_after(kAcceptRetryDelay);
        self->retry_timer_.async_wait([self](std::error_code e) {
          if (!e) self->Accept();
        });
        return;
      }
      self->OnAccepted(std::move(socket));
      self->Accept();
    });
  }

  void OnAccepted(Socket socket) {
    SetCloexec(socket.native_handle());
    const ServerOptions& o = hub_->options;
    if (hub_->live.size() >= o.max_connections) return Refuse(std::move(socket));
    auto peer = PeerOf(socket.native_handle());
    if (!peer.ok()) {
      spdlog::warn("control: dropping a connection without peer credentials: {}",
                   peer.error().ToString());
      return;
    }
    std::error_code ec;
    socket.non_blocking(true, ec);
    if (ec) {
      spdlog::warn("control: dropping a connection: {}", ec.message());
      return;
    }
    const uint64_t id = next_id_++;
    auto connection = std::make_shared<Connection>(hub_, id, std::move(socket), std::move(*peer));
    hub_->live.emplace(id, connection);
    hub_->open.fetch_add(1);
    connection->Start();
  }

  // Answers a connection over max_connections with one error line, then closes it.
  void Refuse(Socket socket) {
    const size_t max = hub_->options.max_connections;
    spdlog::warn("control: refusing a connection: {} are open (daemon.max_connections)", max);
    auto s = std::make_shared<Socket>(std::move(socket));
    auto line = std::make_shared<std::string>(proto::EncodeError(
        nullptr, RpcError::Of(RpcCode::kUnavailable,
                              "fruixd already serves " + std::to_string(max) +
                                  " control connections (its limit); try again later",
                              nlohmann::json{{"max_connections", max}})));
    asio::async_write(*s, asio::buffer(*line), [s, line](std::error_code, size_t) {
      std::error_code ignored;
      s->shutdown(Socket::shutdown_send, ignored);
      s->close(ignored);
    });
  }

  std::shared_ptr<Hub> hub_;
  std::optional<Acceptor> acceptor_;
  asio::steady_timer retry_timer_;
  bool started_ = false;
  bool stopped_ = false;
  std::optional<std::pair<dev_t, ino_t>> file_id_;  // the socket file this server created
  uint64_t next_id_ = 1;
};

ControlServer::ControlServer(asio::io_context& io, Dispatcher& dispatcher, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, dispatcher, std::move(options))) {}

ControlServer::~ControlServer() {
  impl_->Stop();
  impl_->CloseAll();
}

Result<void> ControlServer::Start() { return impl_->Start(); }
void ControlServer::Stop() { impl_->Stop(); }
void ControlServer::CloseAll() { impl_->CloseAll(); }
size_t ControlServer::connections() const { return impl_->connections(); }
const std::filesystem::path& ControlServer::socket_path() const { return impl_->socket_path(); }

}  // namespace fruix::daemon
