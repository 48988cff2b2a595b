#include "tests/support/sshd_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace fruix::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Runs `argv` (argv[0] looked up in PATH), returns its stdout+stderr, or an error with them if it
// could not start or exited non-zero.
Result<std::string> RunTool(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error::Io(std::string("pipe: ") + strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Error::Io("cannot run " + argv[0] + ": " + strerror(rc));
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    return Error::Io(cmd + "failed: " + out);
  }
  return out;
}

// "SHA256:..." from `ssh-keygen -lf <pub>` ("256 SHA256:... comment (ED25519)").
Result<std::string> Fingerprint(const fs::path& pub) {
  FRUIX_ASSIGN_OR_RETURN(std::string out, RunTool({"ssh-keygen", "-lf", pub.string()}));
  std::istringstream in(out);
  std::string bits, fp;
  in >> bits >> fp;
  if (fp.rfind("SHA256:", 0) != 0) return Error::Io("unexpected ssh-keygen -lf output: " + out);
  return fp;
}

Result<void> Keygen(const fs::path& path, const std::string& type) {
  std::vector<std::string> argv = {"ssh-keygen", "-q", "-t",         type, "-N",
                                   "",           "-C", "fruix-test", "-f", path.string()};
  if (type == "rsa") {
    argv.insert(argv.begin() + 4, "2048");
    argv.insert(argv.begin() + 4, "-b");
  }
  FRUIX_RETURN_IF_ERROR(RunTool(argv));
  return Ok();
}

Result<void> WriteFile(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return Error::Io("cannot write " + path.string());
  return Ok();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A port that was free a moment ago (bind 127.0.0.1:0, read it back, close).
Result<uint16_t> ReservePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::Io(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    return Error::Io(std::string("bind 127.0.0.1:0: ") + strerror(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string FindSshd() {
  for (const char* p : {"/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "/usr/sbin/sshd";
}

}  // namespace

std::unique_ptr<SshdHarness> SshdHarness::Create(Options options) {
  std::unique_ptr<SshdHarness> h(new SshdHarness());
  if (auto r = h->Prepare(options); !r.ok()) {
    ADD_FAILURE() << "SshdHarness: " << r.error().ToString();
    return nullptr;
  }
  return h;
}

Result<void> SshdHarness::Prepare(const Options& options) {
  std::string tmpl = (fs::temp_directory_path() / "fruix-sshd-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Error::Io("mkdtemp: " + std::string(strerror(errno)));
  }
  dir_ = tmpl;
  // sshd (as root) and the login user read files here.
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  const passwd* pw = ::getpwuid(::geteuid());
  if (pw == nullptr) return Error::Io("no passwd entry for uid " + std::to_string(::geteuid()));
  user_ = pw->pw_name;
  if (::geteuid() == 0 && !fs::exists("/run/sshd")) {
    if (::mkdir("/run/sshd", 0755) != 0 && errno != EEXIST) {
      return Error::Io("mkdir /run/sshd: " + std::string(strerror(errno)));
    }
  }

  const std::string host_type = options.host_key == HostKeyType::kRsa ? "rsa" : "ed25519";
  const fs::path host_key = dir_ / ("host_" + host_type);
  FRUIX_RETURN_IF_ERROR(Keygen(host_key, host_type));
  host_key_ = host_key;
  FRUIX_ASSIGN_OR_RETURN(host_key_sha256_, Fingerprint(host_key.string() + ".pub"));

  FRUIX_RETURN_IF_ERROR(Keygen(user_key(UserKey::kEd25519), "ed25519"));
  FRUIX_RETURN_IF_ERROR(Keygen(user_key(UserKey::kUnauthorized), "ed25519"));
  std::string authorized = ReadFile(user_key(UserKey::kEd25519).string() + ".pub");
  if (options.rsa_user_key) {
    FRUIX_RETURN_IF_ERROR(Keygen(user_key(UserKey::kRsa), "rsa"));
    authorized += ReadFile(user_key(UserKey::kRsa).string() + ".pub");
  }
  FRUIX_RETURN_IF_ERROR(WriteFile(dir_ / "authorized_keys", authorized));
  fs::create_directories(dir_ / "bin");
  FRUIX_ASSIGN_OR_RETURN(port_, ReservePort());
  return WriteConfig();
}

Result<void> SshdHarness::WriteConfig() {
  const std::string d = dir_.string();
  std::string config =
      "# Written by tests/support/sshd_harness.cc\n"
      "ListenAddress 127.0.0.1\n"
      "Port " +
      std::to_string(port_) +
      "\n"
      "HostKey " +
      host_key_.string() +
      "\n"
      "AuthorizedKeysFile " +
      d +
      "/authorized_keys\n"
      "StrictModes no\n"
      "UsePAM no\n"
      "PubkeyAuthentication yes\n"
      "PasswordAuthentication no\n"
      "KbdInteractiveAuthentication no\n"
      "PermitRootLogin prohibit-password\n"
      "PidFile " +
      d +
      "/sshd.pid\n"
      "SetEnv PATH=" +
      d +
      "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
      "PrintMotd no\n"
      "PrintLastLog no\n"
      "MaxStartups 100\n"
      "MaxSessions 50\n"
      "LoginGraceTime 30\n"
      "LogLevel VERBOSE\n";
  return WriteFile(dir_ / "sshd_config", config);
}

SshdHarness::~SshdHarness() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Result<void> SshdHarness::Start(PortPolicy policy) {
  if (running()) return Error::FailedPrecondition("sshd is already running");
  for (int attempt = 0;; ++attempt) {
    auto r = StartOnce();
    if (r.ok()) return r;
    const bool race = r.error().message().find("Address already in use") != std::string::npos;
    if (!race || policy == PortPolicy::kKeepPort || attempt >= 4) return r;
    FRUIX_ASSIGN_OR_RETURN(port_, ReservePort());
    FRUIX_RETURN_IF_ERROR(WriteConfig());
  }
}

Result<void> SshdHarness::StartOnce() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error::Io(std::string("pipe: ") + strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  const std::string sshd = FindSshd();
  const std::string config = (dir_ / "sshd_config").string();
  std::vector<std::string> argv = {sshd, "-D", "-e", "-f", config};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, sshd.c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Error::Io("cannot run " + sshd + ": " + strerror(rc));
  }
  pid_ = pid;
  size_t log_from = 0;
  {
    std::lock_guard lock(mu_);
    reader_done_ = false;
    log_from = log_.size();
  }
  stop_reader_ = false;
  reader_ = std::thread([this, fd = fds[0]] { ReaderLoop(fd); });

  const std::string listening = "Server listening on 127.0.0.1 port " + std::to_string(port_);
  bool up = false;
  {
    std::unique_lock lock(mu_);
    auto listens = [&] { return log_.find(listening, log_from) != std::string::npos; };
    up = cv_.wait_for(lock, std::chrono::seconds(10), [&] { return listens() || reader_done_; }) &&
         listens();
  }
  if (up) return Ok();
  Stop();
  return Error::Unavailable("sshd did not start listening on port " + std::to_string(port_) +
                            "; its output:\n" + log());
}

void SshdHarness::ReaderLoop(int fd) {
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, 100);
    if (n == 0) {
      if (stop_reader_) break;
      continue;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    std::lock_guard lock(mu_);
    log_.append(buf, static_cast<size_t>(got));
    cv_.notify_all();
  }
  ::close(fd);
  std::lock_guard lock(mu_);
  reader_done_ = true;
  cv_.notify_all();
}

void SshdHarness::Stop() {
  if (pid_ > 0) {
    // sshd exits at once on SIGTERM; SIGKILL after 5 s just in case.
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    ::kill(-pid_, SIGTERM);
    bool exited = false;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      exited = ::poll(&p, 1, 5000) == 1;
      ::close(pidfd);
    }
    if (!exited) ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (reader_.joinable()) {
    stop_reader_ = true;
    reader_.join();
  }
}

std::filesystem::path SshdHarness::user_key(UserKey key) const {
  switch (key) {
    case UserKey::kEd25519:
      return dir_ / "user_ed25519";
    case UserKey::kRsa:
      return dir_ / "user_rsa";
    case UserKey::kUnauthorized:
      return dir_ / "other_ed25519";
  }
  return {};
}

ssh::Endpoint SshdHarness::Endpoint(UserKey key) const {
  ssh::Endpoint ep;
  ep.host = host_;
  ep.port = port_;
  ep.user = user_;
  ep.private_key_file = user_key(key).string();
  ep.host_key.mode = ssh::HostKeyMode::kRecord;
  ep.connect_timeout = std::chrono::seconds(5);
  return ep;
}

std::filesystem::path SshdHarness::marker_path() const {
  return dir_ / "var" / "lib" / "fruix" / "ready";
}

void SshdHarness::WriteMarker(std::string_view content) {
  const fs::path path = marker_path();
  fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp";
  auto r = WriteFile(tmp, std::string(content) + "\n");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  fs::rename(tmp, path);
}

void SshdHarness::RemoveMarker() {
  std::error_code ec;
  fs::remove(marker_path(), ec);
}

std::filesystem::path SshdHarness::AddScript(std::string_view name, std::string_view body) {
  const fs::path path = dir_ / "bin" / std::string(name);
  auto r = WriteFile(path, body);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  return path;
}

std::string SshdHarness::log() const {
  std::lock_guard lock(mu_);
  return log_;
}

bool SshdHarness::WaitForLog(std::string_view text, milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return log_.find(text) != std::string::npos; });
}

}  // namespace fruix::testing
