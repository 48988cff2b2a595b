#include "daemon/job_service.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "daemon/console_factory.h"
#include "daemon/job_views.h"
#include "daemon/target_spec.h"
#include "daemon/vm_lease.h"
#include "lib/job/report.h"
#include "lib/job/runner.h"

namespace fruix::daemon {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

WallTime Now() { return std::chrono::system_clock::now(); }

std::string NewJobId() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  const std::time_t t = std::chrono::system_clock::to_time_t(Now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  uint64_t r;
  {
    std::lock_guard lock(mu);
    r = rng();
  }
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(r & 0xffff));
  return std::string("j-") + stamp + "-" + suffix;
}

std::string FailureCode(const Error& e) {
  if (e.is_xapi()) return "xapi:" + std::string(e.xapi_code());
  return std::string(ErrorCodeName(e.code()));
}

Error Refuse(proto::RpcError* refusal, proto::RpcCode code, Error error,
             nlohmann::json data = nullptr) {
  if (refusal != nullptr) *refusal = proto::RpcError::Of(code, error.message(), std::move(data));
  return error;
}

// A report for a job that failed (or was cancelled) before its runner started.
job::JobReport EarlyReport(const store::JobRow& row, job::Phase end, const std::string& code,
                           const std::string& message, WallTime started) {
  job::JobReport r;
  r.job_id = row.job_id;
  r.target = row.target;
  r.vm_uuid = row.vm_uuid;
  r.vdi_uuid = row.vdi_uuid;
  r.image = row.image;
  r.state = end;
  r.started_at = started;
  r.finished_at = Now();
  r.duration = std::chrono::duration_cast<milliseconds>(*r.finished_at - started);
  job::PhaseRecord p;
  p.phase = job::Phase::kPreflight;
  p.status =
      end == job::Phase::kCancelled ? job::PhaseStatus::kCancelled : job::PhaseStatus::kFailed;
  p.started_at = started;
  p.duration = r.duration;
  p.detail = message;
  r.phases.push_back(p);
  if (end == job::Phase::kFailed) {
    job::FailureReport f;
    f.phase = job::Phase::kPreflight;
    f.code = code;
    f.message = message;
    f.failure_class = job::FailureClass::kInfrastructure;
    r.failure = f;
  }
  return r;
}

}  // namespace

struct JobService::Impl {
  struct Watcher {
    uint64_t token;
    bool console;
    EventSink sink;
  };

  struct Job {
    std::string id;
    store::JobRow row;
    std::string vm;
    PoolConfig pool;
    job::JobSpec spec;
    std::stop_source stop;
    std::unique_ptr<job::JobRun> run;  // set once the runner exists
    std::thread thread;
    bool started = false;
    std::vector<Watcher> watchers;
    std::optional<upload::ImportProgress> progress;
    Clock::time_point last_progress_event{};
    std::string waiting;
    std::map<job::Phase, int64_t> phase_seq;
  };

  // A finished job as job.get shows it, decoded once.
  struct Finished {
    store::JobRow row;
    proto::JobInfo info;  // without report
    nlohmann::json report;
    std::shared_ptr<const std::string> encoded[2];  // job.get results, [with_report], lazily
  };

  Impl(store::JobStore& s, PoolRegistry& p, ssh::SshClient& sh, std::shared_ptr<const Config> c,
       JobServiceOptions o)
      : store(s), pools(p), ssh(sh), config(std::move(c)), options(std::move(o)) {}

  store::JobStore& store;
  PoolRegistry& pools;
  ssh::SshClient& ssh;

  mutable std::mutex mu;
  std::condition_variable cv;  // a job ended
  std::shared_ptr<const Config> config;
  JobServiceOptions options;
  bool accepting = true;
  std::map<std::string, std::shared_ptr<Job>> active;      // queued and running
  std::map<std::string, std::deque<std::string>> vm_jobs;  // vm uuid → its jobs, holder first
  std::deque<std::string> pending;                         // queued job ids, FIFO
  size_t running_count = 0;
  std::map<std::string, Finished> recent;
  std::deque<std::string> recent_order;
  std::vector<std::thread> reap;
  uint64_t next_token = 1;
  const Clock::time_point started_at = Clock::now();

  // ---- scheduling (mu held) ----
  void Pump() {
    for (auto it = pending.begin(); it != pending.end();) {
      if (running_count >= static_cast<size_t>(options.max_concurrent_jobs)) return;
      std::shared_ptr<Job> job = active[*it];
      if (vm_jobs[job->vm].front() != job->id) {
        ++it;
        continue;
      }
      it = pending.erase(it);
      job->started = true;
      ++running_count;
      job->thread = std::thread([this, job] { RunJob(job); });
    }
  }

  size_t QueuePosition(const std::string& id) const {
    auto it = std::find(pending.begin(), pending.end(), id);
    return it == pending.end() ? 0 : static_cast<size_t>(it - pending.begin()) + 1;
  }

  void ReapThreads() {
    std::vector<std::thread> done;
    {
      std::lock_guard lock(mu);
      done.swap(reap);
    }
    for (auto& t : done) {
      if (t.joinable()) t.join();
    }
  }

  // ---- events (mu held; sinks do not block) ----
  void Emit(Job& job, const proto::JobEvent& event, bool console_only = false) {
    for (auto& w : job.watchers) {
      if (console_only && !w.console) continue;
      w.sink(event);
    }
  }

  proto::JobEvent Event(const Job& job, const char* kind) {
    proto::JobEvent e;
    e.job_id = job.id;
    e.kind = kind;
    return e;
  }

  void WriteRow(const store::JobRow& row) {
    if (auto r = store.UpdateJob(row); !r.ok()) {
      spdlog::error("job {}: recording its state failed: {}", row.job_id, r.error().ToString());
    }
  }

  // ---- the observer a JobRun reports to ----
  class Observer final : public job::JobObserver {
   public:
    Observer(Impl& impl, std::shared_ptr<Job> job) : impl_(impl), job_(std::move(job)) {}
    void OnPhase(const job::PhaseRecord& record) override {
      store::PhaseRow row;
      store::JobRow job_row;
      {
        std::lock_guard lock(impl_.mu);
        auto [it, inserted] =
            job_->phase_seq.emplace(record.phase, static_cast<int64_t>(job_->phase_seq.size()));
        row.job_id = job_->id;
        row.seq = it->second;
        row.phase = std::string(job::ToString(record.phase));
        row.status = std::string(job::ToString(record.status));
        row.started_at = record.started_at;
        row.duration_ms = record.duration.count();
        row.detail = record.detail;
        job_->row.phase = row.phase;
        if (record.status != job::PhaseStatus::kRunning) job_->waiting.clear();
        if (record.phase != job::Phase::kUpload) job_->progress.reset();
        job_row = job_->row;
        proto::JobEvent e = impl_.Event(*job_, "phase");
        e.phase = PhaseInfoOf(record);
        impl_.Emit(*job_, e);
      }
      if (auto r = impl_.store.UpsertPhase(row); !r.ok()) {
        spdlog::error("job {}: recording phase {} failed: {}", row.job_id, row.phase,
                      r.error().ToString());
      }
      impl_.WriteRow(job_row);
      spdlog::info("job {}: {} {}{}", job_->id, row.phase, row.status,
                   record.detail.empty() ? "" : ": " + record.detail);
    }
    void OnUploadProgress(const upload::ImportProgress& p) override {
      std::lock_guard lock(impl_.mu);
      job_->progress = p;
      const auto now = Clock::now();
      const bool last = p.bytes_total > 0 && p.bytes_sent == p.bytes_total;
      if (!p.retrying_because.empty() || last ||
          now - job_->last_progress_event >= milliseconds(100)) {
        job_->last_progress_event = now;
        proto::JobEvent e = impl_.Event(*job_, "progress");
        e.progress = ProgressInfoOf(p);
        impl_.Emit(*job_, e);
      }
    }
    void OnConsoleLine(const console::ConsoleLine& line, bool partial) override {
      std::lock_guard lock(impl_.mu);
      proto::JobEvent e = impl_.Event(*job_, "console");
      e.console = ConsoleLineInfoOf(line, partial);
      impl_.Emit(*job_, e, /*console_only=*/true);
    }
    void OnMilestone(const job::MilestoneRecord& m) override {
      std::lock_guard lock(impl_.mu);
      proto::JobEvent e = impl_.Event(*job_, "milestone");
      e.milestone = MilestoneInfoOf(m);
      impl_.Emit(*job_, e);
    }
    void OnWaiting(job::Phase, const std::string& what) override {
      std::lock_guard lock(impl_.mu);
      job_->waiting = what;
      proto::JobEvent e = impl_.Event(*job_, "waiting");
      e.waiting = what.size() > 8192 ? what.substr(0, 8192) : what;
      impl_.Emit(*job_, e);
    }

   private:
    Impl& impl_;
    std::shared_ptr<Job> job_;
  };

  // ---- one job, on its own thread ----
  void RunJob(std::shared_ptr<Job> job) {
    const WallTime started = Now();
    store::JobRow row;
    {
      std::lock_guard lock(mu);
      job->row.state = "running";
      job->row.phase = "preflight";
      job->row.started_at = started;
      row = job->row;
    }
    WriteRow(row);
    spdlog::info("job {}: started for VM {} (target {})", job->id, job->vm,
                 row.target.empty() ? "explicit" : row.target);

    job::JobReport report;
    std::optional<LeaseRequest> lease;
    std::shared_ptr<PoolConnection> connection;
    auto conn = pools.Get(job->pool);
    if (!conn.ok()) {
      report = EarlyReport(row, job::Phase::kFailed, FailureCode(conn.error()),
                           conn.error().message(), started);
    } else if (job->stop.stop_requested()) {
      report = EarlyReport(row, job::Phase::kCancelled, "", "cancelled before it started", started);
    } else {
      connection = *conn;
      LeaseRequest req{job->vm, options.owner, job->id, options.lease_ttl, Now()};
      auto taken = AcquireLease(*connection->session, req);
      if (!taken.ok()) {
        const bool held = taken.error().code() == ErrorCode::kFailedPrecondition;
        report =
            EarlyReport(row, job::Phase::kFailed, held ? "lease-held" : FailureCode(taken.error()),
                        taken.error().message(), started);
      } else {
        lease = req;
        report = RunWithLease(job, *connection, req);
      }
    }
    if (lease && connection) {
      lease->now = Now();
      if (auto r = ReleaseLease(*connection->session, *lease); !r.ok()) {
        spdlog::warn("job {}: releasing the lease of VM {} failed: {}", job->id, job->vm,
                     r.error().ToString());
      }
    }
    Finish(job, report);
  }

  job::JobReport RunWithLease(const std::shared_ptr<Job>& job, PoolConnection& connection,
                              LeaseRequest lease) {
    job::RunnerDeps deps;
    deps.session = connection.session.get();
    deps.upload_http = connection.http.get();
    deps.ssh = &ssh;
    deps.console_factory = MakeConsoleFactory(*connection.session, *connection.http, ssh);
    auto run = std::make_unique<job::JobRun>(std::move(deps), job->id, job->spec);
    job::JobRun* runner = run.get();
    {
      std::lock_guard lock(mu);
      job->run = std::move(run);
    }
    // Renews the lease every ttl/3 while the job runs.
    std::jthread renewer([&, this](std::stop_token stop) {
      std::mutex m;
      std::condition_variable_any wake;
      const auto period = std::max<milliseconds>(options.lease_ttl / 3, milliseconds(100));
      for (;;) {
        std::unique_lock l(m);
        if (wake.wait_for(l, stop, period, [] { return false; }) || stop.stop_requested()) return;
        lease.now = Now();
        if (auto r = RenewLease(*connection.session, lease); !r.ok()) {
          spdlog::warn("job {}: renewing the lease of VM {} failed: {}", job->id, job->vm,
                       r.error().ToString());
        }
      }
    });
    Observer observer(*this, job);
    job::JobReport report = runner->Run(job->stop.get_token(), &observer);
    renewer.request_stop();
    renewer.join();
    return report;
  }

  void Finish(const std::shared_ptr<Job>& job, const job::JobReport& report) {
    store::JobRow row;
    {
      std::lock_guard lock(mu);
      row = job->row;
    }
    ApplyReport(report, &row);
    if (!row.finished_at) row.finished_at = Now();
    const std::vector<store::PhaseRow> phases = PhaseRows(report);
    if (auto r = store.FinishJob(row, phases); !r.ok()) {
      spdlog::error("job {}: recording its end failed: {}", job->id, r.error().ToString());
    }
    spdlog::info(
        "job {}: {}{}", job->id, row.state,
        row.failure_code.empty() ? "" : " (" + row.failure_code + ": " + row.failure_message + ")");
    std::lock_guard lock(mu);
    job->row = row;
    Retire(job, phases);
    --running_count;
    reap.push_back(std::move(job->thread));
    Pump();
    cv.notify_all();
  }

  // A job leaves `active` (mu held): cached, VM released, watchers told and dropped.
  void Retire(const std::shared_ptr<Job>& job, const std::vector<store::PhaseRow>& phases) {
    Finished& f = recent[job->id];
    f.row = job->row;
    f.info = InfoFromRow(job->row, phases, true);
    f.report = std::move(f.info.report);
    f.info.report = nullptr;
    recent_order.push_back(job->id);
    while (recent_order.size() > options.recent_jobs_cached) {
      recent.erase(recent_order.front());
      recent_order.pop_front();
    }
    auto& q = vm_jobs[job->vm];
    q.erase(std::remove(q.begin(), q.end(), job->id), q.end());
    if (q.empty()) vm_jobs.erase(job->vm);
    proto::JobEvent e = Event(*job, "end");
    e.end = f.info;
    Emit(*job, e);
    job->watchers.clear();
    active.erase(job->id);
  }

  // The live view of an active job (mu held).
  proto::JobInfo LiveInfo(const Job& job, bool with_report) const {
    proto::JobInfo info = InfoFromRow(job.row, {}, false);
    info.waiting = job.waiting;
    if (job.progress) info.upload = ProgressInfoOf(*job.progress);
    if (job.run) {
      const job::JobReport snap = job.run->Snapshot();
      for (const auto& p : snap.phases) info.phases.push_back(PhaseInfoOf(p));
      if (snap.address) info.ip = snap.address->address;
      if (with_report) info.report = job::ToJson(snap);
    }
    return info;
  }
};

JobService::JobService(store::JobStore& store, PoolRegistry& pools, ssh::SshClient& ssh,
                       std::shared_ptr<const Config> config, JobServiceOptions options)
    : impl_(std::make_unique<Impl>(store, pools, ssh, std::move(config), std::move(options))) {
  std::error_code ec;
  std::filesystem::create_directories(impl_->options.log_dir, ec);
  if (impl_->options.max_concurrent_jobs < 1) impl_->options.max_concurrent_jobs = 1;
}

JobService::~JobService() { Shutdown(milliseconds(0)); }

Result<std::vector<store::JobRow>> JobService::Recover(std::string_view reason) {
  FRUIX_ASSIGN_OR_RETURN(std::vector<store::JobRow> rows,
                         impl_->store.MarkInterrupted(reason, Now()));
  std::shared_ptr<const Config> config = this->config();
  // One login attempt per pool: a pool that is down costs one timeout, not one per job. (Leases
  // left behind are ours: our own later jobs take them over anyway; releasing them frees the VMs
  // for other daemons.)
  std::map<std::string, Result<std::shared_ptr<PoolConnection>>> connections;
  for (const auto& row : rows) {
    spdlog::warn("job {}: marked interrupted ({})", row.job_id, reason);
    const PoolConfig* pool = config->FindPool(row.pool);
    if (pool == nullptr || row.vm_uuid.empty()) continue;
    auto it = connections.find(row.pool);
    if (it == connections.end()) it = connections.emplace(row.pool, impl_->pools.Get(*pool)).first;
    if (!it->second.ok()) {
      spdlog::warn("job {}: cannot release the lease of VM {}: {}", row.job_id, row.vm_uuid,
                   it->second.error().ToString());
      continue;
    }
    LeaseRequest req{row.vm_uuid, impl_->options.owner, row.job_id, impl_->options.lease_ttl,
                     Now()};
    if (auto r = ReleaseLease(*(*it->second)->session, req); !r.ok()) {
      spdlog::warn("job {}: cannot release the lease of VM {}: {}", row.job_id, row.vm_uuid,
                   r.error().ToString());
    }
  }
  return rows;
}

void JobService::SetConfig(std::shared_ptr<const Config> config) {
  std::lock_guard lock(impl_->mu);
  impl_->config = std::move(config);
}

std::shared_ptr<const Config> JobService::config() const {
  std::lock_guard lock(impl_->mu);
  return impl_->config;
}

Result<proto::DeployStartResult> JobService::Start(DeployRequest request,
                                                   proto::RpcError* refusal) {
  impl_->ReapThreads();
  const proto::DeployStartParams& p = request.params;
  std::shared_ptr<const Config> cfg = config();

  // The target.
  TargetConfig target;
  if (!p.target.empty()) {
    const TargetConfig* t = cfg->FindTarget(p.target);
    if (t == nullptr) {
      std::string known;
      for (const auto& [name, unused] : cfg->targets) known += (known.empty() ? "" : ", ") + name;
      return Refuse(refusal, proto::RpcCode::kNotFound,
                    Error::NotFound("unknown target \"" + p.target +
                                    "\" (configured: " + (known.empty() ? "none" : known) + ")"),
                    {{"target", p.target}});
    }
    target = *t;
  } else {
    const proto::ExplicitTarget& e = *p.explicit_target;
    auto t = ExplicitTarget(*cfg, e.pool, e.vm_uuid, e.vdi_uuid, e.network_uuid, e.mac);
    if (!t.ok()) {
      return Refuse(refusal,
                    t.error().code() == ErrorCode::kNotFound ? proto::RpcCode::kNotFound
                                                             : proto::RpcCode::kInvalidParams,
                    t.error());
    }
    target = std::move(t).value();
  }
  const PoolConfig* pool = cfg->FindPool(target.pool);
  if (pool == nullptr) {
    return Refuse(refusal, proto::RpcCode::kNotFound,
                  Error::NotFound("target's pool \"" + target.pool + "\" is not configured"));
  }

  // The request's overrides.
  auto invalid = [&](const std::string& m) {
    return Refuse(refusal, proto::RpcCode::kInvalidParams, Error::InvalidArgument(m));
  };
  DeployOverrides o;
  const proto::DeployOptions& opt = p.options;
  if (opt.format) {
    auto f = image::ParseStreamFormat(*opt.format);
    if (!f.ok()) return invalid("options.format: " + f.error().message());
    o.format = *f;
  }
  if (opt.zero_fill) {
    auto z = image::ParseZeroFill(*opt.zero_fill);
    if (!z.ok()) return invalid("options.zero_fill: " + z.error().message());
    o.zero_fill = *z;
  }
  o.force = opt.force;
  if (opt.after_run) {
    auto a = job::ParseAfterRun(*opt.after_run);
    if (!a) {
      return invalid("options.after_run: \"" + *opt.after_run +
                     "\" is not leave-running, shutdown or shutdown-on-success");
    }
    o.after_run = *a;
  }
  o.expected_marker = opt.expected_marker;
  o.marker_path = opt.marker_path;
  for (const auto& [name, ms] : opt.timeouts_ms) {
    auto phase = job::ParsePhase(name);
    if (!phase || job::IsTerminal(*phase)) {
      return invalid("options.timeouts_ms." + name +
                     ": not a phase (preflight, prepare, upload, attach, start, boot, network, "
                     "ssh)");
    }
    o.timeouts[*phase] = milliseconds(ms);
  }
  if (!p.image.path.empty()) o.image_path = p.image.path;
  o.image_file = request.image_file;

  const std::string id = NewJobId();
  const std::filesystem::path console_log = impl_->options.log_dir / (id + ".console.log");
  auto spec = BuildJobSpec(target, o, console_log);
  if (!spec.ok()) return invalid(spec.error().message());
  if (opt.ssh && !*opt.ssh) spec->ssh.reset();
  if (spec->image_path.empty() && request.image_file) spec->image_path = request.image_file->path();

  store::JobRow row;
  row.job_id = id;
  row.target = target.name;
  row.pool = target.pool;
  row.vm_uuid = target.vm_uuid;
  row.vdi_uuid = target.vdi_uuid;
  row.image = spec->image_path;
  row.state = "queued";
  row.requested_by_uid = request.requester.uid;
  row.requested_by_user = request.requester.user;
  row.created_at = Now();
  row.console_log = console_log.string();
  row.options_json = proto::ToJson(opt).dump();

  std::unique_lock lock(impl_->mu);
  if (!impl_->accepting) {
    return Refuse(refusal, proto::RpcCode::kShuttingDown,
                  Error::Unavailable("fruixd is shutting down; no new jobs"));
  }
  auto busy = impl_->vm_jobs.find(target.vm_uuid);
  const bool vm_busy = busy != impl_->vm_jobs.end() && !busy->second.empty();
  if (vm_busy && !opt.queue) {
    const std::string holder = busy->second.front();
    return Refuse(refusal, proto::RpcCode::kBusy,
                  Error::FailedPrecondition("VM " + target.vm_uuid + " already has job " + holder +
                                            " (" + impl_->active[holder]->row.state +
                                            "); pass --queue to run after it"),
                  {{"job_id", holder}});
  }
  const bool must_wait =
      vm_busy || impl_->running_count >= static_cast<size_t>(impl_->options.max_concurrent_jobs);
  if (must_wait &&
      impl_->pending.size() >= static_cast<size_t>(std::max(0, impl_->options.max_queued_jobs))) {
    return Refuse(
        refusal, proto::RpcCode::kQueueFull,
        Error::Unavailable("the job queue is full (" + std::to_string(impl_->pending.size()) +
                           " jobs wait; max_queued_jobs)"));
  }
  if (auto r = impl_->store.CreateJob(row); !r.ok()) {
    return Refuse(refusal, proto::RpcCode::kUnavailable,
                  r.error().WithContext("recording the job"));
  }
  auto job = std::make_shared<Impl::Job>();
  job->id = id;
  job->row = row;
  job->vm = target.vm_uuid;
  job->pool = *pool;
  job->spec = std::move(spec).value();
  impl_->active[id] = job;
  impl_->vm_jobs[job->vm].push_back(id);
  impl_->pending.push_back(id);
  impl_->Pump();
  spdlog::info("job {}: accepted from {} (uid {}) for VM {}, image {}", id, row.requested_by_user,
               row.requested_by_uid, row.vm_uuid, row.image);
  proto::DeployStartResult result;
  result.job_id = id;
  result.state = job->started ? "running" : "queued";
  result.queue_position = impl_->QueuePosition(id);
  return result;
}

Result<proto::JobInfo> JobService::Get(const std::string& job_id, bool with_report) {
  {
    std::lock_guard lock(impl_->mu);
    if (auto it = impl_->active.find(job_id); it != impl_->active.end()) {
      return impl_->LiveInfo(*it->second, with_report);
    }
    if (auto it = impl_->recent.find(job_id); it != impl_->recent.end()) {
      proto::JobInfo info = it->second.info;
      if (with_report) info.report = it->second.report;
      return info;
    }
  }
  FRUIX_ASSIGN_OR_RETURN(store::JobRow row, impl_->store.GetJob(job_id));
  FRUIX_ASSIGN_OR_RETURN(std::vector<store::PhaseRow> phases, impl_->store.Phases(job_id));
  return InfoFromRow(row, phases, with_report);
}

std::shared_ptr<const std::string> JobService::EncodedGet(const std::string& job_id,
                                                          bool with_report) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->recent.find(job_id);
  if (it == impl_->recent.end()) return nullptr;
  Impl::Finished& f = it->second;
  std::shared_ptr<const std::string>& slot = f.encoded[with_report ? 1 : 0];
  if (!slot) {
    proto::JobGetResult result{f.info};
    if (with_report) result.job.report = f.report;
    slot = std::make_shared<const std::string>(
        proto::ToJson(result).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return slot;
}

Result<proto::JobListResult> JobService::List(const proto::JobListParams& params) {
  store::JobFilter filter;
  for (const auto& s : params.states) filter.states.insert(s);
  filter.target = params.target;
  filter.since = params.since;
  filter.limit = static_cast<size_t>(std::clamp<uint64_t>(params.limit, 1, 1000)) + 1;
  filter.before = params.before;
  FRUIX_ASSIGN_OR_RETURN(std::vector<store::JobRow> rows, impl_->store.ListJobs(filter));
  proto::JobListResult out;
  out.more = rows.size() > params.limit;
  if (out.more) rows.resize(params.limit);
  std::lock_guard lock(impl_->mu);
  for (const auto& row : rows) {
    auto it = impl_->active.find(row.job_id);
    proto::JobInfo info = it != impl_->active.end() ? impl_->LiveInfo(*it->second, false)
                                                    : InfoFromRow(row, {}, false);
    info.phases.clear();
    out.jobs.push_back(std::move(info));
  }
  return out;
}

Result<proto::JobCancelResult> JobService::Cancel(const std::string& job_id) {
  std::unique_lock lock(impl_->mu);
  auto it = impl_->active.find(job_id);
  if (it == impl_->active.end()) {
    lock.unlock();
    FRUIX_ASSIGN_OR_RETURN(store::JobRow row, impl_->store.GetJob(job_id));
    return Error::FailedPrecondition("job " + job_id + " already ended (" + row.state + ")");
  }
  std::shared_ptr<Impl::Job> job = it->second;
  if (job->started) {
    job->stop.request_stop();
    spdlog::info("job {}: cancel requested", job_id);
    return proto::JobCancelResult{job_id, job->row.state};
  }
  // Still queued: it never ran, so it ends here.
  impl_->pending.erase(std::remove(impl_->pending.begin(), impl_->pending.end(), job_id),
                       impl_->pending.end());
  job->row.state = "cancelled";
  job->row.finished_at = Now();
  job->row.failure_code.clear();
  if (auto r = impl_->store.FinishJob(job->row, {}); !r.ok()) {
    spdlog::error("job {}: recording its cancellation failed: {}", job_id, r.error().ToString());
  }
  impl_->Retire(job, {});
  impl_->Pump();
  impl_->cv.notify_all();
  spdlog::info("job {}: cancelled while queued", job_id);
  return proto::JobCancelResult{job_id, "cancelled"};
}

Result<JobService::WatchStart> JobService::Watch(const std::string& job_id, bool console,
                                                 uint64_t console_since, EventSink sink) {
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->active.find(job_id);
    if (it != impl_->active.end()) {
      Impl::Job& job = *it->second;
      WatchStart w;
      w.job = impl_->LiveInfo(job, false);
      w.watching = true;
      w.token = impl_->next_token++;
      if (console && job.run) {
        for (const auto& line : job.run->ConsoleLines(console_since, 10000)) {
          proto::JobEvent e = impl_->Event(job, "console");
          e.console = ConsoleLineInfoOf(line, false);
          sink(e);
        }
      }
      job.watchers.push_back({w.token, console, std::move(sink)});
      return w;
    }
  }
  FRUIX_ASSIGN_OR_RETURN(proto::JobInfo info, Get(job_id, false));
  return WatchStart{std::move(info), false, 0};
}

void JobService::Unwatch(uint64_t token) {
  std::lock_guard lock(impl_->mu);
  for (auto& [id, job] : impl_->active) {
    auto& ws = job->watchers;
    ws.erase(std::remove_if(ws.begin(), ws.end(),
                            [token](const Impl::Watcher& w) { return w.token == token; }),
             ws.end());
  }
}

Result<proto::JobLogResult> JobService::Log(const proto::JobLogParams& params) {
  std::string path;
  bool terminal = false;
  {
    std::lock_guard lock(impl_->mu);
    if (auto it = impl_->active.find(params.job_id); it != impl_->active.end()) {
      path = it->second->row.console_log;
    } else if (auto r = impl_->recent.find(params.job_id); r != impl_->recent.end()) {
      path = r->second.row.console_log;
      terminal = true;
    }
  }
  if (path.empty()) {
    FRUIX_ASSIGN_OR_RETURN(store::JobRow row, impl_->store.GetJob(params.job_id));
    path = row.console_log;
    terminal = store::IsTerminalState(row.state);
  }
  proto::JobLogResult out;
  out.job_id = params.job_id;
  out.path = path;
  const int fd = path.empty() ? -1 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (!path.empty() && errno != ENOENT) {
      return Error::Io("cannot read console log " + path + ": " + std::strerror(errno));
    }
    out.complete = terminal;
    return out;  // no console output (yet)
  }
  struct stat st {};
  ::fstat(fd, &st);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t offset = std::min<uint64_t>(params.offset.value_or(0), size);
  if (params.tail_lines) {
    // Walk back from the end to the start of the last N lines (reading at most 4 MiB).
    const uint64_t window = std::min<uint64_t>(size, 4u << 20);
    std::string tail(window, '\0');
    const ssize_t n = ::pread(fd, tail.data(), window, static_cast<off_t>(size - window));
    tail.resize(n > 0 ? static_cast<size_t>(n) : 0);
    uint64_t lines = 0;
    size_t pos = tail.size();
    if (pos > 0 && tail[pos - 1] == '\n') --pos;  // the last line's own newline
    offset = size - window;
    while (pos > 0) {
      if (tail[pos - 1] == '\n' && ++lines >= *params.tail_lines) {
        offset = size - window + pos;
        break;
      }
      --pos;
    }
    if (*params.tail_lines == 0) offset = size;
  }
  const uint64_t want = std::min<uint64_t>(params.max_bytes, size - offset);
  out.data.resize(static_cast<size_t>(want));
  const ssize_t got = want ? ::pread(fd, out.data.data(), want, static_cast<off_t>(offset)) : 0;
  ::close(fd);
  out.data.resize(got > 0 ? static_cast<size_t>(got) : 0);
  out.offset = offset;
  out.next_offset = offset + out.data.size();
  out.size = size;
  out.complete = terminal && out.next_offset >= size;
  return out;
}

proto::HealthResult JobService::Health() const {
  proto::HealthResult h;
  std::shared_ptr<const Config> cfg;
  {
    std::lock_guard lock(impl_->mu);
    h.jobs_running = impl_->running_count;
    h.jobs_queued = impl_->pending.size();
    h.max_concurrent_jobs = static_cast<uint64_t>(impl_->options.max_concurrent_jobs);
    h.status = impl_->accepting ? "ok" : "stopping";
    cfg = impl_->config;
  }
  h.uptime_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<milliseconds>(Clock::now() - impl_->started_at).count());
  h.pools = impl_->pools.Health(*cfg);
  auto version = impl_->store.SchemaVersion();
  h.store = version.ok() ? "ok" : version.error().ToString();
  if (h.status == "ok") {
    const bool pool_error =
        std::any_of(h.pools.begin(), h.pools.end(),
                    [](const proto::PoolHealth& p) { return p.state == "error"; });
    if (pool_error || !version.ok()) h.status = "degraded";
  }
  return h;
}

proto::TargetsListResult JobService::Targets() const {
  proto::TargetsListResult out;
  std::lock_guard lock(impl_->mu);
  for (const auto& [name, t] : impl_->config->targets) {
    proto::TargetInfo info;
    info.name = name;
    info.pool = t.pool;
    info.vm_uuid = t.vm_uuid;
    info.vdi_uuid = t.vdi_uuid;
    info.network_uuid = t.network_uuid;
    info.mac = t.mac;
    info.console = t.settings.console.kind;
    info.ssh = t.settings.ssh.has_value();
    if (auto it = impl_->vm_jobs.find(t.vm_uuid);
        it != impl_->vm_jobs.end() && !it->second.empty()) {
      info.active_job = it->second.front();
    }
    out.targets.push_back(std::move(info));
  }
  return out;
}

void JobService::StopAccepting() {
  std::lock_guard lock(impl_->mu);
  impl_->accepting = false;
}

void JobService::Shutdown(milliseconds grace) {
  std::vector<std::string> queued;
  {
    std::lock_guard lock(impl_->mu);
    impl_->accepting = false;
    queued.assign(impl_->pending.begin(), impl_->pending.end());
  }
  for (const auto& id : queued) (void)Cancel(id);
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait_for(lock, grace, [&] { return impl_->running_count == 0; });
    for (auto& [id, job] : impl_->active) {
      if (job->started) {
        spdlog::warn("job {}: cancelled by shutdown", id);
        job->stop.request_stop();
      }
    }
    impl_->cv.wait(lock, [&] { return impl_->running_count == 0; });
  }
  impl_->ReapThreads();
}

size_t JobService::running() const {
  std::lock_guard lock(impl_->mu);
  return impl_->running_count;
}

size_t JobService::queued() const {
  std::lock_guard lock(impl_->mu);
  return impl_->pending.size();
}

}  // namespace fruix::daemon
