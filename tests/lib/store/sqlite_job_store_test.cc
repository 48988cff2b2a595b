// Tests of store::SqliteJobStore (lib/store/sqlite_job_store.h): CRUD, filters and paging,
// transactions, interruption at daemon start, durability across SIGKILL, refusal of foreign,
// newer and locked stores, concurrency, and index use.
#include "lib/store/sqlite_job_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fruix::store {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kBaseMs = 1795465276000;  // 2026-11-23T20:21:16Z

WallTime Ms(int64_t ms) { return FromUnixMillis(ms); }

// A wall clock the test sets; stamps updated_at.
class ManualClock final : public Clock {
 public:
  TimePoint Now() const override { return TimePoint(std::chrono::milliseconds(ms_.load())); }
  std::chrono::system_clock::time_point WallNow() const override { return Ms(ms_.load()); }
  void Set(int64_t ms) { ms_.store(ms); }
  int64_t ms() const { return ms_.load(); }

 private:
  std::atomic<int64_t> ms_{kBaseMs};
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

// Overwrites 4 big-endian bytes at `offset` of a closed database file (SQLite header fields:
// user_version at 60, application_id at 68).
void PatchHeaderInt(const fs::path& p, size_t offset, uint32_t v) {
  std::string data = ReadFile(p);
  ASSERT_GE(data.size(), offset + 4);
  for (int i = 0; i < 4; ++i) data[offset + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  WriteFile(p, data);
}

JobRow MakeJob(const std::string& id, int64_t created_ms, const std::string& target = "t1",
               const std::string& state = "running") {
  JobRow j;
  j.job_id = id;
  j.target = target;
  j.pool = "pool-a";
  j.vm_uuid = "vm-" + target;
  j.vdi_uuid = "vdi-" + target;
  j.image = "/srv/images/" + id + ".img";
  j.image_digest = "sha256:abc";
  j.state = state;
  j.phase = "upload";
  j.requested_by_uid = 1000;
  j.requested_by_user = "alice";
  j.created_at = Ms(created_ms);
  j.started_at = Ms(created_ms + 5);
  j.options_json = R"({"wait":true})";
  return j;
}

PhaseRow MakePhase(const std::string& job, int64_t seq, const std::string& name,
                   const std::string& status) {
  PhaseRow p;
  p.job_id = job;
  p.seq = seq;
  p.phase = name;
  p.status = status;
  p.started_at = Ms(kBaseMs + seq * 1000);
  p.duration_ms = status == "running" ? 0 : 900 + seq;
  p.detail = name + " detail";
  return p;
}

// Builds a JobFilter field by field (GCC 12 warns on partial designated initializers).
class Where {
 public:
  Where& states(std::set<std::string> v) {
    f_.states = std::move(v);
    return *this;
  }
  Where& target(std::string v) {
    f_.target = std::move(v);
    return *this;
  }
  Where& vm_uuid(std::string v) {
    f_.vm_uuid = std::move(v);
    return *this;
  }
  Where& since(WallTime v) {
    f_.since = v;
    return *this;
  }
  Where& until(WallTime v) {
    f_.until = v;
    return *this;
  }
  Where& limit(size_t v) {
    f_.limit = v;
    return *this;
  }
  Where& before(std::string v) {
    f_.before = std::move(v);
    return *this;
  }
  operator JobFilter() const { return f_; }  // NOLINT: implicit by design

 private:
  JobFilter f_;
};

std::vector<std::string> Ids(const std::vector<JobRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.job_id);
  return out;
}

class SqliteJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / ("fruix-store-" + std::to_string(getpid()) + "-" +
                                             std::to_string(counter++) + "-" + info->name());
    fs::remove_all(dir_);
    db_ = dir_ / "state" / "jobs.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  OpenOptions Options(bool sync_commits = true) {
    OpenOptions o;
    o.clock = &clock_;
    o.sync_commits = sync_commits;
    return o;
  }

  std::unique_ptr<SqliteJobStore> Open(OpenOptions options = {}) {
    if (options.clock == nullptr) options.clock = &clock_;
    auto r = SqliteJobStore::Open(db_, options);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  fs::path dir_;
  fs::path db_;
  ManualClock clock_;
};

// Given a job row with every field set (optional times too), When created and read back, Then
// it is identical, with updated_at stamped from the store's clock.
TEST_F(SqliteJobStoreTest, CreateAndGetRoundTripEveryField) {
  auto store = Open();
  ASSERT_TRUE(store);
  JobRow j = MakeJob("job-1", kBaseMs);
  j.finished_at = Ms(kBaseMs + 60000);
  j.failure_phase = "ssh";
  j.failure_code = "marker-missing";
  j.failure_class = "guest";
  j.failure_message = "no marker";
  j.console_log = "/var/lib/fruix/console/job-1.log";
  j.report_json = R"({"schema":"fruix.job-report/1"})";
  j.requested_by_uid = -1;
  clock_.Set(kBaseMs + 777);
  ASSERT_TRUE(store->CreateJob(j).ok());

  auto got = store->GetJob("job-1");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  JobRow want = j;
  want.updated_at = Ms(kBaseMs + 777);
  EXPECT_EQ(*got, want);

  // Given a row without start/finish times, Then they stay absent.
  JobRow q = MakeJob("job-2", kBaseMs + 1, "t1", "queued");
  q.started_at.reset();
  ASSERT_TRUE(store->CreateJob(q).ok());
  auto got2 = store->GetJob("job-2");
  ASSERT_TRUE(got2.ok());
  EXPECT_FALSE(got2->started_at.has_value());
  EXPECT_FALSE(got2->finished_at.has_value());
}

// Given an existing job, When creating it again, Then kAlreadyExists names it and the first row
// is unchanged; empty ids and unknown states are kInvalidArgument; a missing job is kNotFound
// naming the id.
TEST_F(SqliteJobStoreTest, CreateRefusesDuplicatesAndBadRows) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateJob(MakeJob("job-1", kBaseMs)).ok());
  JobRow dup = MakeJob("job-1", kBaseMs + 5, "other");
  auto r = store->CreateJob(dup);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(r.error().message().find("job-1"), std::string::npos);
  EXPECT_EQ(store->GetJob("job-1")->target, "t1");

  auto empty = store->CreateJob(MakeJob("", kBaseMs));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), ErrorCode::kInvalidArgument);
  auto bad_state = store->CreateJob(MakeJob("job-2", kBaseMs, "t1", "exploded"));
  ASSERT_FALSE(bad_state.ok());
  EXPECT_EQ(bad_state.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_state.error().message().find("exploded"), std::string::npos);

  auto missing = store->GetJob("nope-42");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("nope-42"), std::string::npos);
}

// Given a job, When updated with a new whole row, Then every column is replaced (optional times
// can be cleared); updating a missing job is kNotFound naming it.
TEST_F(SqliteJobStoreTest, UpdateReplacesTheWholeRow) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateJob(MakeJob("job-1", kBaseMs)).ok());
  JobRow u = MakeJob("job-1", kBaseMs, "t9", "failed");
  u.phase = "boot";
  u.started_at.reset();
  u.finished_at = Ms(kBaseMs + 9000);
  u.failure_code = "kernel-panic";
  u.report_json = "{}";
  clock_.Set(kBaseMs + 10000);
  ASSERT_TRUE(store->UpdateJob(u).ok());
  auto got = store->GetJob("job-1");
  ASSERT_TRUE(got.ok());
  u.updated_at = Ms(kBaseMs + 10000);
  EXPECT_EQ(*got, u);

  auto missing = store->UpdateJob(MakeJob("ghost", kBaseMs));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("ghost"), std::string::npos);
}

// Given a job, When phases are upserted out of order and one is replaced, Then Phases lists them
// by seq with the latest content and the job's updated_at moves; phases of a missing job are
// kNotFound; a job without phases has an empty list.
TEST_F(SqliteJobStoreTest, UpsertPhaseInsertsReplacesAndOrders) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateJob(MakeJob("job-1", kBaseMs)).ok());
  ASSERT_TRUE(store->CreateJob(MakeJob("job-2", kBaseMs)).ok());
  auto empty = store->Phases("job-2");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  ASSERT_TRUE(store->UpsertPhase(MakePhase("job-1", 1, "prepare", "running")).ok());
  ASSERT_TRUE(store->UpsertPhase(MakePhase("job-1", 0, "preflight", "ok")).ok());
  PhaseRow done = MakePhase("job-1", 1, "prepare", "ok");
  done.started_at.reset();
  clock_.Set(kBaseMs + 4242);
  ASSERT_TRUE(store->UpsertPhase(done).ok());

  auto phases = store->Phases("job-1");
  ASSERT_TRUE(phases.ok());
  ASSERT_EQ(phases->size(), 2u);
  EXPECT_EQ((*phases)[0], MakePhase("job-1", 0, "preflight", "ok"));
  EXPECT_EQ((*phases)[1], done);
  EXPECT_EQ(store->GetJob("job-1")->updated_at, Ms(kBaseMs + 4242));

  auto orphan = store->UpsertPhase(MakePhase("ghost", 0, "preflight", "ok"));
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(orphan.error().message().find("ghost"), std::string::npos);
  auto negative = store->UpsertPhase(MakePhase("job-1", -1, "preflight", "ok"));
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().code(), ErrorCode::kInvalidArgument);
  auto none = store->Phases("ghost");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

// Given jobs on three targets, two VMs and several states spread over time (two sharing a
// created_at), When listing with each filter, Then exactly the matching jobs come back newest
// first (ties broken by job_id descending).
TEST_F(SqliteJobStoreTest, ListFiltersByStateTargetVmAndTime) {
  auto store = Open();
  ASSERT_TRUE(store);
  struct Spec {
    const char* id;
    int64_t at;
    const char* target;
    const char* state;
  };
  const Spec specs[] = {
      {"a", 100, "web", "ready"},       {"b", 200, "db", "failed"},    {"c", 300, "web", "running"},
      {"d", 300, "web", "queued"},      {"e", 400, "ci", "cancelled"}, {"f", 500, "db", "ready"},
      {"g", 600, "web", "interrupted"},
  };
  for (const auto& s : specs) {
    ASSERT_TRUE(store->CreateJob(MakeJob(s.id, kBaseMs + s.at, s.target, s.state)).ok());
  }
  auto list = [&](const JobFilter& f) {
    auto r = store->ListJobs(f);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? Ids(*r) : std::vector<std::string>{"<error>"};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list({}), (V{"g", "f", "e", "d", "c", "b", "a"}));
  EXPECT_EQ(list(Where().states({"ready"})), (V{"f", "a"}));
  EXPECT_EQ(list(Where().states({"queued", "running"})), (V{"d", "c"}));
  EXPECT_EQ(list(Where().target("web")), (V{"g", "d", "c", "a"}));
  EXPECT_EQ(list(Where().vm_uuid("vm-db")), (V{"f", "b"}));
  EXPECT_EQ(list(Where().states({"ready"}).target("db")), (V{"f"}));
  EXPECT_EQ(list(Where().since(Ms(kBaseMs + 300))), (V{"g", "f", "e", "d", "c"}));
  EXPECT_EQ(list(Where().since(Ms(kBaseMs + 200)).until(Ms(kBaseMs + 400))), (V{"d", "c", "b"}));
  EXPECT_EQ(list(Where().limit(3)), (V{"g", "f", "e"}));
  EXPECT_EQ(list(Where().target("nowhere")), V{});
}

// Given 57 jobs (some sharing created_at), When paging with limit 10 and the last id as cursor,
// Then the pages concatenate to the full newest-first list with no gap or repeat; a cursor works
// together with a filter.
TEST_F(SqliteJobStoreTest, PagingCursorWalksEveryJobOnce) {
  auto store = Open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 57; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "job-%02d", i);
    ASSERT_TRUE(store->CreateJob(MakeJob(id, kBaseMs + (i / 3) * 10, i % 2 ? "odd" : "even")).ok());
  }
  auto all = store->ListJobs(Where().limit(1000));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 57u);
  for (size_t i = 1; i < all->size(); ++i) {
    const auto& prev = (*all)[i - 1];
    const auto& cur = (*all)[i];
    EXPECT_TRUE(prev.created_at > cur.created_at ||
                (prev.created_at == cur.created_at && prev.job_id > cur.job_id))
        << prev.job_id << " before " << cur.job_id;
  }
  std::vector<std::string> paged;
  JobFilter f = Where().limit(10);
  for (int pages = 0; pages < 20; ++pages) {
    auto page = store->ListJobs(f);
    ASSERT_TRUE(page.ok()) << page.error().ToString();
    for (const auto& j : *page) paged.push_back(j.job_id);
    if (page->size() < f.limit) break;
    f.before = page->back().job_id;
  }
  EXPECT_EQ(paged, Ids(*all));

  auto odd_all = store->ListJobs(Where().target("odd").limit(1000));
  ASSERT_TRUE(odd_all.ok());
  std::vector<std::string> odd_paged;
  JobFilter of = Where().target("odd").limit(7);
  for (int pages = 0; pages < 20; ++pages) {
    auto page = store->ListJobs(of);
    ASSERT_TRUE(page.ok());
    for (const auto& j : *page) odd_paged.push_back(j.job_id);
    if (page->size() < of.limit) break;
    of.before = page->back().job_id;
  }
  EXPECT_EQ(odd_paged, Ids(*odd_all));
  EXPECT_EQ(odd_paged.size(), 28u);
}

// Given bad list arguments, Then each is kInvalidArgument naming the problem.
TEST_F(SqliteJobStoreTest, ListRejectsBadArguments) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateJob(MakeJob("job-1", kBaseMs)).ok());
  for (const JobFilter& f :
       std::vector<JobFilter>{Where().limit(0), Where().limit(kMaxListLimit + 1),
                              Where().states({"bogus"}), Where().before("ghost")}) {
    auto r = store->ListJobs(f);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().ToString();
  }
  auto ghost = store->ListJobs(Where().before("ghost"));
  EXPECT_NE(ghost.error().message().find("ghost"), std::string::npos);
  EXPECT_TRUE(store->ListJobs(Where().limit(kMaxListLimit)).ok());
}

// Given a running job with three phases recorded, When FinishJob writes a terminal row and a
// two-phase list, Then the row and exactly those phases are stored; When FinishJob is refused
// (non-terminal state, a phase of another job, a repeated seq, a missing job), Then nothing of
// it was applied.
TEST_F(SqliteJobStoreTest, FinishJobReplacesRowAndPhasesAtomically) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateJob(MakeJob("job-1", kBaseMs)).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store->UpsertPhase(MakePhase("job-1", i, "p" + std::to_string(i), "ok")).ok());
  }
  const auto before_row = *store->GetJob("job-1");
  const auto before_phases = *store->Phases("job-1");

  JobRow fin = MakeJob("job-1", kBaseMs, "t1", "failed");
  fin.finished_at = Ms(kBaseMs + 5000);
  fin.report_json = R"({"state":"failed"})";
  auto refused = [&](const JobRow& row, const std::vector<PhaseRow>& phases, ErrorCode code) {
    auto r = store->FinishJob(row, phases);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), code) << r.error().ToString();
    EXPECT_EQ(*store->GetJob("job-1"), before_row);
    EXPECT_EQ(*store->Phases("job-1"), before_phases);
  };
  refused(MakeJob("job-1", kBaseMs, "t1", "running"), {}, ErrorCode::kInvalidArgument);
  refused(fin, {MakePhase("job-2", 0, "preflight", "ok")}, ErrorCode::kInvalidArgument);
  refused(fin, {MakePhase("job-1", 0, "a", "ok"), MakePhase("job-1", 0, "b", "ok")},
          ErrorCode::kInvalidArgument);
  auto ghost = store->FinishJob(MakeJob("ghost", kBaseMs, "t1", "ready"), {});
  ASSERT_FALSE(ghost.ok());
  EXPECT_EQ(ghost.error().code(), ErrorCode::kNotFound);

  PhaseRow unnamed = MakePhase("", 1, "upload", "failed");
  clock_.Set(kBaseMs + 6000);
  auto r = store->FinishJob(fin, {MakePhase("job-1", 0, "preflight", "ok"), unnamed});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  fin.updated_at = Ms(kBaseMs + 6000);
  EXPECT_EQ(*store->GetJob("job-1"), fin);
  unnamed.job_id = "job-1";
  EXPECT_EQ(*store->Phases("job-1"),
            (std::vector<PhaseRow>{MakePhase("job-1", 0, "preflight", "ok"), unnamed}));
}

// Given queued, running and terminal jobs (running ones with a running phase), When
// MarkInterrupted runs, Then it returns exactly the queued and running jobs, oldest first, now
// interrupted with the reason; their running phases are interrupted, other phases and terminal
// jobs untouched; a second call returns nothing.
TEST_F(SqliteJobStoreTest, MarkInterruptedReturnsExactlyTheUnfinishedJobs) {
  auto store = Open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateJob(MakeJob("r2", kBaseMs + 20)).ok());
  ASSERT_TRUE(store->CreateJob(MakeJob("q1", kBaseMs + 30, "t1", "queued")).ok());
  ASSERT_TRUE(store->CreateJob(MakeJob("r1", kBaseMs + 10)).ok());
  for (const char* s : {"ready", "failed", "cancelled", "interrupted"}) {
    ASSERT_TRUE(store->CreateJob(MakeJob(std::string("done-") + s, kBaseMs + 5, "t1", s)).ok());
  }
  ASSERT_TRUE(store->UpsertPhase(MakePhase("r1", 0, "preflight", "ok")).ok());
  ASSERT_TRUE(store->UpsertPhase(MakePhase("r1", 1, "upload", "running")).ok());
  ASSERT_TRUE(store->UpsertPhase(MakePhase("done-ready", 0, "preflight", "running")).ok());
  const auto terminal_before =
      *store->ListJobs(Where().states({"ready", "failed", "cancelled", "interrupted"}));

  clock_.Set(kBaseMs + 99000);
  auto r = store->MarkInterrupted("fruixd restarted while the job ran", Ms(kBaseMs + 90000));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(Ids(*r), (std::vector<std::string>{"r1", "r2", "q1"}));
  for (const auto& j : *r) {
    EXPECT_EQ(j.state, "interrupted");
    EXPECT_EQ(j.failure_code, "interrupted");
    EXPECT_EQ(j.failure_message, "fruixd restarted while the job ran");
    EXPECT_EQ(j.failure_class, "infrastructure");
    EXPECT_EQ(j.failure_phase, "upload");
    EXPECT_EQ(j.finished_at, Ms(kBaseMs + 90000));
    EXPECT_EQ(j.updated_at, Ms(kBaseMs + 99000));
    EXPECT_EQ(*store->GetJob(j.job_id), j);
  }
  auto phases = *store->Phases("r1");
  ASSERT_EQ(phases.size(), 2u);
  EXPECT_EQ(phases[0].status, "ok");
  EXPECT_EQ(phases[1].status, "interrupted");
  EXPECT_EQ((*store->Phases("done-ready"))[0].status, "running");  // terminal jobs untouched
  for (const auto& j : terminal_before) EXPECT_EQ(*store->GetJob(j.job_id), j);

  auto again = store->MarkInterrupted("again", Ms(kBaseMs + 100000));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

// Given a store with finished jobs and phases, When it is closed and reopened, Then every row and
// phase is there unchanged, the schema version is 1, integrity is ok, and the database file
// (and the lock file) have mode 0640.
TEST_F(SqliteJobStoreTest, ReopenKeepsEverything) {
  std::vector<JobRow> rows;
  std::map<std::string, std::vector<PhaseRow>> phases;
  {
    auto store = Open();
    ASSERT_TRUE(store);
    for (int i = 0; i < 5; ++i) {
      const std::string id = "job-" + std::to_string(i);
      ASSERT_TRUE(store->CreateJob(MakeJob(id, kBaseMs + i)).ok());
      JobRow fin = MakeJob(id, kBaseMs + i, "t1", i % 2 ? "ready" : "failed");
      fin.report_json = "{\"n\":" + std::to_string(i) + "}";
      std::vector<PhaseRow> ps = {MakePhase(id, 0, "preflight", "ok"),
                                  MakePhase(id, 1, "prepare", i % 2 ? "ok" : "failed")};
      ASSERT_TRUE(store->FinishJob(fin, ps).ok());
      phases[id] = ps;
    }
    rows = *store->ListJobs({});
  }
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->ListJobs({}), rows);
  for (const auto& [id, ps] : phases) EXPECT_EQ(*store->Phases(id), ps);
  EXPECT_EQ(*store->SchemaVersion(), kSchemaVersion);
  EXPECT_TRUE(store->CheckIntegrity().ok());
  EXPECT_EQ(store->path(), db_);
  struct stat st {};
  ASSERT_EQ(::stat(db_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  ASSERT_EQ(::stat((db_.string() + ".lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0640u, 0u);
}

// Given a store open in this process, When opened a second time, Then kFailedPrecondition says
// another fruixd holds the path; When the first store is destroyed, Then opening succeeds.
TEST_F(SqliteJobStoreTest, SecondOpenIsRefusedByTheLockUntilTheFirstCloses) {
  auto first = Open();
  ASSERT_TRUE(first);
  auto second = OpenSqliteJobStore(db_, Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(second.error().message().find("another fruixd holds " + db_.string()),
            std::string::npos)
      << second.error().message();
  EXPECT_TRUE(first->CreateJob(MakeJob("still-works", kBaseMs)).ok());
  first.reset();
  auto third = OpenSqliteJobStore(db_, Options());
  ASSERT_TRUE(third.ok()) << third.error().ToString();
  EXPECT_TRUE((*third)->GetJob("still-works").ok());
}

// Given a text file and a short binary file where the store should be, When opening, Then
// kFailedPrecondition names the path, the file's bytes are unchanged and no WAL files appear.
TEST_F(SqliteJobStoreTest, NonDatabaseFileIsRefusedAndLeftUntouched) {
  fs::create_directories(db_.parent_path());
  for (const std::string& content : {std::string("these are my precious notes, not a database\n"),
                                     std::string("SQL\x01", 4), std::string(4096, 'x')}) {
    WriteFile(db_, content);
    auto r = OpenSqliteJobStore(db_, Options());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(r.error().message().find(db_.string()), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("not a SQLite database"), std::string::npos);
    EXPECT_EQ(ReadFile(db_), content);
    EXPECT_FALSE(fs::exists(db_.string() + "-wal"));
    EXPECT_FALSE(fs::exists(db_.string() + "-shm"));
  }
}

// Given a store whose user_version a newer fruixd set to 7, When opening, Then kFailedPrecondition
// names both versions and the path, and the file is unchanged.
TEST_F(SqliteJobStoreTest, NewerSchemaVersionIsRefused) {
  {
    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->CreateJob(MakeJob("job-1", kBaseMs)).ok());
  }
  ASSERT_FALSE(fs::exists(db_.string() + "-wal"));  // checkpointed on close
  PatchHeaderInt(db_, 60, 7);
  const std::string before = ReadFile(db_);
  auto r = OpenSqliteJobStore(db_, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  const std::string& m = r.error().message();
  EXPECT_NE(m.find("schema version 7"), std::string::npos) << m;
  EXPECT_NE(m.find("version " + std::to_string(kSchemaVersion)), std::string::npos) << m;
  EXPECT_NE(m.find(db_.string()), std::string::npos) << m;
  EXPECT_EQ(ReadFile(db_), before);

  // And restoring version 1 makes it usable again (nothing was damaged).
  PatchHeaderInt(db_, 60, kSchemaVersion);
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->GetJob("job-1").ok());
}

// Given a SQLite database of another application (a different application_id), When opening,
// Then it is refused naming the path, and left unchanged.
TEST_F(SqliteJobStoreTest, OtherApplicationsDatabaseIsRefused) {
  { ASSERT_TRUE(Open()); }
  PatchHeaderInt(db_, 68, 0x12345678);
  const std::string before = ReadFile(db_);
  auto r = OpenSqliteJobStore(db_, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message().find("another application"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find(db_.string()), std::string::npos);
  EXPECT_EQ(ReadFile(db_), before);
}

// Given strings with quotes, backslashes, SQL fragments, newlines and multi-byte Unicode in every
// text column, When stored and read back, Then they are byte-identical, and filtering by such a
// target finds exactly that job.
TEST_F(SqliteJobStoreTest, AwkwardStringsRoundTrip) {
  auto store = Open();
  ASSERT_TRUE(store);
  const std::string nasty =
      "it's \"quoted\" \\ back'; DROP TABLE jobs; -- \n\tnew line "
      "Ünïcödé 日本語 🚀 %_* ?1 :x @y";
  JobRow j = MakeJob("job-'" + nasty, kBaseMs, "tgt " + nasty);
  j.pool = j.vm_uuid = j.vdi_uuid = j.image = j.image_digest = j.phase = nasty;
  j.requested_by_user = j.failure_phase = j.failure_code = j.failure_class = nasty;
  j.failure_message = j.console_log = j.options_json = j.report_json = nasty;
  ASSERT_TRUE(store->CreateJob(j).ok());
  ASSERT_TRUE(store->CreateJob(MakeJob("plain", kBaseMs, "tgt")).ok());
  PhaseRow p = MakePhase(j.job_id, 0, nasty, nasty);
  p.detail = nasty;
  ASSERT_TRUE(store->UpsertPhase(p).ok());

  auto got = store->GetJob(j.job_id);
  ASSERT_TRUE(got.ok());
  j.updated_at = got->updated_at;
  EXPECT_EQ(*got, j);
  EXPECT_EQ(*store->Phases(j.job_id), std::vector<PhaseRow>{p});
  EXPECT_EQ(Ids(*store->ListJobs(Where().target("tgt " + nasty))),
            std::vector<std::string>{j.job_id});
  EXPECT_EQ(Ids(*store->ListJobs(Where().before(j.job_id))), std::vector<std::string>{});
  EXPECT_EQ(store->ListJobs({})->size(), 2u);
}

// Given 8 threads each recording 25 jobs (create, phase, list, finish) on one store, When they
// run concurrently, Then every call succeeds and every job is stored finished with its phase.
TEST_F(SqliteJobStoreTest, ConcurrentWritersFromEightThreads) {
  auto store = Open();
  ASSERT_TRUE(store);
  constexpr int kThreads = 8;
  constexpr int kJobsEach = 25;
  std::atomic<int> failures{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto fail = [&](const Error& e) {
        ++failures;
        errors[t] = e.ToString();
      };
      for (int i = 0; i < kJobsEach; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        const JobRow j = MakeJob(id, kBaseMs + i, "target-" + std::to_string(t));
        if (auto r = store->CreateJob(j); !r.ok()) return fail(r.error());
        if (auto r = store->UpsertPhase(MakePhase(id, 0, "preflight", "running")); !r.ok()) {
          return fail(r.error());
        }
        if (auto r = store->ListJobs(Where().target(j.target)); !r.ok()) return fail(r.error());
        JobRow fin = j;
        fin.state = "ready";
        if (auto r = store->FinishJob(fin, {MakePhase(id, 0, "preflight", "ok")}); !r.ok()) {
          return fail(r.error());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0) << ::testing::PrintToString(errors);
  auto all = store->ListJobs(Where().limit(kMaxListLimit));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), static_cast<size_t>(kThreads * kJobsEach));
  for (const auto& j : *all) {
    EXPECT_EQ(j.state, "ready") << j.job_id;
    auto ps = store->Phases(j.job_id);
    ASSERT_TRUE(ps.ok());
    ASSERT_EQ(ps->size(), 1u);
    EXPECT_EQ((*ps)[0].status, "ok");
  }
  EXPECT_TRUE(store->CheckIntegrity().ok());
}

// Given 10 000 jobs on 10 targets and 10 VMs, When listing by target or VM, Then the query plan
// searches the matching index (no full scan) and the newest jobs of that target come back.
TEST_F(SqliteJobStoreTest, ListByTargetOrVmUsesAnIndex) {
  auto store = Open(Options(/*sync_commits=*/false));
  ASSERT_TRUE(store);
  for (int i = 0; i < 10000; ++i) {
    JobRow j = MakeJob("job-" + std::to_string(i), kBaseMs + i, "t" + std::to_string(i % 10));
    j.vm_uuid = "vm-" + std::to_string(i % 7);
    ASSERT_TRUE(store->CreateJob(j).ok());
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += l + "\n";
    return s;
  };
  auto plan = store->ExplainListJobs(Where().target("t3"));
  ASSERT_TRUE(plan.ok()) << plan.error().ToString();
  EXPECT_NE(join(*plan).find("jobs_by_target"), std::string::npos) << join(*plan);
  EXPECT_EQ(join(*plan).find("SCAN jobs\n"), std::string::npos) << join(*plan);
  auto vm_plan = store->ExplainListJobs(Where().vm_uuid("vm-2").before("job-500"));
  ASSERT_TRUE(vm_plan.ok());
  EXPECT_NE(join(*vm_plan).find("jobs_by_vm"), std::string::npos) << join(*vm_plan);

  auto t3 = store->ListJobs(Where().target("t3"));
  ASSERT_TRUE(t3.ok());
  ASSERT_EQ(t3->size(), kDefaultListLimit);
  EXPECT_EQ(t3->front().job_id, "job-9993");
  EXPECT_EQ(t3->back().job_id, "job-9003");
}

// ---- Durability across SIGKILL ------------------------------------------------------------------

// What the child reports through the pipe after each commit.
struct Report {
  int32_t index;
  int32_t stage;  // 1: created running with 2 phases; 2: finished ready with 8 phases
};

constexpr int kFinalPhases = 8;

// The child: records jobs "<prefix><i>" forever, reporting each commit; never returns.
[[noreturn]] void ChildWriter(const fs::path& db, const std::string& prefix, int report_fd) {
  auto opened = SqliteJobStore::Open(db);
  if (!opened.ok()) _exit(3);
  auto& store = *opened;
  for (int32_t i = 0;; ++i) {
    const std::string id = prefix + std::to_string(i);
    JobRow j = MakeJob(id, kBaseMs + i, "kill");
    if (!store->CreateJob(j).ok()) _exit(4);
    if (!store->UpsertPhase(MakePhase(id, 0, "preflight", "ok")).ok()) _exit(5);
    if (!store->UpsertPhase(MakePhase(id, 1, "prepare", "running")).ok()) _exit(6);
    Report r1{i, 1};
    if (write(report_fd, &r1, sizeof r1) != sizeof r1) _exit(7);
    JobRow fin = j;
    fin.state = "ready";
    fin.report_json = std::string(2000, 'r');  // a few pages per commit
    std::vector<PhaseRow> ps;
    for (int s = 0; s < kFinalPhases; ++s) ps.push_back(MakePhase(id, s, "p", "ok"));
    if (!store->FinishJob(fin, ps).ok()) _exit(8);
    Report r2{i, 2};
    if (write(report_fd, &r2, sizeof r2) != sizeof r2) _exit(9);
  }
}

// Given a child process that records jobs in a loop and reports each commit through a pipe, When
// it is SIGKILLed at a random point (five times, each continuing the same database), Then on
// reopening every reported commit is there, each job is either wholly finished (ready with all 8
// phases) or wholly before it (running, at most 2 phases), and integrity_check is ok.
TEST_F(SqliteJobStoreTest, SigkillAtARandomPointLosesNothingCommitted) {
  std::mt19937 rng(std::random_device{}());
  { ASSERT_TRUE(Open()); }              // create the schema up front
  std::map<std::string, int> reported;  // job id -> highest stage reported
  for (int round = 0; round < 5; ++round) {
    const std::string prefix = "r" + std::to_string(round) + "-";
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ChildWriter(db_, prefix, fds[1]);
    }
    close(fds[1]);
    const int kill_after = std::uniform_int_distribution<int>(1, 40)(rng);
    const auto delay = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng));
    int received = 0;
    bool killed = false;
    auto read_reports = [&](int timeout_ms) {
      // Returns false on EOF (the child is gone) or timeout.
      pollfd pfd{fds[0], POLLIN, 0};
      if (poll(&pfd, 1, timeout_ms) <= 0) return false;
      Report r{};
      const ssize_t n = read(fds[0], &r, sizeof r);
      if (n != sizeof r) return false;
      auto& stage = reported[prefix + std::to_string(r.index)];
      stage = std::max(stage, static_cast<int>(r.stage));
      ++received;
      return true;
    };
    while (!killed) {
      if (!read_reports(30000)) break;
      if (received >= kill_after) {
        std::this_thread::sleep_for(delay);  // land somewhere inside a later commit
        ASSERT_EQ(kill(pid, SIGKILL), 0);
        killed = true;
      }
    }
    int status = 0;
    if (!killed) kill(pid, SIGKILL);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(killed) << "child stopped reporting; exit status " << status;
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    while (read_reports(0)) {  // commits the child reported before it died
    }
    close(fds[0]);

    auto store = Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->CheckIntegrity().ok()) << store->CheckIntegrity().error().ToString();
    auto all = store->ListJobs(Where().target("kill").limit(kMaxListLimit));
    ASSERT_TRUE(all.ok());
    std::map<std::string, const JobRow*> by_id;
    for (const auto& j : *all) by_id[j.job_id] = &j;
    for (const auto& [id, stage] : reported) {
      ASSERT_TRUE(by_id.count(id)) << "committed job " << id << " lost in round " << round;
      if (stage == 2) {
        EXPECT_EQ(by_id[id]->state, "ready") << id;
      }
    }
    for (const auto& j : *all) {
      auto ps = store->Phases(j.job_id);
      ASSERT_TRUE(ps.ok());
      if (j.state == "ready") {
        EXPECT_EQ(ps->size(), static_cast<size_t>(kFinalPhases)) << j.job_id;
        EXPECT_EQ(j.report_json.size(), 2000u) << j.job_id;
      } else {
        EXPECT_EQ(j.state, "running") << j.job_id;
        EXPECT_LE(ps->size(), 2u) << j.job_id;
        EXPECT_TRUE(j.report_json.empty()) << j.job_id;
      }
    }
  }
  EXPECT_GE(reported.size(), 5u);
}

}  // namespace
}  // namespace fruix::store
