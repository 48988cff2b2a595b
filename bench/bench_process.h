// bench::process — child processes for the upload benchmark: run a command to completion and
// collect its wall time, exit status and peak RSS (ru_maxrss from wait4), or keep a long-lived
// child (the simulator) whose first stdout line is read with a timeout.
//
// Children are created with fork + execv; they die with the bench (PR_SET_PDEATHSIG), and while
// one is tracked (every child made here is, until reaped) an interrupt (SIGINT/SIGTERM to the
// bench, see InstallInterruptHandler) sends it SIGTERM, so a ^C never leaves a simulator or an
// upload behind. Single-threaded use: the bench drives one child at a time from its main thread
// (plus the simulator).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/result.h"

namespace fruix::bench {

// Installs SIGINT/SIGTERM handlers that record the interrupt and send SIGTERM to every tracked
// child. Call once, early in main().
void InstallInterruptHandler();
// True once SIGINT or SIGTERM arrived.
bool Interrupted();
// kCancelled when Interrupted(), else Ok(); for long loops.
Result<void> CheckInterrupted();

// CPU seconds (user + system) a live process has used so far, from /proc/<pid>/stat; 0 if
// unreadable.
double ProcessCpuSeconds(pid_t pid);

struct ProcessResult {
  int exit_code = -1;   // exit status, or -1 when killed by a signal
  int term_signal = 0;  // the signal that killed it, or 0
  uint64_t max_rss_kib = 0;
  double wall_seconds = 0;
  std::string stdout_text;  // captured stdout (capture_stdout), at most 1 MiB
  bool ok() const { return exit_code == 0; }
  std::string Describe() const;  // "exit 3" / "killed by signal 9"
};

struct RunOptions {
  bool capture_stdout = false;  // else stdout goes to /dev/null
  std::string stderr_path;      // appended to; empty = inherited
};

// A started child. Reaps it (SIGKILL first if still running) on destruction.
class ChildProcess {
 public:
  // Starts argv[0] (a path) with argv. Errors: kIo when the pipe, fork or exec fails (an exec
  // failure is reported by the child through a CLOEXEC pipe, so it is caught here).
  static Result<ChildProcess> Start(const std::vector<std::string>& argv,
                                    const RunOptions& options);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Reads stdout up to the first newline (without it). kTimeout after `timeout`, kUnavailable if
  // the child closed stdout (or exited) first. REQUIRES: capture_stdout.
  Result<std::string> ReadLine(std::chrono::milliseconds timeout);
  // Sends `sig`.
  void Signal(int sig);
  // Reads the rest of stdout (if captured) and waits for the exit; fills max_rss_kib from wait4.
  Result<ProcessResult> Wait();
  // Like Wait() but gives up after `timeout` (kTimeout; the child is left running). Discards
  // stdout not read yet.
  Result<ProcessResult> WaitFor(std::chrono::milliseconds timeout);

 private:
  ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_;
  int stdout_fd_;        // -1 when not captured
  std::string pending_;  // stdout read but not returned yet
};

// Start + Wait, with wall_seconds measured around both.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const RunOptions& options);

// This executable's path (/proc/self/exe).
Result<std::string> SelfExecutable();

}  // namespace fruix::bench
