// proto::messages — every request, response and notification body of the control protocol, as
// plain values with their JSON form. Defined once here; fruixd decodes requests and encodes
// results with them, fruixctl does the reverse (methods.h ties each method to its two types).
//
// Decoding requests is strict: unknown members, wrong types and values over the documented
// maxima (fields.h) are kInvalidArgument naming the member path. Decoding results and
// notifications ignores unknown members, so a newer daemon can add facts without breaking an
// older client. Times are RFC 3339 UTC strings; durations are integer milliseconds; absent facts
// are omitted, never null. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/result.h"
#include "lib/core/wall_time.h"

namespace fruix::proto {

using nlohmann::json;

// Job states as the protocol spells them: "queued", "running", "ready", "failed", "cancelled",
// "interrupted" (the daemon stopped while the job ran).
bool IsTerminalState(std::string_view state);
bool IsKnownState(std::string_view state);

// ---- daemon.version ----
struct VersionParams {};
struct VersionResult {
  std::string version;  // fruixd's version
  int protocol = 1;     // kProtocolVersion
  std::string report_schema;
};

// ---- daemon.health ----
struct HealthParams {};
struct PoolHealth {
  std::string name;
  std::string state;  // "connected" | "idle" (no session yet) | "error"
  std::string error;  // last login error, when state is "error"
};
struct HealthResult {
  std::string status;  // "ok" | "degraded" (a pool in error, store unusable) | "stopping"
  uint64_t uptime_ms = 0;
  uint64_t jobs_running = 0;
  uint64_t jobs_queued = 0;
  uint64_t max_concurrent_jobs = 0;
  std::string store;  // "ok" or the store's error
  std::vector<PoolHealth> pools;
};

// ---- targets.list ----
struct TargetsListParams {};
struct TargetInfo {
  std::string name;
  std::string pool;
  std::string vm_uuid;
  std::string vdi_uuid;
  std::string network_uuid;
  std::string mac;
  std::string console;     // console kind
  bool ssh = false;        // has an SSH readiness check
  std::string active_job;  // the job that holds the VM now ("" = none)
};
struct TargetsListResult {
  std::vector<TargetInfo> targets;
};

// ---- deploy.start ----
// An untargeted deploy names the VM, VDI and network itself (and a configured pool).
struct ExplicitTarget {
  std::string pool;
  std::string vm_uuid;
  std::string vdi_uuid;
  std::string network_uuid;
  std::string mac;
};
struct ImageRef {
  // Passed as a file descriptor with the request (SCM_RIGHTS): the daemon uses that descriptor
  // and never opens `path`, which is then for display only.
  bool passed_fd = false;
  // Without a descriptor the daemon opens `path` only for a peer with the daemon's own uid (or
  // root); anyone else must pass the descriptor. Must be absolute.
  std::string path;
};
struct DeployOptions {
  std::optional<std::string> format;     // "vhd" | "raw" | "raw-chunked"
  std::optional<std::string> zero_fill;  // "previous" | "full" | "none"
  std::optional<bool> force;             // upload even if identical content is recorded
  std::optional<std::string> after_run;  // "leave-running" | "shutdown" | "shutdown-on-success"
  std::optional<std::string> expected_marker;  // marker content to require (a build id)
  std::optional<std::string> marker_path;
  std::optional<bool> ssh;                      // false skips the SSH readiness check
  std::map<std::string, uint64_t> timeouts_ms;  // phase name → timeout
  bool queue = false;  // queue behind a running job on the same VM instead of being refused
};
struct DeployStartParams {
  std::string target;  // a configured target, or "" with `explicit_target`
  std::optional<ExplicitTarget> explicit_target;
  ImageRef image;
  DeployOptions options;
};
struct DeployStartResult {
  std::string job_id;
  std::string state;            // "queued" | "running"
  uint64_t queue_position = 0;  // 1-based when queued, 0 when running
};

// ---- shared job facts ----
struct PhaseInfo {
  std::string phase;
  std::string status;  // "running" | "ok" | "failed" | "cancelled" | "skipped"
  std::optional<WallTime> started_at;
  uint64_t duration_ms = 0;
  std::string detail;
};
struct FailureInfo {
  std::string phase;
  std::string code;           // "xapi:VDI_IO_ERROR", "console:panic", "ssh:marker-missing", ...
  std::string failure_class;  // "guest" | "infrastructure"
  std::string message;
  std::vector<std::string> console_excerpt;
};
struct UploadProgressInfo {
  uint64_t bytes_sent = 0;
  uint64_t bytes_total = 0;
  double task_progress = 0;      // xapi task progress, 0..1
  std::string retrying_because;  // non-empty while a failed attempt is being retried
};
struct JobInfo {
  std::string job_id;
  std::string target;
  std::string pool;
  std::string vm_uuid;
  std::string vdi_uuid;
  std::string image;
  std::string state;
  std::string phase;    // the current phase, or the last one
  std::string waiting;  // what a running job waits for
  int64_t requested_by_uid = -1;
  std::string requested_by_user;
  std::optional<WallTime> created_at;
  std::optional<WallTime> started_at;
  std::optional<WallTime> finished_at;
  uint64_t duration_ms = 0;
  std::string ip;
  std::string console_log;
  std::optional<FailureInfo> failure;
  std::vector<PhaseInfo> phases;
  std::optional<UploadProgressInfo> upload;  // while uploading
  json report;  // the job report ("fruix.job-report/1"), null when not asked for
};

// ---- job.get ----
struct JobGetParams {
  std::string job_id;
  bool report = true;  // include the full report
};
struct JobGetResult {
  JobInfo job;
};

// ---- job.list ----
struct JobListParams {
  std::vector<std::string> states;  // any of these ([] = all)
  std::string target;
  std::optional<WallTime> since;  // created at or after
  uint64_t limit = 50;            // 1..1000
  std::string before;             // paging cursor: jobs older than this job id
};
struct JobListResult {
  std::vector<JobInfo> jobs;  // newest first, without phases and report
  bool more = false;          // older jobs match too (page with before = last job id)
};

// ---- job.cancel ----
struct JobCancelParams {
  std::string job_id;
};
struct JobCancelResult {
  std::string job_id;
  std::string state;  // the state after the request ("cancelled" when queued, else unchanged
                      // until the runner stops: watch for the end event)
};

// ---- job.watch ----  (then "job.event" notifications until the job ends)
struct JobWatchParams {
  std::string job_id;
  bool console = false;        // send console lines
  uint64_t console_since = 0;  // send kept lines with seq > console_since (0 = all kept)
};
struct JobWatchResult {
  JobInfo job;            // without report
  bool watching = false;  // false when the job had already ended (no events follow)
};

struct ConsoleLineInfo {
  uint64_t seq = 0;
  std::string text;
  bool partial = false;  // a prompt or an unterminated line seen after silence
};
struct MilestoneInfo {
  std::string name;
  std::string line;
  uint64_t at_ms = 0;  // since the job started
};
// Notification "job.event". `kind` says which member is set:
//   "phase" → phase, "progress" → progress, "console" → console, "milestone" → milestone,
//   "waiting" → waiting, "end" → end (the final job, without report; the last event).
struct JobEvent {
  std::string job_id;
  std::string kind;
  std::optional<PhaseInfo> phase;
  std::optional<UploadProgressInfo> progress;
  std::optional<ConsoleLineInfo> console;
  std::optional<MilestoneInfo> milestone;
  std::string waiting;
  std::optional<JobInfo> end;
};

// ---- job.log ----
struct JobLogParams {
  std::string job_id;
  std::optional<uint64_t> offset;      // read from this byte offset
  std::optional<uint64_t> tail_lines;  // or: start at the last N lines
  uint64_t max_bytes = 65536;          // ≤ kMaxLogChunk
};
struct JobLogResult {
  std::string job_id;
  std::string path;
  uint64_t offset = 0;       // where `data` starts
  uint64_t next_offset = 0;  // pass as offset to continue
  uint64_t size = 0;         // the log's size now
  std::string data;          // raw console bytes (invalid UTF-8 replaced by U+FFFD)
  bool complete = false;     // the job has ended and next_offset == size
};

// JSON form of each type, and its decoder (path = the member path used in error messages).
#define FRUIX_PROTO_MESSAGE(T) \
  json ToJson(const T& value); \
  Result<T> FromJson(const json& j, const std::string& path, const T* /*tag*/);
FRUIX_PROTO_MESSAGE(VersionParams)
FRUIX_PROTO_MESSAGE(VersionResult)
FRUIX_PROTO_MESSAGE(HealthParams)
FRUIX_PROTO_MESSAGE(PoolHealth)
FRUIX_PROTO_MESSAGE(HealthResult)
FRUIX_PROTO_MESSAGE(TargetsListParams)
FRUIX_PROTO_MESSAGE(TargetInfo)
FRUIX_PROTO_MESSAGE(TargetsListResult)
FRUIX_PROTO_MESSAGE(ExplicitTarget)
FRUIX_PROTO_MESSAGE(ImageRef)
FRUIX_PROTO_MESSAGE(DeployOptions)
FRUIX_PROTO_MESSAGE(DeployStartParams)
FRUIX_PROTO_MESSAGE(DeployStartResult)
FRUIX_PROTO_MESSAGE(PhaseInfo)
FRUIX_PROTO_MESSAGE(FailureInfo)
FRUIX_PROTO_MESSAGE(UploadProgressInfo)
FRUIX_PROTO_MESSAGE(JobInfo)
FRUIX_PROTO_MESSAGE(JobGetParams)
FRUIX_PROTO_MESSAGE(JobGetResult)
FRUIX_PROTO_MESSAGE(JobListParams)
FRUIX_PROTO_MESSAGE(JobListResult)
FRUIX_PROTO_MESSAGE(JobCancelParams)
FRUIX_PROTO_MESSAGE(JobCancelResult)
FRUIX_PROTO_MESSAGE(JobWatchParams)
FRUIX_PROTO_MESSAGE(JobWatchResult)
FRUIX_PROTO_MESSAGE(ConsoleLineInfo)
FRUIX_PROTO_MESSAGE(MilestoneInfo)
FRUIX_PROTO_MESSAGE(JobEvent)
FRUIX_PROTO_MESSAGE(JobLogParams)
FRUIX_PROTO_MESSAGE(JobLogResult)
#undef FRUIX_PROTO_MESSAGE

// Decodes any message type: Decode<JobGetParams>(params, "params").
template <typename T>
Result<T> Decode(const json& j, const std::string& path) {
  return FromJson(j, path, static_cast<const T*>(nullptr));
}

}  // namespace fruix::proto
