#include "tests/support/fruixd_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "client/control_client.h"

namespace fruix::testing {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---- RpcConnection ----

Result<std::unique_ptr<RpcConnection>> RpcConnection::Connect(const fs::path& socket) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::Io(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    return Error::Unavailable("connect " + socket.string() + ": " + std::strerror(err));
  }
  return std::unique_ptr<RpcConnection>(new RpcConnection(fd));
}

RpcConnection::~RpcConnection() { ::close(fd_); }

Result<void> RpcConnection::SendRaw(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::Io(std::string("send: ") + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return Ok();
}

Result<int> RpcConnection::Send(const std::string& method, const json& params, int fd) {
  const int id = next_id_++;
  json req = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  const std::string line = req.dump() + "\n";
  if (fd < 0) {
    FRUIX_RETURN_IF_ERROR(SendRaw(line));
    return id;
  }
  const ssize_t n = client::SendWithDescriptor(fd_, line, fd);
  if (n < 0) return Error::Io(std::string("sendmsg: ") + std::strerror(errno));
  if (static_cast<size_t>(n) < line.size()) FRUIX_RETURN_IF_ERROR(SendRaw(line.substr(n)));
  return id;
}

Result<json> RpcConnection::Next(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) return Error::Protocol("fruixd sent a non-JSON line: " + line);
      return j;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Error::Timeout("no line from fruixd in time");
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) return Error::Io(std::string("poll: ") + std::strerror(errno));
    if (r <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n == 0) return Error::Unavailable("fruixd closed the connection");
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::Io(std::string("recv: ") + std::strerror(errno));
    }
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

Result<json> RpcConnection::Call(const std::string& method, const json& params, int fd,
                                 std::chrono::milliseconds timeout) {
  FRUIX_ASSIGN_OR_RETURN(int id, Send(method, params, fd));
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    FRUIX_ASSIGN_OR_RETURN(json j, Next(std::max(left, std::chrono::milliseconds(1))));
    if (j.contains("id") && j["id"] == id) return j;
  }
}

// ---- FruixdHarness ----

std::string SimPoolToml(const std::string& url) {
  return "[pools.sim]\nurl = \"" + url + "\"\npassword_file = \"%PASSWORD_FILE%\"\n\n";
}

namespace {

void WriteText(const fs::path& p, const std::string& text, fs::perms mode) {
  std::ofstream(p, std::ios::trunc) << text;
  fs::permissions(p, mode);
}

}  // namespace

std::unique_ptr<FruixdHarness> FruixdHarness::Create(std::string binary, std::string config_toml,
                                                     std::string daemon_extra,
                                                     std::string password) {
  std::unique_ptr<FruixdHarness> h(new FruixdHarness());
  h->binary_ = std::move(binary);
  char tmpl[] = "/tmp/fruixd-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return nullptr;
  h->dir_ = tmpl;
  WriteText(h->password_file(), password + "\n", fs::perms::owner_read | fs::perms::owner_write);
  h->RewriteConfig(config_toml, daemon_extra);
  return h;
}

void FruixdHarness::RewriteConfig(const std::string& config_toml, const std::string& daemon_extra) {
  std::string body = config_toml;
  for (size_t at; (at = body.find("%PASSWORD_FILE%")) != std::string::npos;) {
    body.replace(at, 15, password_file().string());
  }
  const std::string level =
      daemon_extra.find("log_level") == std::string::npos ? "log_level = \"debug\"\n" : "";
  const std::string text = "[daemon]\nsocket = \"" + socket().string() + "\"\nstate_dir = \"" +
                           state_dir().string() + "\"\n" + level + daemon_extra + "\n\n" + body;
  WriteText(config_path(), text, fs::perms::owner_read | fs::perms::owner_write);
}

FruixdHarness::~FruixdHarness() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Result<void> FruixdHarness::Start() {
  const fs::path err = dir_ / "fruixd.stderr";
  const pid_t pid = ::fork();
  if (pid < 0) return Error::Io(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // If the test process dies (a crash, an abort), fruixd goes with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (const auto& [name, value] : env_) ::setenv(name.c_str(), value.c_str(), 1);
    const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 2);
      ::dup2(fd, 1);
    }
    ::execl(binary_.c_str(), binary_.c_str(), "--config", config_path().c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Error::Unavailable("fruixd exited during startup: " + Stderr());
    }
    auto r = Call("daemon.version");
    if (r.ok() && r->contains("result")) return Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Error::Unavailable("fruixd did not answer on " + socket().string() + ": " + Stderr());
}

void FruixdHarness::Signal(int signo) {
  if (pid_ > 0) ::kill(pid_, signo);
}

Result<int> FruixdHarness::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Error::FailedPrecondition("fruixd is not running");
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    if (Clock::now() >= deadline) return Error::Timeout("fruixd still running");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<std::unique_ptr<RpcConnection>> FruixdHarness::Connect() const {
  return RpcConnection::Connect(socket());
}

Result<json> FruixdHarness::Call(const std::string& method, const json& params, int fd) {
  FRUIX_ASSIGN_OR_RETURN(std::unique_ptr<RpcConnection> c, Connect());
  return c->Call(method, params.is_null() ? json::object() : params, fd);
}

std::string FruixdHarness::Stderr() const {
  std::ifstream in(dir_ / "fruixd.stderr");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace fruix::testing
