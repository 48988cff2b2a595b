// store::JobStore — the durable history of deployment jobs: one row per job (identity, target,
// state, failure, report) and the job's phase list. The daemon records every job here so that a
// restart (or a SIGKILL) loses nothing it committed; `job.get` / `job.list` read from it.
//
// The row types are plain values that know nothing of proto/ or the daemon: states, phases and
// statuses are the wire spellings ("running", "upload", "ok"), JSON is opaque text. Times are UTC
// wall-clock points; the store keeps them at millisecond precision (anything finer is truncated).
//
// Thread rules: a JobStore is safe to call from any thread; calls are serialised inside it. Each
// mutating call is one transaction: when it returns OK the change is committed (and, with the
// SQLite store's default options, on disk); when it returns an error nothing of it was applied.
//
// Implementations: SqliteJobStore (lib/store/sqlite_job_store.h; schema in docs/store.md).
// Issue 7 (validation runs) extends this store: add methods and tables, never change the meaning
// of an existing column.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"
#include "lib/core/wall_time.h"

namespace fruix::store {

using fruix::WallTime;

// Job states as stored and as the control protocol spells them.
inline constexpr std::string_view kStateQueued = "queued";
inline constexpr std::string_view kStateRunning = "running";
inline constexpr std::string_view kStateReady = "ready";
inline constexpr std::string_view kStateFailed = "failed";
inline constexpr std::string_view kStateCancelled = "cancelled";
inline constexpr std::string_view kStateInterrupted = "interrupted";

// The failure_code (and the running phases' status) MarkInterrupted writes.
inline constexpr std::string_view kInterruptedCode = "interrupted";

// True for the six states above.
bool IsKnownState(std::string_view state);
// True for ready, failed, cancelled, interrupted: the job will never change again.
bool IsTerminalState(std::string_view state);

// One deployment job. Empty strings mean "not known / not applicable".
struct JobRow {
  std::string job_id;  // unique, non-empty; the primary key
  std::string target;  // configured target name ("" for an explicit VM/VDI request)
  std::string pool;    // configured pool name (or URL)
  std::string vm_uuid;
  std::string vdi_uuid;
  std::string image;                              // display path or name of the image
  std::string image_digest;                       // e.g. "sha256:…"
  std::string state = std::string(kStateQueued);  // one of the kState* values
  std::string phase;                              // current (or last) phase name
  int64_t requested_by_uid = -1;                  // peer uid; -1 when unknown
  std::string requested_by_user;
  WallTime created_at{};  // when the request was accepted; orders ListJobs
  std::optional<WallTime> started_at;
  std::optional<WallTime> finished_at;
  std::string failure_phase;
  std::string failure_code;
  std::string failure_class;  // "guest" | "infrastructure" | ""
  std::string failure_message;
  std::string console_log;   // path of the console log file
  std::string options_json;  // the request's options, opaque JSON text
  std::string report_json;   // the latest job::JobReport JSON, opaque text
  // Set by the store on every write (the store's clock); ignored on input.
  WallTime updated_at{};

  bool operator==(const JobRow&) const = default;
};

// One entry of a job's phase list.
struct PhaseRow {
  std::string job_id;
  int64_t seq = 0;     // 0-based index in the job's phase list
  std::string phase;   // "preflight", "upload", ...
  std::string status;  // "running", "ok", "failed", "cancelled", "skipped", "interrupted"
  std::optional<WallTime> started_at;
  int64_t duration_ms = 0;
  std::string detail;

  bool operator==(const PhaseRow&) const = default;
};

inline constexpr size_t kDefaultListLimit = 100;
inline constexpr size_t kMaxListLimit = 10000;

// Which jobs ListJobs returns. All conditions combine with AND; an empty field matches any job.
struct JobFilter {
  std::set<std::string> states;      // any of these states
  std::string target;                // exact target name
  std::string vm_uuid;               // exact VM uuid
  std::optional<WallTime> since;     // created_at >= since
  std::optional<WallTime> until;     // created_at <  until
  size_t limit = kDefaultListLimit;  // 1..kMaxListLimit
  // Paging cursor: only jobs that come after this job in newest-first order (its created_at,
  // then job_id, both descending). Pass the last job_id of the previous page.
  std::string before;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Records a new job with its phase list empty.
  // kAlreadyExists naming the id if a job with that id exists; kInvalidArgument for an empty id
  // or an unknown state.
  [[nodiscard]] virtual Result<void> CreateJob(const JobRow& job) = 0;

  // Replaces every column of the job `job.job_id` (the whole row).
  // kNotFound naming the id if there is no such job; kInvalidArgument for an unknown state.
  [[nodiscard]] virtual Result<void> UpdateJob(const JobRow& job) = 0;

  // Inserts or replaces the phase (job_id, seq).
  // kNotFound naming the job if it does not exist; kInvalidArgument for a negative seq.
  [[nodiscard]] virtual Result<void> UpsertPhase(const PhaseRow& phase) = 0;

  // In one transaction: replaces the job row (as UpdateJob) and its whole phase list by `phases`
  // (phases not in the list are removed). Either all of it is committed or none.
  // REQUIRES: job.state is terminal; every phase's job_id is job.job_id or empty (empty ones are
  // taken as job.job_id); seqs are distinct. kInvalidArgument otherwise; kNotFound naming the id
  // if there is no such job.
  [[nodiscard]] virtual Result<void> FinishJob(const JobRow& job,
                                               const std::vector<PhaseRow>& phases) = 0;

  // The job `job_id`; kNotFound naming the id if there is none.
  [[nodiscard]] virtual Result<JobRow> GetJob(const std::string& job_id) = 0;

  // The jobs matching `filter`, newest first (created_at, then job_id, descending), at most
  // filter.limit of them. kInvalidArgument for a limit of 0 or above kMaxListLimit, an unknown
  // state, or a `before` cursor that names no job.
  [[nodiscard]] virtual Result<std::vector<JobRow>> ListJobs(const JobFilter& filter) = 0;

  // The job's phase list ordered by seq (empty if the job has none). kNotFound naming the job if
  // it does not exist.
  [[nodiscard]] virtual Result<std::vector<PhaseRow>> Phases(const std::string& job_id) = 0;

  // For daemon start: every job still queued or running (none can be, since no daemon runs them
  // any more) becomes "interrupted": failure_code "interrupted", failure_message `reason`,
  // failure_class "infrastructure", failure_phase its phase, finished_at `now`; its phases whose
  // status is "running" get status "interrupted". Returns those jobs as now stored (oldest
  // first) so the caller can release their VM leases. One transaction.
  [[nodiscard]] virtual Result<std::vector<JobRow>> MarkInterrupted(std::string_view reason,
                                                                    WallTime now) = 0;

  // The schema version of the open store (PRAGMA user_version for SQLite).
  [[nodiscard]] virtual Result<int> SchemaVersion() = 0;

  // A full consistency check of the underlying storage: OK, or kIo describing the first
  // problems found.
  [[nodiscard]] virtual Result<void> CheckIntegrity() = 0;
};

}  // namespace fruix::store
