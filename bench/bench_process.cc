#include "bench/bench_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fruix::bench {
namespace {

constexpr size_t kMaxCapture = 1024 * 1024;

std::atomic<bool> g_interrupted{false};
std::array<std::atomic<pid_t>, 8> g_children{};

void OnInterrupt(int) {
  g_interrupted.store(true);
  for (auto& slot : g_children) {
    const pid_t pid = slot.load();
    if (pid > 0) ::kill(pid, SIGTERM);
  }
}

void Track(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}

void Untrack(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

Error Errno(const std::string& what) { return Error::Io(what + ": " + std::strerror(errno)); }

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace

void InstallInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

bool Interrupted() { return g_interrupted.load(); }

Result<void> CheckInterrupted() {
  if (Interrupted()) return Error::Cancelled("interrupted");
  return Ok();
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Field 3 is the state; utime and stime are fields 14 and 15 (1-based, man 5 proc).
  for (int i = 3; i <= 15 && (fields >> field); ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string ProcessResult::Describe() const {
  if (term_signal != 0) return "killed by signal " + std::to_string(term_signal);
  return "exit " + std::to_string(exit_code);
}

Result<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                         const RunOptions& options) {
  if (argv.empty()) return Error::InvalidArgument("empty command");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int out_pipe[2] = {-1, -1};
  if (options.capture_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0) return Errno("pipe");
  int exec_pipe[2];  // the child writes errno here if execv fails; EOF means exec succeeded
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) return Errno("pipe");
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int err_fd = -1;
  if (!options.stderr_path.empty()) {
    err_fd = ::open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (err_fd < 0) return Errno("open " + options.stderr_path);
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::dup2(options.capture_stdout ? out_pipe[1] : null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDIN_FILENO);
    if (err_fd >= 0) ::dup2(err_fd, STDERR_FILENO);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::execv(args[0], args.data());
    const int e = errno;
    (void)!::write(exec_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  Track(pid);
  ::close(exec_pipe[1]);
  if (null_fd >= 0) ::close(null_fd);
  if (err_fd >= 0) ::close(err_fd);
  if (options.capture_stdout) ::close(out_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  ChildProcess child(pid, options.capture_stdout ? out_pipe[0] : -1);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    (void)child.Wait();
    return Error::Io("cannot run " + Join(argv) + ": " + std::strerror(child_errno));
  }
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), stdout_fd_(other.stdout_fd_), pending_(std::move(other.pending_)) {
  other.pid_ = -1;
  other.stdout_fd_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    (void)Wait();
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

Result<std::string> ChildProcess::ReadLine(std::chrono::milliseconds timeout) {
  if (stdout_fd_ < 0) return Error::FailedPrecondition("stdout not captured");
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (size_t nl = pending_.find('\n'); nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error::Timeout("no line from process " + std::to_string(pid_));
    pollfd p{stdout_fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) {
      FRUIX_RETURN_IF_ERROR(CheckInterrupted());
      continue;
    }
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t got = ::read(stdout_fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return Error::Unavailable("process " + std::to_string(pid_) + " closed stdout");
    }
    pending_.append(buf, static_cast<size_t>(got));
  }
}

Result<ProcessResult> ChildProcess::Wait() {
  ProcessResult result;
  if (pid_ <= 0) return Error::FailedPrecondition("no process");
  if (stdout_fd_ >= 0) {
    char buf[65536];
    while (true) {
      const ssize_t got = ::read(stdout_fd_, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      if (pending_.size() < kMaxCapture) pending_.append(buf, static_cast<size_t>(got));
    }
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
  int status = 0;
  rusage usage{};
  pid_t r;
  do {
    r = ::wait4(pid_, &status, 0, &usage);
  } while (r < 0 && errno == EINTR);
  Untrack(pid_);
  const pid_t pid = pid_;
  pid_ = -1;
  if (r != pid) return Errno("wait4");
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  result.max_rss_kib = static_cast<uint64_t>(usage.ru_maxrss);  // Linux: KiB
  result.stdout_text = std::move(pending_);
  pending_.clear();
  return result;
}

Result<ProcessResult> ChildProcess::WaitFor(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Error::FailedPrecondition("no process");
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) return Errno("pidfd_open");
  const auto until = std::chrono::steady_clock::now() + timeout;
  bool exited = false;
  while (!exited) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{pidfd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    exited = r > 0;
  }
  ::close(pidfd);
  if (!exited) return Error::Timeout("process " + std::to_string(pid_) + " still running");
  return Wait();
}

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  FRUIX_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Start(argv, options));
  FRUIX_ASSIGN_OR_RETURN(ProcessResult result, child.Wait());
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

Result<std::string> SelfExecutable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return Errno("readlink /proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace fruix::bench
