// store::SqliteJobStore — the JobStore kept in one SQLite database file (WAL mode) in the daemon's
// state directory. It owns the database connection and the exclusive advisory lock on the sidecar
// file "<db>.lock" for its whole lifetime; destroying it closes both. Any thread; calls are
// serialised by an internal mutex (SQLite connection in multi-thread mode, never shared).
//
// Schema (version 1; full description and history in docs/store.md):
//
//   jobs(job_id TEXT PRIMARY KEY, target, pool, vm_uuid, vdi_uuid, image, image_digest, state,
//        phase, requested_by_uid INTEGER, requested_by_user, created_at INTEGER NOT NULL,
//        started_at INTEGER NULL, finished_at INTEGER NULL, failure_phase, failure_code,
//        failure_class, failure_message, console_log, options_json, report_json,
//        updated_at INTEGER NOT NULL)
//     index jobs_by_created(created_at, job_id)          ListJobs without filters, paging
//     index jobs_by_target(target, created_at, job_id)   ListJobs{target}
//     index jobs_by_vm(vm_uuid, created_at, job_id)      ListJobs{vm_uuid}
//     index jobs_by_state(state, created_at)             ListJobs{states}, MarkInterrupted
//   phases(job_id TEXT REFERENCES jobs ON DELETE CASCADE, seq INTEGER, phase, status,
//          started_at INTEGER NULL, duration_ms INTEGER, detail, PRIMARY KEY(job_id, seq))
//
//   Text columns are NOT NULL (empty = unknown). Times are INTEGER milliseconds since the Unix
//   epoch, UTC. PRAGMA application_id = 0x46525844 ("FRXD") marks a fruixd store; PRAGMA
//   user_version is the schema version. Forward migrations live in sqlite_job_store.cc
//   (kMigrations); a store newer than the code is refused, never downgraded.
//
// Durability: journal_mode=WAL, synchronous=FULL (unless OpenOptions::sync_commits is false), so a
// call that returned OK is on disk; a SIGKILL at any moment loses nothing committed.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/clock.h"
#include "lib/core/result.h"
#include "lib/store/job_store.h"

namespace fruix::store {

// The schema version this code creates and understands (PRAGMA user_version).
inline constexpr int kSchemaVersion = 1;
// PRAGMA application_id of a fruixd job store ("FRXD").
inline constexpr int32_t kApplicationId = 0x46525844;

struct OpenOptions {
  // How long a statement waits for a lock held by another connection (e.g. a `sqlite3` shell
  // reading the file) before failing with kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
  // true: synchronous=FULL, every commit is fsynced (survives power loss).
  // false: synchronous=NORMAL, commits survive process death but not power loss. Only for tests
  // and benchmarks that insert thousands of rows.
  bool sync_commits = true;
  // The clock that stamps updated_at; nullptr means RealClock(). Must outlive the store.
  const Clock* clock = nullptr;
};

class SqliteJobStore final : public JobStore {
 public:
  // Opens (creating if missing) the store at `db`:
  //  - creates the parent directory if missing and the file with mode 0640;
  //  - takes an exclusive flock on "<db>.lock" (created with mode 0640, never removed); if another
  //    process — or another SqliteJobStore in this one — holds it: kFailedPrecondition
  //    "another fruixd holds <db>". The lock fd is close-on-exec; a fork()ed child shares it.
  //  - refuses, without writing to it, a file that is not a SQLite database or is another
  //    application's database (kFailedPrecondition naming the path), and a store whose schema
  //    version is newer than kSchemaVersion (kFailedPrecondition naming both versions and the
  //    path);
  //  - applies forward migrations up to kSchemaVersion in one transaction.
  // kIo naming the path for file-system and SQLite errors.
  [[nodiscard]] static Result<std::unique_ptr<SqliteJobStore>> Open(
      const std::filesystem::path& db, const OpenOptions& options = {});

  ~SqliteJobStore() override;
  SqliteJobStore(const SqliteJobStore&) = delete;
  SqliteJobStore& operator=(const SqliteJobStore&) = delete;

  Result<void> CreateJob(const JobRow& job) override;
  Result<void> UpdateJob(const JobRow& job) override;
  Result<void> UpsertPhase(const PhaseRow& phase) override;
  Result<void> FinishJob(const JobRow& job, const std::vector<PhaseRow>& phases) override;
  Result<JobRow> GetJob(const std::string& job_id) override;
  Result<std::vector<JobRow>> ListJobs(const JobFilter& filter) override;
  Result<std::vector<PhaseRow>> Phases(const std::string& job_id) override;
  Result<std::vector<JobRow>> MarkInterrupted(std::string_view reason, WallTime now) override;
  Result<int> SchemaVersion() override;
  Result<void> CheckIntegrity() override;

  // The path the store was opened with.
  const std::filesystem::path& path() const;

  // Diagnostics: the "detail" lines of EXPLAIN QUERY PLAN for the query ListJobs(filter) runs
  // (e.g. "SEARCH jobs USING INDEX jobs_by_target (target=?)"). Same errors as ListJobs.
  [[nodiscard]] Result<std::vector<std::string>> ExplainListJobs(const JobFilter& filter);

  struct Impl;  // opaque: the connection, the lock fd, the statement cache (defined in the .cc)

 private:
  explicit SqliteJobStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// SqliteJobStore::Open behind the JobStore interface (what the daemon holds).
[[nodiscard]] Result<std::unique_ptr<JobStore>> OpenSqliteJobStore(const std::filesystem::path& db,
                                                                   const OpenOptions& options = {});

}  // namespace fruix::store
