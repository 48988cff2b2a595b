// daemon::JobService — the service layer of fruixd (style rule 7: transport → dispatch →
// service → backend): accepts deployments, enforces the limits and the per-VM rule, runs each job
// on a thread of its own (job::JobRun), records everything in the store, and feeds watchers.
//
// Rules:
//   - At most max_concurrent_jobs jobs run; further accepted jobs wait in a FIFO queue (at most
//     max_queued_jobs, beyond which Start is refused with kQueueFull).
//   - At most one job per VM: a request for a VM that has a queued or running job is refused with
//     kBusy naming that job, unless it asked to queue (options.queue), in which case it waits for
//     the VM in the same FIFO.
//   - Across hosts, a job takes the VM's lease (vm_lease.h) before its first phase, renews it every
//     lease_ttl/3 while running, and releases it at the end; a lease of another owner fails the job
//     in preflight with code "lease-held" (class infrastructure).
//   - Every accepted job is in the store before Start returns; phase changes are written as they
//     happen; the final row, report and phase list are written in one transaction (FinishJob).
//   - Recover() (daemon start, before serving) marks the jobs a previous daemon left running as
//     interrupted and releases their leases.
//   - A job keeps the configuration it started with; SetConfig (SIGHUP) affects new jobs only.
//
// Threads: every public method is safe from any thread and returns without waiting for network
// I/O (Start writes one store row). Job threads call the store, the backend and the watchers'
// sinks; sinks must be thread-safe and must not block. Shutdown() blocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/pool_registry.h"
#include "lib/ssh/ssh_client.h"
#include "lib/store/job_store.h"
#include "lib/vhd/stream_plan.h"
#include "proto/jsonrpc.h"
#include "proto/messages.h"

namespace fruix::daemon {

struct Requester {
  int64_t uid = -1;
  std::string user;
};

struct DeployRequest {
  proto::DeployStartParams params;
  Requester requester;
  // The image descriptor the client passed; null when params.image.path is to be opened (the
  // dispatch layer allows that only for peers with the daemon's privileges).
  std::shared_ptr<vhd::SourceFile> image_file;
};

struct JobServiceOptions {
  std::filesystem::path log_dir;  // console logs: <log_dir>/<job id>.console.log (created)
  int max_concurrent_jobs = 4;
  int max_queued_jobs = 64;
  std::string owner;  // this daemon in VM leases
  std::chrono::milliseconds lease_ttl{std::chrono::minutes(10)};
  size_t recent_jobs_cached = 512;  // finished jobs kept in memory for job.get
  std::string version;
};

class JobService {
 public:
  using EventSink = std::function<void(const proto::JobEvent&)>;

  JobService(store::JobStore& store, PoolRegistry& pools, ssh::SshClient& ssh,
             std::shared_ptr<const Config> config, JobServiceOptions options);
  ~JobService();  // Shutdown(0) if not done
  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  // Daemon start: interrupted jobs (see the top comment). Blocks (store + XenAPI calls); returns
  // the jobs marked. Lease release failures are logged, not returned.
  Result<std::vector<store::JobRow>> Recover(std::string_view reason);

  void SetConfig(std::shared_ptr<const Config> config);
  std::shared_ptr<const Config> config() const;

  // deploy.start. On refusal, `refusal` (if not null) receives the protocol error to answer with
  // (kBusy with data.job_id, kQueueFull, kShuttingDown, kNotFound for an unknown target,
  // kInvalidParams for bad options), and the Result carries the same as a fruix::Error.
  Result<proto::DeployStartResult> Start(DeployRequest request, proto::RpcError* refusal);

  Result<proto::JobInfo> Get(const std::string& job_id, bool with_report);
  // job.get's result (proto::JobGetResult) already encoded as compact JSON, for a finished job
  // still in the in-memory cache (encoded once, then shared); nullptr otherwise (use Get).
  std::shared_ptr<const std::string> EncodedGet(const std::string& job_id, bool with_report);
  Result<proto::JobListResult> List(const proto::JobListParams& params);
  // Cancels a queued job at once (state cancelled) or asks a running one to stop (its end event
  // follows). kFailedPrecondition for a job that already ended; kNotFound for an unknown id.
  Result<proto::JobCancelResult> Cancel(const std::string& job_id);

  struct WatchStart {
    proto::JobInfo job;
    bool watching = false;  // false: the job had already ended; no events follow
    uint64_t token = 0;     // for Unwatch
  };
  // Subscribes `sink` to the job's events (phase, progress, milestone, waiting, console lines if
  // `console`, starting with the kept lines from `console_since`), ending with "end".
  Result<WatchStart> Watch(const std::string& job_id, bool console, uint64_t console_since,
                           EventSink sink);
  void Unwatch(uint64_t token);

  // job.log: reads the console log file (blocking file I/O, bounded by max_bytes).
  Result<proto::JobLogResult> Log(const proto::JobLogParams& params);

  proto::HealthResult Health() const;
  proto::TargetsListResult Targets() const;

  // No new jobs from now on (Start answers kShuttingDown).
  void StopAccepting();
  // Stops accepting, drops queued jobs (cancelled), lets running jobs finish for up to `grace`,
  // then cancels them and waits until every job thread has ended and recorded its outcome.
  void Shutdown(std::chrono::milliseconds grace);

  size_t running() const;
  size_t queued() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fruix::daemon
