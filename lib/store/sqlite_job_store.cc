// The only file that includes <sqlite3.h>. Layout and schema: sqlite_job_store.h, docs/store.md.
#include "lib/store/sqlite_job_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <variant>

namespace fruix::store {

bool IsKnownState(std::string_view state) {
  return state == kStateQueued || state == kStateRunning || IsTerminalState(state);
}

bool IsTerminalState(std::string_view state) {
  return state == kStateReady || state == kStateFailed || state == kStateCancelled ||
         state == kStateInterrupted;
}

namespace {

// ---- Schema migrations ------------------------------------------------------------------------
// Migration N brings a store from version N-1 to N. Append new ones; never edit a released one.
// Each runs inside the one migration transaction; Open() sets user_version afterwards.
struct Migration {
  int version;
  const char* sql;
};

constexpr const char kMigrationV1[] = R"sql(
PRAGMA application_id = 1179801668;
CREATE TABLE jobs (
  job_id            TEXT    NOT NULL PRIMARY KEY,
  target            TEXT    NOT NULL DEFAULT '',
  pool              TEXT    NOT NULL DEFAULT '',
  vm_uuid           TEXT    NOT NULL DEFAULT '',
  vdi_uuid          TEXT    NOT NULL DEFAULT '',
  image             TEXT    NOT NULL DEFAULT '',
  image_digest      TEXT    NOT NULL DEFAULT '',
  state             TEXT    NOT NULL,
  phase             TEXT    NOT NULL DEFAULT '',
  requested_by_uid  INTEGER NOT NULL DEFAULT -1,
  requested_by_user TEXT    NOT NULL DEFAULT '',
  created_at        INTEGER NOT NULL,
  started_at        INTEGER,
  finished_at       INTEGER,
  failure_phase     TEXT    NOT NULL DEFAULT '',
  failure_code      TEXT    NOT NULL DEFAULT '',
  failure_class     TEXT    NOT NULL DEFAULT '',
  failure_message   TEXT    NOT NULL DEFAULT '',
  console_log       TEXT    NOT NULL DEFAULT '',
  options_json      TEXT    NOT NULL DEFAULT '',
  report_json       TEXT    NOT NULL DEFAULT '',
  updated_at        INTEGER NOT NULL
);
CREATE INDEX jobs_by_created ON jobs (created_at, job_id);
CREATE INDEX jobs_by_target ON jobs (target, created_at, job_id);
CREATE INDEX jobs_by_vm ON jobs (vm_uuid, created_at, job_id);
CREATE INDEX jobs_by_state ON jobs (state, created_at);
CREATE TABLE phases (
  job_id      TEXT    NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
  seq         INTEGER NOT NULL CHECK (seq >= 0),
  phase       TEXT    NOT NULL DEFAULT '',
  status      TEXT    NOT NULL DEFAULT '',
  started_at  INTEGER,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  detail      TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
)sql";

constexpr Migration kMigrations[] = {
    {1, kMigrationV1},
};
static_assert(static_cast<int>(std::size(kMigrations)) == kSchemaVersion,
              "one migration per schema version");
static_assert(kApplicationId == 1179801668, "kMigrationV1 spells kApplicationId in decimal");

// The jobs columns in the order BindJob binds (?1..?22) and ReadJob reads them.
constexpr const char kJobColumns[] =
    "job_id, target, pool, vm_uuid, vdi_uuid, image, image_digest, state, phase, "
    "requested_by_uid, requested_by_user, created_at, started_at, finished_at, failure_phase, "
    "failure_code, failure_class, failure_message, console_log, options_json, report_json, "
    "updated_at";
constexpr const char kPhaseColumns[] =
    "job_id, seq, phase, status, started_at, duration_ms, detail";

constexpr unsigned char kSqliteMagic[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                                            'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};

std::string ErrnoText(int err) { return std::strerror(err); }

// A prepared statement, finalized on destruction.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* s) : s_(s) {}
  ~Statement() { sqlite3_finalize(s_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

using Param = std::variant<std::monostate, int64_t, std::string>;

}  // namespace

struct SqliteJobStore::Impl {
  std::filesystem::path path;
  OpenOptions options;
  const Clock* clock = nullptr;
  int lock_fd = -1;
  sqlite3* db = nullptr;
  std::mutex mu;  // guards db and cache
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache;

  ~Impl() {
    cache.clear();
    if (db != nullptr) sqlite3_close(db);
    if (lock_fd >= 0) close(lock_fd);  // releases the flock
  }

  // An error from SQLite result code `rc` while doing `what`.
  Error SqlError(std::string_view what, int rc) const {
    std::string msg = std::string(what) + " in job store " + path.string() + ": ";
    msg += db != nullptr && sqlite3_extended_errcode(db) == rc ? sqlite3_errmsg(db)
                                                               : sqlite3_errstr(rc);
    switch (rc & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return Error::Unavailable(std::move(msg));
      case SQLITE_CONSTRAINT:
      case SQLITE_MISUSE:
      case SQLITE_RANGE:
        return Error::Internal(std::move(msg));
      default:
        return Error::Io(std::move(msg));
    }
  }

  // The cached prepared statement for `sql`. REQUIRES: mu held.
  Result<sqlite3_stmt*> Prepare(const std::string& sql) {
    auto it = cache.find(sql);
    if (it != cache.end()) return it->second->get();
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size() + 1),
                                SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(s);
      return SqlError("preparing a statement", rc);
    }
    cache.emplace(sql, std::make_unique<Statement>(s));
    return s;
  }

  // Runs SQL without parameters and results (pragmas, migrations). REQUIRES: mu held or Open().
  Result<void> Exec(const char* sql, std::string_view what) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = std::string(what) + " in job store " + path.string() + ": " +
                        (err != nullptr ? err : sqlite3_errstr(rc));
      sqlite3_free(err);
      Error e = SqlError(what, rc);
      return Error(e.code(), std::move(msg));
    }
    return Ok();
  }

  int64_t NowMillis() const { return ToUnixMillis(clock->WallNow()); }
};

namespace {

// One use of a prepared statement: binds, steps, reads; resets it on destruction so the cached
// statement is ready for the next use.
class Query {
 public:
  Query(SqliteJobStore::Impl& impl, sqlite3_stmt* s) : impl_(impl), s_(s) {}
  ~Query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  void Bind(int i, const std::string& v) { Bind(i, std::string_view(v)); }
  void Bind(int i, std::string_view v) {
    Check(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void Bind(int i, int64_t v) { Check(sqlite3_bind_int64(s_, i, v)); }
  void Bind(int i, WallTime t) { Bind(i, ToUnixMillis(t)); }
  void Bind(int i, const std::optional<WallTime>& t) {
    if (t) {
      Bind(i, *t);
    } else {
      Check(sqlite3_bind_null(s_, i));
    }
  }
  void Bind(int i, const Param& p) {
    if (const auto* n = std::get_if<int64_t>(&p)) {
      Bind(i, *n);
    } else if (const auto* str = std::get_if<std::string>(&p)) {
      Bind(i, std::string_view(*str));
    } else {
      Check(sqlite3_bind_null(s_, i));
    }
  }

  // true: a row is available; false: the statement is done. `what` names the operation for
  // errors. last_rc() is the raw SQLite code after an error.
  Result<bool> Step(std::string_view what) {
    if (bind_rc_ != SQLITE_OK) return impl_.SqlError(what, bind_rc_);
    last_rc_ = sqlite3_step(s_);
    if (last_rc_ == SQLITE_ROW) return true;
    if (last_rc_ == SQLITE_DONE) return false;
    last_rc_ = sqlite3_extended_errcode(impl_.db);
    return impl_.SqlError(what, last_rc_);
  }
  // Steps a statement that returns no rows.
  Result<void> Run(std::string_view what) {
    FRUIX_ASSIGN_OR_RETURN(bool row, Step(what));
    (void)row;
    return Ok();
  }
  int last_rc() const { return last_rc_; }

  std::string Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    if (p == nullptr) return {};
    return std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col)));
  }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  WallTime Time(int col) const { return FromUnixMillis(Int(col)); }
  std::optional<WallTime> OptTime(int col) const {
    if (sqlite3_column_type(s_, col) == SQLITE_NULL) return std::nullopt;
    return Time(col);
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  SqliteJobStore::Impl& impl_;
  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
  int last_rc_ = SQLITE_OK;
};

// An IMMEDIATE (write) transaction, rolled back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(SqliteJobStore::Impl& impl) : impl_(impl) {}
  ~Transaction() {
    if (open_) sqlite3_exec(impl_.db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Result<void> Begin() {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s, impl_.Prepare("BEGIN IMMEDIATE"));
    Query q(impl_, s);
    FRUIX_RETURN_IF_ERROR(q.Run("starting a transaction"));
    open_ = true;
    return Ok();
  }
  Result<void> Commit() {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s, impl_.Prepare("COMMIT"));
    Query q(impl_, s);
    FRUIX_RETURN_IF_ERROR(q.Run("committing"));
    open_ = false;
    return Ok();
  }

 private:
  SqliteJobStore::Impl& impl_;
  bool open_ = false;
};

// Binds the 22 jobs columns as ?1..?22 in kJobColumns order.
void BindJob(Query& q, const JobRow& j, int64_t updated_at_ms) {
  q.Bind(1, j.job_id);
  q.Bind(2, j.target);
  q.Bind(3, j.pool);
  q.Bind(4, j.vm_uuid);
  q.Bind(5, j.vdi_uuid);
  q.Bind(6, j.image);
  q.Bind(7, j.image_digest);
  q.Bind(8, j.state);
  q.Bind(9, j.phase);
  q.Bind(10, j.requested_by_uid);
  q.Bind(11, j.requested_by_user);
  q.Bind(12, j.created_at);
  q.Bind(13, j.started_at);
  q.Bind(14, j.finished_at);
  q.Bind(15, j.failure_phase);
  q.Bind(16, j.failure_code);
  q.Bind(17, j.failure_class);
  q.Bind(18, j.failure_message);
  q.Bind(19, j.console_log);
  q.Bind(20, j.options_json);
  q.Bind(21, j.report_json);
  q.Bind(22, updated_at_ms);
}

JobRow ReadJob(const Query& q) {
  JobRow j;
  j.job_id = q.Text(0);
  j.target = q.Text(1);
  j.pool = q.Text(2);
  j.vm_uuid = q.Text(3);
  j.vdi_uuid = q.Text(4);
  j.image = q.Text(5);
  j.image_digest = q.Text(6);
  j.state = q.Text(7);
  j.phase = q.Text(8);
  j.requested_by_uid = q.Int(9);
  j.requested_by_user = q.Text(10);
  j.created_at = q.Time(11);
  j.started_at = q.OptTime(12);
  j.finished_at = q.OptTime(13);
  j.failure_phase = q.Text(14);
  j.failure_code = q.Text(15);
  j.failure_class = q.Text(16);
  j.failure_message = q.Text(17);
  j.console_log = q.Text(18);
  j.options_json = q.Text(19);
  j.report_json = q.Text(20);
  j.updated_at = q.Time(21);
  return j;
}

PhaseRow ReadPhase(const Query& q) {
  PhaseRow p;
  p.job_id = q.Text(0);
  p.seq = q.Int(1);
  p.phase = q.Text(2);
  p.status = q.Text(3);
  p.started_at = q.OptTime(4);
  p.duration_ms = q.Int(5);
  p.detail = q.Text(6);
  return p;
}

Result<void> ValidateJob(const JobRow& j) {
  if (j.job_id.empty()) return Error::InvalidArgument("a job needs a non-empty job_id");
  if (!IsKnownState(j.state)) {
    return Error::InvalidArgument("job " + j.job_id + ": unknown state \"" + j.state + "\"");
  }
  return Ok();
}

Error JobNotFound(const std::string& id) { return Error::NotFound("no job " + id + " in history"); }

// The SQL and parameters of ListJobs(filter) (the cursor already resolved to its created_at).
struct ListQuery {
  std::string sql;
  std::vector<Param> params;
};

ListQuery BuildListQuery(const JobFilter& f, std::optional<int64_t> cursor_created_at) {
  ListQuery q;
  q.sql = std::string("SELECT ") + kJobColumns + " FROM jobs";
  std::vector<std::string> where;
  if (!f.states.empty()) {
    std::string in = "state IN (";
    bool first = true;
    for (const auto& s : f.states) {
      in += first ? "?" : ", ?";
      first = false;
      q.params.emplace_back(s);
    }
    where.push_back(in + ")");
  }
  if (!f.target.empty()) {
    where.emplace_back("target = ?");
    q.params.emplace_back(f.target);
  }
  if (!f.vm_uuid.empty()) {
    where.emplace_back("vm_uuid = ?");
    q.params.emplace_back(f.vm_uuid);
  }
  if (f.since) {
    where.emplace_back("created_at >= ?");
    q.params.emplace_back(ToUnixMillis(*f.since));
  }
  if (f.until) {
    where.emplace_back("created_at < ?");
    q.params.emplace_back(ToUnixMillis(*f.until));
  }
  if (cursor_created_at) {
    where.emplace_back("(created_at, job_id) < (?, ?)");
    q.params.emplace_back(*cursor_created_at);
    q.params.emplace_back(f.before);
  }
  for (size_t i = 0; i < where.size(); ++i) q.sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  q.sql += " ORDER BY created_at DESC, job_id DESC LIMIT ?";
  q.params.emplace_back(static_cast<int64_t>(f.limit));
  return q;
}

// Validates `f` and resolves its cursor. REQUIRES: impl.mu held.
Result<ListQuery> PrepareList(SqliteJobStore::Impl& impl, const JobFilter& f) {
  if (f.limit == 0 || f.limit > kMaxListLimit) {
    return Error::InvalidArgument("job list limit " + std::to_string(f.limit) + " is outside 1.." +
                                  std::to_string(kMaxListLimit));
  }
  for (const auto& s : f.states) {
    if (!IsKnownState(s)) return Error::InvalidArgument("unknown job state \"" + s + "\"");
  }
  std::optional<int64_t> cursor;
  if (!f.before.empty()) {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                           impl.Prepare("SELECT created_at FROM jobs WHERE job_id = ?1"));
    Query q(impl, s);
    q.Bind(1, f.before);
    FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("resolving the paging cursor"));
    if (!row) {
      return Error::InvalidArgument("paging cursor names no job: " + f.before);
    }
    cursor = q.Int(0);
  }
  return BuildListQuery(f, cursor);
}

// Creates `db` with mode 0640 if it does not exist; refuses an existing file that is not a
// SQLite database (without writing to it).
Result<void> CreateOrCheckFile(const std::filesystem::path& db) {
  const std::string p = db.string();
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return Error::Io("creating job store " + p + ": " + ErrnoText(errno));
    const int rc = ::fchmod(fd, 0640);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return Error::Io("setting the mode of job store " + p + ": " + ErrnoText(err));
    return Ok();
  }
  if (fd < 0) return Error::Io("opening job store " + p + ": " + ErrnoText(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Error::Io("inspecting job store " + p + ": " + ErrnoText(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error::FailedPrecondition("job store " + p + " is not a regular file");
  }
  if (st.st_size == 0) {  // an empty file is an empty database (SQLite's view too)
    ::close(fd);
    return Ok();
  }
  std::array<unsigned char, sizeof kSqliteMagic> head{};
  const ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  const int err = errno;
  ::close(fd);
  if (n < 0) return Error::Io("reading job store " + p + ": " + ErrnoText(err));
  if (static_cast<size_t>(n) != head.size() ||
      std::memcmp(head.data(), kSqliteMagic, head.size()) != 0) {
    return Error::FailedPrecondition("job store " + p +
                                     " is not a SQLite database; refusing to use it (move it "
                                     "away or point the state directory elsewhere)");
  }
  return Ok();
}

// Takes the exclusive advisory lock on "<db>.lock"; returns its fd.
Result<int> LockStore(const std::filesystem::path& db) {
  const std::string lock_path = db.string() + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) return Error::Io("opening lock file " + lock_path + ": " + ErrnoText(errno));
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Error::FailedPrecondition("another fruixd holds " + db.string() + " (lock file " +
                                       lock_path + ")");
    }
    return Error::Io("locking " + lock_path + ": " + ErrnoText(err));
  }
  return fd;
}

// Reads a one-integer pragma. REQUIRES: Open() in progress.
Result<int64_t> PragmaInt(SqliteJobStore::Impl& impl, const std::string& pragma) {
  FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s, impl.Prepare("PRAGMA " + pragma));
  Query q(impl, s);
  FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("reading PRAGMA " + pragma));
  if (!row) return Error::Internal("PRAGMA " + pragma + " returned no row");
  return q.Int(0);
}

std::string Hex(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%08llx", static_cast<unsigned long long>(v) & 0xffffffffULL);
  return buf;
}

}  // namespace

// ---- Open ---------------------------------------------------------------------------------------

Result<std::unique_ptr<SqliteJobStore>> SqliteJobStore::Open(const std::filesystem::path& db,
                                                             const OpenOptions& options) {
  if (db.empty()) return Error::InvalidArgument("job store path is empty");
  if (sqlite3_threadsafe() == 0) {
    return Error::Internal("the SQLite library was built without thread support");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = db;
  impl->options = options;
  impl->clock = options.clock != nullptr ? options.clock : &RealClock();

  if (db.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(db.parent_path(), ec);
    if (ec) {
      return Error::Io("creating the job store directory " + db.parent_path().string() + ": " +
                       ec.message());
    }
  }
  FRUIX_ASSIGN_OR_RETURN(impl->lock_fd, LockStore(db));
  FRUIX_RETURN_IF_ERROR(CreateOrCheckFile(db));

  const std::string p = db.string();
  int rc =
      sqlite3_open_v2(p.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = impl->SqlError("opening", rc);
    return e;
  }
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, static_cast<int>(options.busy_timeout.count()));

  // Identify the file before changing anything in it.
  auto app_id = PragmaInt(*impl, "application_id");
  if (!app_id.ok()) {
    if ((sqlite3_extended_errcode(impl->db) & 0xff) == SQLITE_NOTADB) {
      return Error::FailedPrecondition("job store " + p + " is not a SQLite database");
    }
    return std::move(app_id).error();
  }
  FRUIX_ASSIGN_OR_RETURN(int64_t version, PragmaInt(*impl, "user_version"));
  if (*app_id != kApplicationId) {
    bool foreign = *app_id != 0 || version != 0;
    if (!foreign) {
      FRUIX_ASSIGN_OR_RETURN(int64_t objects, PragmaInt(*impl, "schema_version"));
      foreign = objects != 0;  // a schema exists, but not one this code created
    }
    if (foreign) {
      return Error::FailedPrecondition("job store " + p +
                                       " is a SQLite database of another application "
                                       "(application_id " +
                                       Hex(*app_id) + ", expected " + Hex(kApplicationId) + ")");
    }
  }
  if (version > kSchemaVersion) {
    return Error::FailedPrecondition(
        "job store " + p + " has schema version " + std::to_string(version) +
        ", newer than version " + std::to_string(kSchemaVersion) +
        " that this fruixd understands; use a newer fruixd or another state directory");
  }

  // journal_mode answers with the mode in effect; anything but "wal" means no WAL (e.g. a file
  // system without shared memory support).
  {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s, impl->Prepare("PRAGMA journal_mode = WAL"));
    Query q(*impl, s);
    FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("enabling WAL"));
    if (!row || q.Text(0) != "wal") {
      return Error::Io("job store " + p + " cannot use write-ahead logging (journal_mode is " +
                       (row ? q.Text(0) : std::string("unknown")) + ")");
    }
  }
  FRUIX_RETURN_IF_ERROR(
      impl->Exec(options.sync_commits ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                 "setting synchronous"));
  FRUIX_RETURN_IF_ERROR(impl->Exec("PRAGMA foreign_keys = ON", "enabling foreign keys"));

  if (version < kSchemaVersion) {
    Transaction tx(*impl);
    FRUIX_RETURN_IF_ERROR(tx.Begin());
    for (const Migration& m : kMigrations) {
      if (m.version <= version) continue;
      FRUIX_RETURN_IF_ERROR(
          impl->Exec(m.sql, "migrating to schema version " + std::to_string(m.version)));
    }
    // PRAGMA takes no bound parameters; the value is this code's own constant.
    const std::string set_version = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
    FRUIX_RETURN_IF_ERROR(impl->Exec(set_version.c_str(), "setting the schema version"));
    FRUIX_RETURN_IF_ERROR(tx.Commit());
  }
  return std::unique_ptr<SqliteJobStore>(new SqliteJobStore(std::move(impl)));
}

Result<std::unique_ptr<JobStore>> OpenSqliteJobStore(const std::filesystem::path& db,
                                                     const OpenOptions& options) {
  FRUIX_ASSIGN_OR_RETURN(auto store, SqliteJobStore::Open(db, options));
  return std::unique_ptr<JobStore>(std::move(store));
}

SqliteJobStore::SqliteJobStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteJobStore::~SqliteJobStore() = default;

const std::filesystem::path& SqliteJobStore::path() const { return impl_->path; }

// ---- Jobs ---------------------------------------------------------------------------------------

Result<void> SqliteJobStore::CreateJob(const JobRow& job) {
  FRUIX_RETURN_IF_ERROR(ValidateJob(job));
  std::lock_guard lock(impl_->mu);
  FRUIX_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      impl_->Prepare(std::string("INSERT INTO jobs (") + kJobColumns +
                     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                     "?16, ?17, ?18, ?19, ?20, ?21, ?22)"));
  Query q(*impl_, s);
  BindJob(q, job, impl_->NowMillis());
  auto r = q.Run("recording job " + job.job_id);
  if (!r.ok() && q.last_rc() == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Error::AlreadyExists("job " + job.job_id + " already exists in history");
  }
  return r;
}

namespace {

// UPDATE of the whole row; kNotFound if missing. REQUIRES: impl.mu held.
Result<void> UpdateJobLocked(SqliteJobStore::Impl& impl, const JobRow& job) {
  FRUIX_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      impl.Prepare("UPDATE jobs SET target = ?2, pool = ?3, vm_uuid = ?4, vdi_uuid = ?5, "
                   "image = ?6, image_digest = ?7, state = ?8, phase = ?9, requested_by_uid = ?10, "
                   "requested_by_user = ?11, created_at = ?12, started_at = ?13, "
                   "finished_at = ?14, failure_phase = ?15, failure_code = ?16, "
                   "failure_class = ?17, failure_message = ?18, console_log = ?19, "
                   "options_json = ?20, report_json = ?21, updated_at = ?22 WHERE job_id = ?1"));
  Query q(impl, s);
  BindJob(q, job, impl.NowMillis());
  FRUIX_RETURN_IF_ERROR(q.Run("updating job " + job.job_id));
  if (sqlite3_changes(impl.db) == 0) return JobNotFound(job.job_id);
  return Ok();
}

// INSERT or replace of one phase. REQUIRES: impl.mu held, the job exists.
Result<void> UpsertPhaseLocked(SqliteJobStore::Impl& impl, const PhaseRow& p) {
  FRUIX_ASSIGN_OR_RETURN(
      sqlite3_stmt * s,
      impl.Prepare(std::string("INSERT INTO phases (") + kPhaseColumns +
                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (job_id, seq) DO UPDATE SET "
                   "phase = excluded.phase, status = excluded.status, "
                   "started_at = excluded.started_at, duration_ms = excluded.duration_ms, "
                   "detail = excluded.detail"));
  Query q(impl, s);
  q.Bind(1, p.job_id);
  q.Bind(2, p.seq);
  q.Bind(3, p.phase);
  q.Bind(4, p.status);
  q.Bind(5, p.started_at);
  q.Bind(6, p.duration_ms);
  q.Bind(7, p.detail);
  auto r = q.Run("recording phase " + std::to_string(p.seq) + " of job " + p.job_id);
  if (!r.ok() && q.last_rc() == SQLITE_CONSTRAINT_FOREIGNKEY) return JobNotFound(p.job_id);
  return r;
}

Result<JobRow> GetJobLocked(SqliteJobStore::Impl& impl, const std::string& job_id) {
  FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s, impl.Prepare(std::string("SELECT ") + kJobColumns +
                                                        " FROM jobs WHERE job_id = ?1"));
  Query q(impl, s);
  q.Bind(1, job_id);
  FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("reading job " + job_id));
  if (!row) return JobNotFound(job_id);
  return ReadJob(q);
}

}  // namespace

Result<void> SqliteJobStore::UpdateJob(const JobRow& job) {
  FRUIX_RETURN_IF_ERROR(ValidateJob(job));
  std::lock_guard lock(impl_->mu);
  return UpdateJobLocked(*impl_, job);
}

Result<void> SqliteJobStore::UpsertPhase(const PhaseRow& phase) {
  if (phase.seq < 0) {
    return Error::InvalidArgument("phase seq " + std::to_string(phase.seq) + " of job " +
                                  phase.job_id + " is negative");
  }
  std::lock_guard lock(impl_->mu);
  Transaction tx(*impl_);
  FRUIX_RETURN_IF_ERROR(tx.Begin());
  {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                           impl_->Prepare("UPDATE jobs SET updated_at = ?2 WHERE job_id = ?1"));
    Query q(*impl_, s);
    q.Bind(1, phase.job_id);
    q.Bind(2, impl_->NowMillis());
    FRUIX_RETURN_IF_ERROR(q.Run("touching job " + phase.job_id));
    if (sqlite3_changes(impl_->db) == 0) return JobNotFound(phase.job_id);
  }
  FRUIX_RETURN_IF_ERROR(UpsertPhaseLocked(*impl_, phase));
  return tx.Commit();
}

Result<void> SqliteJobStore::FinishJob(const JobRow& job, const std::vector<PhaseRow>& phases) {
  FRUIX_RETURN_IF_ERROR(ValidateJob(job));
  if (!IsTerminalState(job.state)) {
    return Error::InvalidArgument("finishing job " + job.job_id + " in non-terminal state \"" +
                                  job.state + "\"");
  }
  std::set<int64_t> seqs;
  for (const auto& p : phases) {
    if (!p.job_id.empty() && p.job_id != job.job_id) {
      return Error::InvalidArgument("finishing job " + job.job_id + " with a phase of job " +
                                    p.job_id);
    }
    if (p.seq < 0 || !seqs.insert(p.seq).second) {
      return Error::InvalidArgument("finishing job " + job.job_id + ": phase seq " +
                                    std::to_string(p.seq) + " is negative or repeated");
    }
  }
  std::lock_guard lock(impl_->mu);
  Transaction tx(*impl_);
  FRUIX_RETURN_IF_ERROR(tx.Begin());
  FRUIX_RETURN_IF_ERROR(UpdateJobLocked(*impl_, job));
  {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                           impl_->Prepare("DELETE FROM phases WHERE job_id = ?1"));
    Query q(*impl_, s);
    q.Bind(1, job.job_id);
    FRUIX_RETURN_IF_ERROR(q.Run("replacing the phases of job " + job.job_id));
  }
  for (PhaseRow p : phases) {
    p.job_id = job.job_id;
    FRUIX_RETURN_IF_ERROR(UpsertPhaseLocked(*impl_, p));
  }
  return tx.Commit();
}

Result<JobRow> SqliteJobStore::GetJob(const std::string& job_id) {
  std::lock_guard lock(impl_->mu);
  return GetJobLocked(*impl_, job_id);
}

Result<std::vector<JobRow>> SqliteJobStore::ListJobs(const JobFilter& filter) {
  std::lock_guard lock(impl_->mu);
  FRUIX_ASSIGN_OR_RETURN(ListQuery lq, PrepareList(*impl_, filter));
  FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s, impl_->Prepare(lq.sql));
  Query q(*impl_, s);
  for (size_t i = 0; i < lq.params.size(); ++i) q.Bind(static_cast<int>(i + 1), lq.params[i]);
  std::vector<JobRow> out;
  while (true) {
    FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("listing jobs"));
    if (!row) break;
    out.push_back(ReadJob(q));
  }
  return out;
}

Result<std::vector<std::string>> SqliteJobStore::ExplainListJobs(const JobFilter& filter) {
  std::lock_guard lock(impl_->mu);
  FRUIX_ASSIGN_OR_RETURN(ListQuery lq, PrepareList(*impl_, filter));
  // Not cached: diagnostics only.
  sqlite3_stmt* raw = nullptr;
  const std::string sql = "EXPLAIN QUERY PLAN " + lq.sql;
  int rc = sqlite3_prepare_v2(impl_->db, sql.c_str(), -1, &raw, nullptr);
  Statement owner(raw);
  if (rc != SQLITE_OK) return impl_->SqlError("preparing EXPLAIN QUERY PLAN", rc);
  Query q(*impl_, raw);
  for (size_t i = 0; i < lq.params.size(); ++i) q.Bind(static_cast<int>(i + 1), lq.params[i]);
  std::vector<std::string> out;
  while (true) {
    FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("explaining the job list query"));
    if (!row) break;
    out.push_back(q.Text(3));  // columns: id, parent, notused, detail
  }
  return out;
}

Result<std::vector<PhaseRow>> SqliteJobStore::Phases(const std::string& job_id) {
  std::lock_guard lock(impl_->mu);
  std::vector<PhaseRow> out;
  {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                           impl_->Prepare(std::string("SELECT ") + kPhaseColumns +
                                          " FROM phases WHERE job_id = ?1 ORDER BY seq"));
    Query q(*impl_, s);
    q.Bind(1, job_id);
    while (true) {
      FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("reading the phases of job " + job_id));
      if (!row) break;
      out.push_back(ReadPhase(q));
    }
  }
  if (out.empty()) {
    FRUIX_ASSIGN_OR_RETURN(JobRow unused, GetJobLocked(*impl_, job_id));
    (void)unused;
  }
  return out;
}

Result<std::vector<JobRow>> SqliteJobStore::MarkInterrupted(std::string_view reason, WallTime now) {
  std::lock_guard lock(impl_->mu);
  Transaction tx(*impl_);
  FRUIX_RETURN_IF_ERROR(tx.Begin());
  std::vector<std::string> ids;
  {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s,
                           impl_->Prepare("SELECT job_id FROM jobs WHERE state IN (?1, ?2) "
                                          "ORDER BY created_at, job_id"));
    Query q(*impl_, s);
    q.Bind(1, kStateQueued);
    q.Bind(2, kStateRunning);
    while (true) {
      FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("finding unfinished jobs"));
      if (!row) break;
      ids.push_back(q.Text(0));
    }
  }
  if (ids.empty()) return std::vector<JobRow>{};
  {
    FRUIX_ASSIGN_OR_RETURN(
        sqlite3_stmt * s,
        impl_->Prepare("UPDATE phases SET status = ?3 WHERE status = ?4 AND job_id IN "
                       "(SELECT job_id FROM jobs WHERE state IN (?1, ?2))"));
    Query q(*impl_, s);
    q.Bind(1, kStateQueued);
    q.Bind(2, kStateRunning);
    q.Bind(3, kInterruptedCode);
    q.Bind(4, kStateRunning);
    FRUIX_RETURN_IF_ERROR(q.Run("marking running phases interrupted"));
  }
  {
    FRUIX_ASSIGN_OR_RETURN(
        sqlite3_stmt * s,
        impl_->Prepare("UPDATE jobs SET state = ?3, failure_code = ?4, failure_message = ?5, "
                       "failure_class = ?6, failure_phase = phase, finished_at = ?7, "
                       "updated_at = ?8 WHERE state IN (?1, ?2)"));
    Query q(*impl_, s);
    q.Bind(1, kStateQueued);
    q.Bind(2, kStateRunning);
    q.Bind(3, kStateInterrupted);
    q.Bind(4, kInterruptedCode);
    q.Bind(5, reason);
    q.Bind(6, std::string_view("infrastructure"));
    q.Bind(7, now);
    q.Bind(8, impl_->NowMillis());
    FRUIX_RETURN_IF_ERROR(q.Run("marking unfinished jobs interrupted"));
  }
  std::vector<JobRow> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    FRUIX_ASSIGN_OR_RETURN(JobRow j, GetJobLocked(*impl_, id));
    out.push_back(std::move(j));
  }
  FRUIX_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Result<int> SqliteJobStore::SchemaVersion() {
  std::lock_guard lock(impl_->mu);
  FRUIX_ASSIGN_OR_RETURN(int64_t v, PragmaInt(*impl_, "user_version"));
  return static_cast<int>(v);
}

Result<void> SqliteJobStore::CheckIntegrity() {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> problems;
  {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s, impl_->Prepare("PRAGMA integrity_check(20)"));
    Query q(*impl_, s);
    while (true) {
      FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("checking integrity"));
      if (!row) break;
      if (std::string line = q.Text(0); line != "ok") problems.push_back(std::move(line));
    }
  }
  {
    FRUIX_ASSIGN_OR_RETURN(sqlite3_stmt * s, impl_->Prepare("PRAGMA foreign_key_check"));
    Query q(*impl_, s);
    while (true) {
      FRUIX_ASSIGN_OR_RETURN(bool row, q.Step("checking foreign keys"));
      if (!row) break;
      problems.push_back("a row of " + q.Text(0) + " refers to a missing " + q.Text(2));
    }
  }
  if (problems.empty()) return Ok();
  std::string msg = "job store " + impl_->path.string() + " is damaged:";
  for (const auto& p : problems) msg += " " + p + ";";
  return Error::Io(std::move(msg));
}

}  // namespace fruix::store
