// client job views: how fruixctl shows jobs to people — the summary of one job (`status JOB`, the
// end of `deploy --wait/--follow`), the aligned job table (`list`, `status`), the exit code a
// finished job maps to, and EventRenderer, which turns a job's "job.event" notifications into
// live lines (phases, waits, milestones, console) and an upload progress display.
// Output only; no protocol calls. Single-threaded, like the CLI.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "lib/core/clock.h"
#include "proto/messages.h"

namespace fruix::client {

// The exit code of a job that ended: 0 ready, 4 cancelled, 5 failed with code "timeout",
// 1 failed or interrupted (or not ended at all).
int JobExitCode(const proto::JobInfo& job);

// A multi-line summary for people: state, target, image, requester, phases with durations (when
// `with_phases`), IP, SSH host key (from the report, when present), console log, and for a failed
// job the failure (phase, code, class, message) with its console excerpt.
void PrintJobSummary(std::ostream& out, const proto::JobInfo& job, bool with_phases = true);

// One row per job: JOB, STATE, TARGET, PHASE, CREATED, DURATION, BY.
void PrintJobTable(std::ostream& out, const std::vector<proto::JobInfo>& jobs);

// Renders a job's events as they come. Phase starts and ends are one line each ("  upload
// started", "  upload      ok      41s  2.0 GiB ..."); "waiting for …" lines are shown once per
// change; milestones one line each; console lines (when asked) prefixed "console| ".
// Upload progress: on a TTY, a bar (percent, bytes, MB/s, ETA) redrawn in place with "\r" at most
// 10 times a second and cleared before any other line; otherwise plain lines, at most one per
// 5 seconds or per 10 % step, never containing "\r".
class EventRenderer {
 public:
  struct Options {
    bool tty = false;
    bool console = false;
  };
  // `out` and `clock` must outlive the renderer.
  EventRenderer(std::ostream& out, Options options, const Clock& clock = RealClock());

  // The job as job.watch returned it: a header line and the phases it already went through.
  void Start(const proto::JobInfo& job);
  void OnEvent(const proto::JobEvent& event);
  // Clears a progress bar left on the line (call before printing anything else).
  void Finish();

 private:
  void Line(const std::string& text);
  void Phase(const proto::PhaseInfo& phase);
  void Progress(const proto::UploadProgressInfo& progress);
  std::string ProgressText(const proto::UploadProgressInfo& progress, bool bar);

  std::ostream& out_;
  Options options_;
  const Clock& clock_;
  bool bar_shown_ = false;
  std::string last_waiting_;
  std::vector<std::pair<std::string, std::string>> printed_phases_;  // (phase, status)
  // Progress state: the first sample (for the rate) and the last print.
  std::optional<Clock::TimePoint> first_at_;
  uint64_t first_bytes_ = 0;
  std::optional<Clock::TimePoint> last_print_at_;
  int last_decile_ = -1;
  std::string last_retry_;
};

}  // namespace fruix::client
