// job::JobRun — performs one deployment job: runs its phases in order (phase.h), feeds every
// outcome and asynchronous observation through the pure state machine (state_machine.h), and
// builds the job's report (report.h).
//
// Created by the daemon (or a test) per job; Run() blocks the calling thread (a worker thread,
// never the event loop) until the job is terminal. While it runs, the job owns helper threads,
// all stopped before Run() returns:
//   - the console recorder's reader (console_recorder.h), started right after VM.start: lines go
//     to the per-job log, to the observer, and through a PatternMatcher: failure signatures end
//     the job (in boot, network or ssh) with the line and the 30 before it; address lines feed the
//     AddressBook; boot-complete milestones end the boot phase;
//   - a VM monitor (event.from on the VM and guest metrics): Halted, Paused (crash preserved) or a
//     domid change end the job at once with the last console lines; guest-metrics addresses of the
//     target VIF's device feed the AddressBook;
//   - a lease-file watcher (when configured), accepting only a lease entry that differs from the
//     one the MAC had before VM.start.
// Cancellation (Run's stop token) aborts the current phase's blocking call (each one takes a stop
// token) and ends the job `cancelled`; an upload in flight cancels its task.
//
// Failure codes in the report: "xapi:<XAPI_CODE>" for xapi errors, "console:<pattern>" for a
// console signature, "vm-halted" / "vm-rebooted" / "vm-crashed", "ssh:<state>" for the ssh phase
// ("ssh:marker-missing", "ssh:port-closed", "ssh:auth-refused", "ssh:host-key-mismatch", ...),
// otherwise the fruix error code name ("timeout", "invalid_argument", ...).
//
// Threads: Run() once, from one thread. Snapshot() and waiting() are safe from any thread at any
// time. Observer callbacks come from Run()'s thread and from the helper threads; they must be
// thread-safe, quick, and must not call back into the JobRun.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "lib/console/console_recorder.h"
#include "lib/console/console_source.h"
#include "lib/core/clock.h"
#include "lib/http/http_client.h"
#include "lib/job/job_spec.h"
#include "lib/job/report.h"
#include "lib/ssh/ssh_client.h"
#include "lib/xenapi/session.h"

namespace fruix::job {

// What a console source factory is told about the job's VM.
struct ConsoleRequest {
  const ConsoleSpec& spec;
  std::string vm_uuid;
  OpaqueRef vm;
};
using ConsoleSourceFactory =
    std::function<Result<std::unique_ptr<console::ConsoleSource>>(const ConsoleRequest&)>;

class JobObserver {
 public:
  virtual ~JobObserver() = default;
  // A phase started (status kRunning) or ended (any other status).
  virtual void OnPhase(const PhaseRecord& /*record*/) {}
  virtual void OnUploadProgress(const upload::ImportProgress& /*progress*/) {}
  virtual void OnConsoleLine(const console::ConsoleLine& /*line*/, bool /*partial*/) {}
  virtual void OnMilestone(const MilestoneRecord& /*milestone*/) {}
  // What the job waits for now ("waiting for the guest's address from console ...").
  virtual void OnWaiting(Phase /*phase*/, const std::string& /*what*/) {}
};

struct RunnerDeps {
  xenapi::Session* session = nullptr;       // required
  http::HttpClient* upload_http = nullptr;  // required when the spec has an image
  ssh::SshClient* ssh = nullptr;            // required when the spec has an ssh check
  ConsoleSourceFactory console_factory;     // required unless the console kind is "none"
  const Clock* clock = nullptr;             // default RealClock()
  // How long the after-run shutdown and end-of-job cleanup may take.
  std::chrono::milliseconds cleanup_timeout{std::chrono::seconds(60)};
};

class JobRun {
 public:
  JobRun(RunnerDeps deps, std::string job_id, JobSpec spec);
  ~JobRun();
  JobRun(const JobRun&) = delete;
  JobRun& operator=(const JobRun&) = delete;

  // Runs the job to ready, failed or cancelled and returns the final report. Never throws.
  // `observer` may be null and must outlive Run().
  JobReport Run(std::stop_token cancel, JobObserver* observer = nullptr);

  // The report so far (the current phase is kRunning), with live address and console figures.
  JobReport Snapshot() const;
  // What the job is waiting for right now ("" when not waiting).
  std::string waiting() const;
  // The console recorder's ring, for followers (empty before the VM started or without console).
  std::vector<console::ConsoleLine> ConsoleLines(uint64_t since_seq, size_t max) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fruix::job
