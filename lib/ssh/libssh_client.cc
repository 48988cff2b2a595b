// The libssh implementation of SshClient (the only file that includes <libssh/libssh.h>).
//
// Every libssh session runs in non-blocking mode: each libssh call does what it can without
// waiting and returns SSH_AGAIN otherwise; this file then waits on the socket with poll() in
// slices of at most kSlice, checking the deadline and the stop_token between slices. That is how
// cancellation is observed quickly although libssh itself has no cancellation.
//
// The TCP connection is made here (not by libssh) so that "refused" and "timed out" come back as
// errno values rather than libssh's message text; libssh gets the connected socket through
// SSH_OPTIONS_FD. From the first ssh_connect() on, the socket belongs to the Connection, which
// closes it unless libssh already did (see ~Connection).
#include <fcntl.h>
#include <libssh/libssh.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "lib/ssh/ssh_client.h"

namespace fruix::ssh {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Longest single wait on the socket; bounds how late cancel, Close() and deadlines are noticed.
constexpr milliseconds kSlice{50};
// After a command's EOF, how long to wait for its exit status message.
constexpr milliseconds kExitStatusWait{2000};
// Longest wait for queued packets (channel close, signal) to leave.
constexpr milliseconds kFlushWait{200};
// Bytes of a stream's stderr kept for the end-of-stream message.
constexpr size_t kStderrTail = 2048;

void InitLibssh() {
  static std::once_flag once;
  std::call_once(once, [] {
    ssh_init();
    ssh_set_log_level(SSH_LOG_NOLOG);
  });
}

std::string ErrnoText(int err) { return std::strerror(err); }

long long Ms(SteadyClock::duration d) {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

// Waits until `fd` is readable (or has an error/hangup), at most `wait`.
void WaitReadable(int fd, SteadyClock::duration wait) {
  int ms = static_cast<int>(std::clamp<long long>(Ms(wait), 0, Ms(kSlice)));
  if (fd < 0) {
    ::poll(nullptr, 0, ms);
    return;
  }
  pollfd p{fd, POLLIN, 0};
  ::poll(&p, 1, ms);
}

struct KeyDeleter {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using KeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, KeyDeleter>;

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Refuses every passphrase prompt (nothing may ever prompt) and remembers that one was asked.
int RefusePassphrase(const char* /*prompt*/, char* /*buf*/, size_t /*len*/, int /*echo*/,
                     int /*verify*/, void* userdata) {
  *static_cast<bool*>(userdata) = true;
  return -1;
}

Result<KeyPtr> LoadPrivateKey(const std::string& path, const std::string& where) {
  auto bad = [&](const std::string& why) {
    return Error::InvalidArgument(where + ": private key " + path + ": " + why);
  };
  if (path.empty()) return bad("no private key file configured");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return bad(ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return bad("not a regular file");
  if (::access(path.c_str(), R_OK) != 0) return bad(ErrnoText(errno));
  bool asked_passphrase = false;
  ssh_key key = nullptr;
  int rc =
      ssh_pki_import_privkey_file(path.c_str(), nullptr, RefusePassphrase, &asked_passphrase, &key);
  if (rc != SSH_OK || key == nullptr) {
    if (asked_passphrase) return bad("the key is protected by a passphrase (not supported)");
    return bad("not a private key libssh can read (OpenSSH or PEM; ed25519, RSA or ECDSA)");
  }
  return KeyPtr(key);
}

std::string KeyTypeName(ssh_key key) {
  const char* name = ssh_key_type_to_char(ssh_key_type(key));
  return name != nullptr ? name : "unknown";
}

// TCP connect to ep.host:ep.port before `end`, observing `cancel`.
Result<UniqueFd> TcpConnect(const Endpoint& ep, SteadyClock::time_point end,
                            const std::stop_token& cancel, const std::string& where) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(ep.port);
  if (int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Error::Unavailable(where + ": cannot resolve host " + ep.host + ": " +
                              ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  int last_errno = ECONNREFUSED;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      last_errno = errno;
      continue;
    }
    int err = 0;
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_errno = errno;
        continue;
      }
      for (;;) {
        if (cancel.stop_requested()) return Error::Cancelled(where + ": connect cancelled");
        auto now = SteadyClock::now();
        if (now >= end) {
          return Error::Timeout(where + ": TCP connect timed out (" +
                                std::to_string(Ms(ep.connect_timeout)) + " ms)");
        }
        pollfd p{fd.get(), POLLOUT, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min(Ms(end - now), Ms(kSlice))));
        if (n > 0) break;
        if (n < 0 && errno != EINTR) {
          err = errno;
          break;
        }
      }
      if (err == 0) {
        socklen_t len = sizeof(err);
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
      if (err != 0) {
        last_errno = err;
        continue;
      }
    }
    // libssh expects a blocking socket (it only reads or writes after poll() said it may).
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
  }
  if (last_errno == ECONNREFUSED) {
    return Error::Unavailable(where + ": connection refused (port " + port + " closed)");
  }
  return Error::Unavailable(where + ": cannot connect: " + ErrnoText(last_errno));
}

// One SSH connection, shared by a session and its streams. `mu` guards every libssh call on
// `session` and every channel of it; it is never held while waiting on the socket.
struct Connection {
  Connection(ssh_session s, std::string w, std::stop_token c, milliseconds setup)
      : session(s), where(std::move(w)), cancel(std::move(c)), setup_timeout(setup) {}
  ~Connection() {
    // libssh closes a socket given through SSH_OPTIONS_FD only on some error paths (and then
    // forgets it: ssh_get_fd() returns -1); ssh_disconnect() and ssh_free() leave it open.
    const socket_t fd = ssh_get_fd(session);
    ssh_disconnect(session);
    ssh_free(session);
    if (fd != SSH_INVALID_SOCKET) ::close(fd);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // REQUIRES: mu held.
  bool Broken() const { return ssh_is_connected(session) == 0; }
  // An error for a libssh failure while doing `what`. REQUIRES: mu held.
  Error Failure(const std::string& what) const {
    std::string detail = ssh_get_error(session);
    if (Broken()) {
      return Error::Unavailable(where + ": connection lost while " + what +
                                (detail.empty() ? "" : ": " + detail));
    }
    return Error::Protocol(where + ": " + what + " failed" + (detail.empty() ? "" : ": " + detail));
  }

  std::mutex mu;
  ssh_session session;
  const std::string where;
  const std::stop_token cancel;
  const milliseconds setup_timeout;  // bounds opening a stream's channel
};

// Calls `step` (under `lock`) until it returns something other than `again`, waiting on the
// socket (unlocked) between calls. Errors: kCancelled, kTimeout ("<what> did not complete within
// <budget> ms").
template <typename Step>
Result<int> Pump(Connection& c, std::unique_lock<std::mutex>& lock, Step step, int again,
                 SteadyClock::time_point end, const std::string& what, milliseconds budget) {
  for (;;) {
    int rc = step();
    if (rc != again) return rc;
    if (c.cancel.stop_requested()) return Error::Cancelled(c.where + ": " + what + " cancelled");
    auto now = SteadyClock::now();
    if (now >= end) {
      return Error::Timeout(c.where + ": " + what + " did not complete within " +
                            std::to_string(budget.count()) + " ms");
    }
    int fd = ssh_get_fd(c.session);
    lock.unlock();
    WaitReadable(fd, end - now);
    lock.lock();
  }
}

// Appends up to `limit` bytes in total to `out`; sets `truncated` when bytes are dropped.
void AppendBounded(std::string& out, const char* data, size_t n, size_t limit, bool& truncated) {
  size_t room = out.size() < limit ? limit - out.size() : 0;
  if (n > room) truncated = true;
  out.append(data, std::min(n, room));
}

// Waits (bounded) for the exit status after EOF. Returns -1 when none came.
// REQUIRES: lock held on c.mu.
int CollectExitStatus(Connection& c, std::unique_lock<std::mutex>& lock, ssh_channel ch,
                      SteadyClock::time_point end) {
  for (;;) {
    int st = ssh_channel_get_exit_status(ch);
    if (st != -1) return st;
    if (ssh_channel_is_closed(ch) || c.Broken() || c.cancel.stop_requested()) return -1;
    auto now = SteadyClock::now();
    if (now >= end) return -1;
    int fd = ssh_get_fd(c.session);
    lock.unlock();
    WaitReadable(fd, end - now);
    lock.lock();
  }
}

std::string QuoteCommand(std::string_view command) {
  constexpr size_t kMax = 120;
  std::string s(command.substr(0, kMax));
  if (command.size() > kMax) s += "...";
  return "`" + s + "`";
}

// Opens a session channel, optionally with a pty, and starts `command` on it.
// REQUIRES: lock held on c.mu. On error the channel is freed.
Result<ssh_channel> StartCommand(Connection& c, std::unique_lock<std::mutex>& lock,
                                 std::string_view command, bool pty, SteadyClock::time_point end,
                                 milliseconds budget) {
  if (c.Broken()) return Error::Unavailable(c.where + ": the connection is closed");
  ssh_channel ch = ssh_channel_new(c.session);
  if (ch == nullptr) return c.Failure("creating a channel");
  auto fail = [&](Error e) -> Result<ssh_channel> {
    ssh_channel_free(ch);
    return e;
  };
  auto open = Pump(
      c, lock, [&] { return ssh_channel_open_session(ch); }, SSH_AGAIN, end,
      "opening a session channel", budget);
  if (!open.ok()) return fail(std::move(open).error());
  if (*open != SSH_OK) return fail(c.Failure("opening a session channel"));
  if (pty) {
    auto rc = Pump(
        c, lock, [&] { return ssh_channel_request_pty_size(ch, "vt100", 200, 50); }, SSH_AGAIN, end,
        "requesting a pty", budget);
    if (!rc.ok()) return fail(std::move(rc).error());
    if (*rc != SSH_OK) return fail(c.Failure("requesting a pty"));
  }
  const std::string cmd(command);
  const std::string what = "starting " + QuoteCommand(command);
  auto rc = Pump(
      c, lock, [&] { return ssh_channel_request_exec(ch, cmd.c_str()); }, SSH_AGAIN, end, what,
      budget);
  if (!rc.ok()) return fail(std::move(rc).error());
  if (*rc != SSH_OK) return fail(c.Failure(what));
  return ch;
}

// Sends what libssh has queued (non-blocking mode queues packets until the socket is polled
// again), waiting at most kFlushWait. REQUIRES: lock held.
void Flush(ssh_session s) { ssh_blocking_flush(s, static_cast<int>(kFlushWait.count())); }

// Ends a command that is still running: asks for SIGTERM (best effort; OpenSSH delivers it to
// the command) and closes the channel. REQUIRES: lock held.
void AbandonChannel(ssh_session s, ssh_channel ch) {
  if (ssh_channel_is_open(ch)) {
    ssh_channel_request_send_signal(ch, "TERM");
    ssh_channel_close(ch);
    Flush(s);
  }
}

class LibsshStream final : public RemoteStream {
 public:
  LibsshStream(std::shared_ptr<Connection> conn, ssh_channel ch, std::string command)
      : conn_(std::move(conn)), channel_(ch), command_(std::move(command)) {}
  ~LibsshStream() override {
    std::lock_guard lock(conn_->mu);
    AbandonChannel(conn_->session, channel_);
    ssh_channel_free(channel_);
  }

  Result<size_t> Read(std::span<char> buf, milliseconds wait) override {
    Connection& c = *conn_;
    const auto end = SteadyClock::now() + wait;
    std::unique_lock lock(c.mu);
    for (;;) {
      if (closed_.load()) return Error::Cancelled(c.where + ": stream " + command_ + " closed");
      if (ended_) return *ended_;
      if (c.cancel.stop_requested()) {
        return Error::Cancelled(c.where + ": stream " + command_ + " cancelled");
      }
      const uint32_t want = static_cast<uint32_t>(std::min<size_t>(buf.size(), 1 << 20));
      int n = ssh_channel_read_nonblocking(channel_, buf.data(), want, 0);
      if (n > 0) return static_cast<size_t>(n);
      DrainStderr();
      // Draining stderr may have pulled in more stdout data.
      if (n == 0 && ssh_channel_poll(channel_, 0) > 0) continue;
      if (n == SSH_ERROR) {
        ended_ = c.Failure("reading " + command_);
        return *ended_;
      }
      if (n == SSH_EOF || ssh_channel_is_closed(channel_)) {
        int status = CollectExitStatus(c, lock, channel_, SteadyClock::now() + kExitStatusWait);
        if (closed_.load()) continue;
        DrainStderr();
        std::string msg = c.where + ": " + command_ + " ended (end of output";
        msg += status >= 0 ? ", exit status " + std::to_string(status) + ")" : ")";
        if (!stderr_tail_.empty()) msg += "; stderr: " + stderr_tail_;
        ended_ = Error::Unavailable(std::move(msg));
        return *ended_;
      }
      auto now = SteadyClock::now();
      if (now >= end) return size_t{0};
      int fd = ssh_get_fd(c.session);
      lock.unlock();
      WaitReadable(fd, end - now);
      lock.lock();
    }
  }

  void Close() override {
    if (closed_.exchange(true)) return;
    std::lock_guard lock(conn_->mu);
    AbandonChannel(conn_->session, channel_);
  }

 private:
  // REQUIRES: conn_->mu held.
  void DrainStderr() {
    std::array<char, 4096> tmp;
    for (;;) {
      int n = ssh_channel_read_nonblocking(channel_, tmp.data(), tmp.size(), 1);
      if (n <= 0) break;
      stderr_tail_.append(tmp.data(), static_cast<size_t>(n));
      if (stderr_tail_.size() > kStderrTail) {
        stderr_tail_.erase(0, stderr_tail_.size() - kStderrTail);
      }
    }
  }

  std::shared_ptr<Connection> conn_;
  ssh_channel channel_;        // guarded by conn_->mu
  const std::string command_;  // quoted, for messages
  std::atomic<bool> closed_{false};
  std::optional<Error> ended_;  // reader thread only
  std::string stderr_tail_;     // reader thread only (under conn_->mu)
};

class LibsshSession final : public SshSession {
 public:
  LibsshSession(std::shared_ptr<Connection> conn, std::string fingerprint)
      : conn_(std::move(conn)), fingerprint_(std::move(fingerprint)) {}

  const std::string& host_key_sha256() const override { return fingerprint_; }

  Result<CommandResult> Run(std::string_view command, milliseconds timeout,
                            size_t max_output) override {
    Connection& c = *conn_;
    const auto end = SteadyClock::now() + timeout;
    const std::string quoted = QuoteCommand(command);
    std::unique_lock lock(c.mu);
    FRUIX_ASSIGN_OR_RETURN(ssh_channel ch, StartCommand(c, lock, command, false, end, timeout));
    // Frees the channel on every path, under the lock (declared after `lock`, destroyed first).
    std::unique_ptr<std::remove_pointer_t<ssh_channel>, decltype(&ssh_channel_free)> guard(
        ch, &ssh_channel_free);

    CommandResult result;
    std::array<char, 16384> buf;
    for (;;) {
      bool progress = false;
      // Reading one stream processes incoming packets for both, so the end is only certain when
      // both report EOF in the same pass (once EOF has arrived, no more data can).
      int eofs = 0;
      for (int is_stderr : {0, 1}) {
        std::string& out = is_stderr ? result.error_output : result.output;
        for (;;) {
          int n = ssh_channel_read_nonblocking(ch, buf.data(), buf.size(), is_stderr);
          if (n == SSH_ERROR) return c.Failure("running " + quoted);
          if (n == SSH_EOF) {
            ++eofs;
            break;
          }
          if (n == 0) break;
          AppendBounded(out, buf.data(), static_cast<size_t>(n), max_output, result.truncated);
          progress = true;
        }
      }
      if (eofs == 2 || (!progress && ssh_channel_is_closed(ch))) break;
      if (progress) continue;
      if (c.cancel.stop_requested()) {
        AbandonChannel(c.session, ch);
        return Error::Cancelled(c.where + ": " + quoted + " cancelled");
      }
      auto now = SteadyClock::now();
      if (now >= end) {
        AbandonChannel(c.session, ch);
        return Error::Timeout(c.where + ": " + quoted + " did not finish within " +
                              std::to_string(timeout.count()) + " ms");
      }
      int fd = ssh_get_fd(c.session);
      lock.unlock();
      WaitReadable(fd, end - now);
      lock.lock();
    }
    result.exit_status =
        CollectExitStatus(c, lock, ch, std::min(end, SteadyClock::now() + kExitStatusWait));
    if (c.cancel.stop_requested()) {
      return Error::Cancelled(c.where + ": " + quoted + " cancelled");
    }
    ssh_channel_close(ch);
    Flush(c.session);
    return result;
  }

  Result<std::unique_ptr<RemoteStream>> Stream(std::string_view command, bool pty) override {
    Connection& c = *conn_;
    const auto end = SteadyClock::now() + c.setup_timeout;
    std::unique_lock lock(c.mu);
    FRUIX_ASSIGN_OR_RETURN(ssh_channel ch,
                           StartCommand(c, lock, command, pty, end, c.setup_timeout));
    return std::unique_ptr<RemoteStream>(
        std::make_unique<LibsshStream>(conn_, ch, QuoteCommand(command)));
  }

 private:
  std::shared_ptr<Connection> conn_;
  const std::string fingerprint_;
};

class LibsshClient final : public SshClient {
 public:
  Result<std::unique_ptr<SshSession>> Connect(const Endpoint& ep, std::stop_token cancel) override {
    InitLibssh();
    const std::string where = Describe(ep);
    if (ep.host.empty()) return Error::InvalidArgument(where + ": no host given");
    if (ep.port == 0) return Error::InvalidArgument(where + ": port 0");
    if (ep.user.empty()) return Error::InvalidArgument(where + ": no user given");
    std::optional<std::string> pin;
    if (ep.host_key.mode == HostKeyMode::kPin) {
      auto parsed = ParseHostKeyFingerprint(ep.host_key.pin_sha256);
      if (!parsed.ok()) return parsed.error().WithContext(where + ": pinned host key");
      pin = std::move(parsed).value();
    }
    FRUIX_ASSIGN_OR_RETURN(KeyPtr key, LoadPrivateKey(ep.private_key_file, where));
    if (cancel.stop_requested()) return Error::Cancelled(where + ": connect cancelled");

    const milliseconds budget = ep.connect_timeout;
    const auto end = SteadyClock::now() + budget;
    FRUIX_ASSIGN_OR_RETURN(UniqueFd fd, TcpConnect(ep, end, cancel, where));

    ssh_session s = ssh_new();
    if (s == nullptr) return Error::Internal(where + ": ssh_new failed");
    const int verbosity = SSH_LOG_NOLOG;
    const bool process_config = false;
    const unsigned int port = ep.port;
    const long timeout_sec = std::max<long>(1, static_cast<long>(budget.count() / 1000) + 1);
    socket_t raw_fd = fd.get();
    if (ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) != 0 ||
        ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &process_config) != 0 ||
        ssh_options_set(s, SSH_OPTIONS_HOST, ep.host.c_str()) != 0 ||
        ssh_options_set(s, SSH_OPTIONS_PORT, &port) != 0 ||
        ssh_options_set(s, SSH_OPTIONS_USER, ep.user.c_str()) != 0 ||
        ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") != 0 ||
        ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") != 0 ||
        ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout_sec) != 0 ||
        ssh_options_set(s, SSH_OPTIONS_FD, &raw_fd) != 0) {
      std::string detail = ssh_get_error(s);
      ssh_free(s);
      return Error::Internal(where + ": setting libssh options failed: " + detail);
    }
    ssh_set_blocking(s, 0);
    // From here on the socket belongs to `conn` (closed by ~Connection).
    fd.Release();
    auto conn = std::make_shared<Connection>(s, where, cancel, budget);
    std::unique_lock lock(conn->mu);

    auto connected = Pump(
        *conn, lock, [&] { return ssh_connect(s); }, SSH_AGAIN, end, "SSH handshake", budget);
    const bool got_banner = ssh_get_serverbanner(s) != nullptr;
    if (!connected.ok()) {
      if (connected.error().code() == ErrorCode::kTimeout && !got_banner) {
        return Error::Timeout(where + ": no SSH banner within " + std::to_string(budget.count()) +
                              " ms");
      }
      return std::move(connected).error();
    }
    if (*connected != SSH_OK) {
      std::string detail = ssh_get_error(s);
      if (!got_banner) {
        return Error::Unavailable(where + ": connection closed before the SSH banner" +
                                  (detail.empty() ? "" : " (" + detail + ")"));
      }
      return Error::Protocol(where + ": SSH handshake failed: " + detail);
    }

    FRUIX_ASSIGN_OR_RETURN(HostKey host_key, ServerHostKey(*conn));
    if (pin && *pin != host_key.sha256) {
      return Error::Tls(where + ": host key mismatch: the server's " + host_key.type + " key is " +
                        host_key.sha256 + " but " + *pin + " is pinned; not logging in");
    }

    auto auth = Pump(
        *conn, lock, [&] { return ssh_userauth_publickey(s, nullptr, key.get()); }, SSH_AUTH_AGAIN,
        end, "authentication", budget);
    if (!auth.ok()) return std::move(auth).error();
    switch (*auth) {
      case SSH_AUTH_SUCCESS:
        break;
      case SSH_AUTH_DENIED:
      case SSH_AUTH_PARTIAL:
        return Error::PermissionDenied(where + ": authentication refused for user " + ep.user +
                                       " with " + KeyTypeName(key.get()) + " key " +
                                       ep.private_key_file);
      default:
        return conn->Failure("authenticating");
    }
    lock.unlock();
    return std::unique_ptr<SshSession>(
        std::make_unique<LibsshSession>(std::move(conn), std::move(host_key.sha256)));
  }

 private:
  struct HostKey {
    std::string type;    // "ssh-ed25519", "ssh-rsa", ...
    std::string sha256;  // "SHA256:<base64>"
  };
  // The server's host key. REQUIRES: c.mu held.
  static Result<HostKey> ServerHostKey(Connection& c) {
    ssh_key raw = nullptr;
    if (ssh_get_server_publickey(c.session, &raw) != SSH_OK || raw == nullptr) {
      return c.Failure("reading the server's host key");
    }
    KeyPtr server_key(raw);
    unsigned char* hash = nullptr;
    size_t hash_len = 0;
    if (ssh_get_publickey_hash(server_key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_len) !=
        0) {
      return Error::Internal(c.where + ": hashing the server's host key failed");
    }
    char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_len);
    ssh_clean_pubkey_hash(&hash);
    if (text == nullptr) return Error::Internal(c.where + ": formatting the host key hash failed");
    HostKey key{KeyTypeName(server_key.get()), text};
    ssh_string_free_char(text);
    return key;
  }
};

}  // namespace

std::unique_ptr<SshClient> NewLibsshClient() { return std::make_unique<LibsshClient>(); }

}  // namespace fruix::ssh
