#include "lib/job/runner.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "lib/console/patterns.h"
#include "lib/image/image_source.h"
#include "lib/job/lease_file.h"
#include "lib/job/state_machine.h"
#include "lib/ssh/readiness.h"
#include "lib/upload/importer.h"
#include "lib/xenapi/api.h"
#include "lib/xenapi/events.h"

namespace fruix::job {
namespace {

using std::chrono::milliseconds;

constexpr size_t kExcerptLines = 30;

// The outcome of one phase action.
struct PhaseOutcome {
  Signal signal = Signal::kPhaseDone;
  std::optional<Error> error;
  std::string detail;
  std::string code;  // failure code override ("ssh:marker-missing")
};

PhaseOutcome Done(std::string detail = {}) {
  return {Signal::kPhaseDone, std::nullopt, detail, {}};
}

// An observation from a helper thread that ends the job (VM power change, console signature).
struct AsyncFailure {
  Signal signal;
  std::string code;
  std::string message;
  std::vector<std::string> excerpt;  // empty: the runner takes the console's last lines
};

// Waits on `cv` for `ready()` until `until` (on `clock`) or `stop`, in real-time slices so a
// test clock is re-read.
template <typename Pred>
bool WaitUntil(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock,
               const Clock& clock, Clock::TimePoint until, std::stop_token stop, Pred ready) {
  while (!ready()) {
    if (stop.stop_requested() || clock.Now() >= until) return false;
    auto slice = std::min<Clock::Duration>(until - clock.Now(), milliseconds(100));
    cv.wait_for(lock, stop, slice, ready);
  }
  return true;
}

}  // namespace

struct JobRun::Impl {
  Impl(RunnerDeps d, std::string id, JobSpec s)
      : deps(std::move(d)),
        clock(deps.clock != nullptr ? *deps.clock : RealClock()),
        job_id(std::move(id)),
        spec(std::move(s)),
        book(clock, spec.address.sources) {}

  // ---- fixed for the run ----
  RunnerDeps deps;
  const Clock& clock;
  const std::string job_id;
  const JobSpec spec;
  PhasePlan plan;
  Clock::TimePoint started{};
  JobObserver* observer = nullptr;

  // ---- shared with helper threads (guarded by mu) ----
  mutable std::mutex mu;
  std::condition_variable_any cv;
  JobReport report;
  std::string waiting_text;
  std::optional<AsyncFailure> pending;  // first guest failure seen by a helper
  std::string boot_evidence;            // non-empty once the guest showed it is up
  std::vector<MilestoneRecord> milestones;
  AddressBook book;
  std::stop_source abort;  // cancel, or an async failure: aborts the current phase's call

  // ---- owned by Run()'s thread ----
  ResolvedTarget target;
  std::shared_ptr<const image::ImageSource> image_source;  // opened in preflight, sent in upload
  std::optional<LeaseEntry> lease_before;
  std::unique_ptr<console::ConsoleRecorder> recorder;
  std::unique_ptr<console::PatternMatcher> matcher;  // used on the recorder's thread only
  std::set<std::string> boot_complete;
  std::jthread monitor;
  std::jthread lease_watch;

  // ---------------------------------------------------------------------------------------
  milliseconds SinceStart() const {
    return std::chrono::duration_cast<milliseconds>(clock.Now() - started);
  }

  void SetWaiting(Phase phase, std::string what) {
    {
      std::lock_guard lock(mu);
      if (waiting_text == what) return;
      waiting_text = what;
    }
    if (observer != nullptr) observer->OnWaiting(phase, what);
  }

  void RaiseAsync(AsyncFailure f) {
    {
      std::lock_guard lock(mu);
      if (pending) return;
      pending = std::move(f);
    }
    abort.request_stop();
    cv.notify_all();
  }

  void NoteBootEvidence(std::string what) {
    std::lock_guard lock(mu);
    if (boot_evidence.empty()) {
      boot_evidence = std::move(what);
      cv.notify_all();
    }
  }

  void ReportAddress(AddressSource source, const std::string& address, std::string evidence) {
    const bool configured = std::find(spec.address.sources.begin(), spec.address.sources.end(),
                                      source) != spec.address.sources.end();
    if (configured) book.Report(source, address, evidence);
    NoteBootEvidence("address " + address + " from " + std::string(ToString(source)));
  }

  std::vector<std::string> ConsoleTail() const {
    std::vector<std::string> out;
    if (recorder) {
      for (auto& l : recorder->Tail(kExcerptLines)) out.push_back(std::move(l.text));
    }
    return out;
  }

  // ---- console ----
  void OnConsoleLine(const console::ConsoleLine& line, bool partial) {
    if (observer != nullptr) observer->OnConsoleLine(line, partial);
    for (auto& m : matcher->Feed(line.text, partial)) {
      switch (m.kind) {
        case console::PatternKind::kFailure:
          RaiseAsync({Signal::kConsoleFailure, "console:" + m.name,
                      "console line matched failure signature " + m.name + ": " + m.line,
                      std::move(m.excerpt)});
          break;
        case console::PatternKind::kAddress:
          ReportAddress(AddressSource::kConsole, m.address, m.line);
          break;
        case console::PatternKind::kMilestone: {
          MilestoneRecord rec{m.name, m.line, m.line_number, SinceStart()};
          {
            std::lock_guard lock(mu);
            milestones.push_back(rec);
          }
          if (observer != nullptr) observer->OnMilestone(rec);
          if (boot_complete.contains(m.name)) NoteBootEvidence("console milestone " + m.name);
          break;
        }
      }
    }
  }

  Result<void> StartConsole() {
    if (spec.console.kind == console::kNoneKind) return Ok();
    if (!deps.console_factory) {
      return Error::FailedPrecondition("console source " + spec.console.kind +
                                       " is configured but no console factory was given");
    }
    FRUIX_ASSIGN_OR_RETURN(std::unique_ptr<console::ConsoleSource> source,
                           deps.console_factory({spec.console, spec.vm_uuid, target.vm}));
    console::ConsoleRecorderOptions options;
    options.log_path = spec.console_log;
    options.on_line = [this](const console::ConsoleLine& line, bool partial) {
      OnConsoleLine(line, partial);
    };
    FRUIX_ASSIGN_OR_RETURN(recorder, console::ConsoleRecorder::Start(std::move(source), options));
    return Ok();
  }

  // ---- VM monitor ----
  void MonitorLoop(std::stop_token stop, int64_t start_domid, std::string vif_device) {
    xenapi::Session& session = *deps.session;
    xenapi::Api api(session);
    xenapi::EventWatcher watcher(
        session,
        {xenapi::ObjectSubscription("VM", target.vm),
         xenapi::ClassSubscription("VM_guest_metrics")},
        xenapi::EventWatcherOptions{std::chrono::seconds(10), std::chrono::seconds(2)});
    OpaqueRef metrics;
    auto take_metrics = [&](const xenapi::GuestMetricsRecord& gm) {
      for (const std::string& ip : GuestMetricsAddresses(gm.networks, vif_device)) {
        ReportAddress(AddressSource::kGuestMetrics, ip,
                      "VM_guest_metrics.networks of VIF " + vif_device);
      }
    };
    while (!stop.stop_requested()) {
      auto batch = watcher.Next(Deadline(RealClock(), std::chrono::hours(1)), stop);
      if (!batch.ok()) {
        if (stop.stop_requested()) return;
        // xapi unreachable for a moment: the console and SSH still work; try again.
        std::mutex m;
        std::unique_lock lock(m);
        std::condition_variable_any pause;
        pause.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
        watcher.Restart();
        continue;
      }
      for (const xenapi::Event& e : batch->events) {
        if (!e.snapshot) continue;
        if (e.class_name == "vm" && e.ref == target.vm) {
          auto rec = xenapi::VmRecord::Parse(*e.snapshot);
          if (!rec.ok()) continue;
          if (rec->power_state == xenapi::VmPowerState::kHalted) {
            RaiseAsync({Signal::kVmHalted, "vm-halted", "the VM halted by itself", {}});
            return;
          }
          if (rec->power_state == xenapi::VmPowerState::kPaused) {
            RaiseAsync({Signal::kVmCrashed,
                        "vm-crashed",
                        "the VM crashed and was preserved (power state Paused)",
                        {}});
            return;
          }
          if (rec->domid != start_domid && rec->domid >= 0) {
            RaiseAsync({Signal::kVmRebooted,
                        "vm-rebooted",
                        "the VM rebooted (domid " + std::to_string(start_domid) + " -> " +
                            std::to_string(rec->domid) + ")",
                        {}});
            return;
          }
          if (!rec->guest_metrics.is_null() && rec->guest_metrics != metrics) {
            metrics = rec->guest_metrics;
            auto gm = api.GetRecord<xenapi::GuestMetricsRecord>(metrics);
            if (gm.ok()) take_metrics(*gm);
          }
        } else if (e.class_name == "vm_guest_metrics" && !metrics.is_null() && e.ref == metrics) {
          auto gm = xenapi::GuestMetricsRecord::Parse(*e.snapshot);
          if (gm.ok()) take_metrics(*gm);
        }
      }
    }
  }

  // ---- lease file ----
  void LeaseLoop(std::stop_token stop, std::string mac) {
    std::mutex m;
    std::condition_variable_any pause;
    while (!stop.stop_requested()) {
      auto lease = LookupLease(spec.address.lease_file, mac);
      if (lease.ok() && *lease && *lease != lease_before) {
        ReportAddress(AddressSource::kLeaseFile, (*lease)->address, (*lease)->raw);
        return;
      }
      std::unique_lock lock(m);
      pause.wait_for(lock, stop, milliseconds(250), [] { return false; });
    }
  }

  // ---- phases ----
  PhaseOutcome FromError(const Error& e, const Deadline& deadline) {
    if (e.code() == ErrorCode::kTimeout && deadline.expired()) {
      return {Signal::kPhaseTimeout, e, {}, {}};
    }
    return {Signal::kPhaseFailed, e, {}, {}};
  }

  PhaseOutcome RunPreflight(const Deadline& deadline) {
    if (auto v = Validate(spec); !v.ok()) return FromError(v.error(), deadline);
    auto t = Resolve(*deps.session, spec.vm_uuid, spec.vdi_uuid, spec.network_uuid);
    if (!t.ok()) return FromError(t.error(), deadline);
    target = std::move(t).value();
    if (spec.image_file || !spec.image_path.empty()) {
      auto opened = spec.image_file ? image::ImageSource::Open(spec.image_file)
                                    : image::ImageSource::Open(spec.image_path);
      if (!opened.ok()) return FromError(opened.error(), deadline);
      image_source = std::make_shared<const image::ImageSource>(std::move(opened).value());
    }
    if (image_source) {
      const image::ImageSource* source = image_source.get();
      const auto vdi_size =
          static_cast<uint64_t>(std::max<int64_t>(target.vdi_record.virtual_size, 0));
      if (source->virtual_size() > vdi_size) {
        return FromError(Error::InvalidArgument(
                             "image " + spec.image_path + " has a virtual size of " +
                             std::to_string(source->virtual_size()) + " bytes, more than the " +
                             std::to_string(vdi_size) + " bytes of VDI " + spec.vdi_uuid),
                         deadline);
      }
    }
    if (spec.console.kind != console::kNoneKind && !deps.console_factory) {
      return FromError(
          Error::FailedPrecondition("no console factory for console source " + spec.console.kind),
          deadline);
    }
    if (spec.ssh && deps.ssh == nullptr) {
      return FromError(Error::FailedPrecondition("an SSH check is configured but no SSH client"),
                       deadline);
    }
    return Done("VM " + target.vm_record.name_label + ", VDI " + target.vdi_record.name_label +
                ", network " + target.network_record.name_label);
  }

  PhaseOutcome RunPrepare(const Deadline& deadline, std::stop_token stop) {
    auto r = EnsureHalted(*deps.session, target.vm, spec.shutdown, spec.clean_shutdown_timeout,
                          deadline, stop);
    if (!r.ok()) return FromError(r.error(), deadline);
    {
      std::lock_guard lock(mu);
      report.prepare = *r;
    }
    return Done(std::string(xenapi::ToString(r->found)) + ": " + r->action);
  }

  PhaseOutcome RunUpload(const Deadline& deadline, std::stop_token stop) {
    upload::ImportOptions options = spec.import;
    options.cancel = stop;
    options.timeout = std::chrono::duration_cast<milliseconds>(deadline.remaining());
    options.progress = [this](const upload::ImportProgress& p) {
      if (observer != nullptr) observer->OnUploadProgress(p);
    };
    upload::Importer importer(*deps.session, *deps.upload_http);
    auto r = importer.Import(spec.vdi_uuid, *image_source, options);
    if (!r.ok()) return FromError(r.error(), deadline);
    {
      std::lock_guard lock(mu);
      report.upload = *r;
    }
    if (r->skipped) return Done("identical content already on the VDI; upload skipped");
    return Done(std::to_string(r->bytes_sent) + " bytes sent to " + r->host_address);
  }

  PhaseOutcome RunAttach(const Deadline& deadline) {
    auto r = EnsureAttached(*deps.session, target, spec.mac);
    if (!r.ok()) return FromError(r.error(), deadline);
    {
      std::lock_guard lock(mu);
      report.attach = *r;
    }
    // The lease the MAC holds before this boot does not count as this boot's answer.
    if (!spec.address.lease_file.empty()) {
      auto before = LookupLease(spec.address.lease_file, r->mac);
      if (before.ok()) lease_before = *before;
    }
    return Done(std::string(r->vbd_created ? "created" : "reused") + " VBD " + r->vbd_userdevice +
                ", " + (r->vif_created ? "created" : "reused") + " VIF " + r->vif_device +
                " (MAC " + r->mac + ")");
  }

  PhaseOutcome RunStart(const Deadline& deadline, std::stop_token stop) {
    auto r = StartVm(*deps.session, target.vm, spec.start_on_host, deadline, stop);
    if (!r.ok()) return FromError(r.error(), deadline);
    {
      std::lock_guard lock(mu);
      report.start = *r;
    }
    // Watchers start now, so nothing the guest does from here on is missed.
    if (auto c = StartConsole(); !c.ok()) return FromError(c.error(), deadline);
    const std::string device = report.attach ? report.attach->vif_device : "0";
    monitor = std::jthread(
        [this, domid = r->domid, device](std::stop_token st) { MonitorLoop(st, domid, device); });
    const bool lease = std::find(spec.address.sources.begin(), spec.address.sources.end(),
                                 AddressSource::kLeaseFile) != spec.address.sources.end();
    if (lease && report.attach) {
      lease_watch = std::jthread(
          [this, mac = report.attach->mac](std::stop_token st) { LeaseLoop(st, mac); });
    }
    return Done("domid " + std::to_string(r->domid) + " on " + r->host_address);
  }

  // Evidence that the guest is up needs a console to watch (a milestone, a DHCP line) — an
  // address from any source counts too. Without a console nothing can tell booting from
  // waiting for an address, so boot ends once the VM runs and network does the waiting.
  bool HasBootEvidenceSource() const { return spec.console.kind != console::kNoneKind; }

  PhaseOutcome RunBoot(const Deadline& deadline, std::stop_token stop) {
    if (!HasBootEvidenceSource()) {
      return Done("no console to watch: boot assumed once the VM runs");
    }
    std::string names;
    for (const auto& n : boot_complete) names += (names.empty() ? "" : ", ") + n;
    SetWaiting(Phase::kBoot, "waiting for the guest to come up: " + book.StatusText() +
                                 (names.empty() ? "" : "; or console milestone " + names));
    std::unique_lock lock(mu);
    if (!WaitUntil(cv, lock, clock, deadline.at(), stop, [&] { return !boot_evidence.empty(); })) {
      lock.unlock();
      if (stop.stop_requested())
        return {Signal::kPhaseFailed, Error::Cancelled("boot wait"), {}, {}};
      return {Signal::kPhaseTimeout,
              Error::Timeout("the guest showed no sign of life within " +
                             std::to_string(spec.timeouts.boot.count()) + " ms (" +
                             book.StatusText() + ")"),
              {},
              {}};
    }
    return Done(boot_evidence);
  }

  PhaseOutcome RunNetwork(const Deadline& deadline, std::stop_token stop) {
    if (std::find(spec.address.sources.begin(), spec.address.sources.end(),
                  AddressSource::kStatic) != spec.address.sources.end()) {
      book.Report(AddressSource::kStatic, spec.address.static_address, "configured");
    }
    SetWaiting(Phase::kNetwork, book.StatusText());
    auto winner = book.WaitForWinner(deadline.at(), stop);
    if (!winner) {
      if (stop.stop_requested()) {
        return {Signal::kPhaseFailed, Error::Cancelled("address wait"), {}, {}};
      }
      return {Signal::kPhaseTimeout,
              Error::Timeout("no address within " + std::to_string(spec.timeouts.network.count()) +
                             " ms; " + book.StatusText()),
              {},
              {}};
    }
    return Done(winner->address + " from " + std::string(ToString(winner->source)));
  }

  PhaseOutcome RunSsh(const Deadline& deadline, std::stop_token stop) {
    ssh::ReadinessSpec rs = *spec.ssh;
    auto winner = book.Winner();
    if (!winner) return FromError(Error::Internal("ssh phase without an address"), deadline);
    rs.endpoint.host = winner->address;
    ssh::SshWaitStatus final_status;
    ssh::WaitOptions wo;
    wo.final_status = &final_status;
    wo.clock = &clock;
    auto on_status = [this](const ssh::SshWaitStatus& s) {
      {
        std::lock_guard lock(mu);
        report.ssh = SshReport{s, std::nullopt};
      }
      SetWaiting(Phase::kSsh, "ssh: " + std::string(ssh::ToString(s.state)) + " (attempt " +
                                  std::to_string(s.attempts) + ")" +
                                  (s.detail.empty() ? "" : ": " + s.detail));
    };
    auto r = ssh::WaitForReady(*deps.ssh, rs, deadline, stop, on_status, wo);
    {
      std::lock_guard lock(mu);
      report.ssh = SshReport{final_status, r.ok() ? std::optional(*r) : std::nullopt};
    }
    if (!r.ok()) {
      PhaseOutcome o = FromError(r.error(), deadline);
      if (r.error().code() != ErrorCode::kCancelled) {
        o.code = "ssh:" + SshStateToken(final_status.state);
      }
      return o;
    }
    return Done("ready as " + rs.endpoint.user + "@" + rs.endpoint.host + ", host key " +
                r->host_key_sha256);
  }

  PhaseOutcome RunPhase(Phase phase, const Deadline& deadline, std::stop_token stop) {
    switch (phase) {
      case Phase::kPreflight:
        return RunPreflight(deadline);
      case Phase::kPrepare:
        return RunPrepare(deadline, stop);
      case Phase::kUpload:
        return RunUpload(deadline, stop);
      case Phase::kAttach:
        return RunAttach(deadline);
      case Phase::kStart:
        return RunStart(deadline, stop);
      case Phase::kBoot:
        return RunBoot(deadline, stop);
      case Phase::kNetwork:
        return RunNetwork(deadline, stop);
      case Phase::kSsh:
        return RunSsh(deadline, stop);
      default:
        return Done();
    }
  }

  // ---- bookkeeping ----
  void BeginPhase(Phase p) {
    PhaseRecord rec{p, PhaseStatus::kRunning, clock.WallNow(), milliseconds(0), {}};
    {
      std::lock_guard lock(mu);
      report.state = p;
      report.phases.push_back(rec);
      waiting_text.clear();
    }
    if (observer != nullptr) observer->OnPhase(rec);
  }

  void EndPhase(PhaseStatus status, std::string detail, Clock::TimePoint began) {
    PhaseRecord rec;
    {
      std::lock_guard lock(mu);
      PhaseRecord& r = report.phases.back();
      r.status = status;
      r.duration = std::chrono::duration_cast<milliseconds>(clock.Now() - began);
      r.detail = std::move(detail);
      rec = r;
    }
    if (observer != nullptr) observer->OnPhase(rec);
  }

  void RecordSkipped(Phase from, Phase to) {
    bool between = false;
    for (Phase w : kWorkingPhases) {
      if (w == to) break;
      if (between && !plan.Runs(w)) {
        PhaseRecord rec{w, PhaseStatus::kSkipped, clock.WallNow(), milliseconds(0),
                        "not configured"};
        {
          std::lock_guard lock(mu);
          report.phases.push_back(rec);
        }
        if (observer != nullptr) observer->OnPhase(rec);
      }
      if (w == from) between = true;
    }
  }

  void Fail(Phase phase, FailureClass cls, std::string code, std::string message,
            std::vector<std::string> excerpt) {
    if (excerpt.empty()) excerpt = ConsoleTail();
    std::lock_guard lock(mu);
    report.failure =
        FailureReport{phase, std::move(code), std::move(message), cls, std::move(excerpt)};
  }

  void FillLive(JobReport& r) const {
    r.address = book.Winner();
    r.address_sources = book.All();
    r.address_silent = book.Silent();
    r.address_disagreement = book.Disagreement();
    if (spec.console.kind == console::kNoneKind) {
      r.console = ConsoleReport{
          std::string(console::kNoneKind), "no console source configured", "", "none", 0, 0, 0, {}};
    } else if (recorder) {
      auto st = recorder->Status();
      r.console = ConsoleReport{st.source_kind,
                                st.source_description,
                                st.log_path.string(),
                                std::string(console::RecorderStateName(st.state)),
                                st.bytes,
                                st.lines,
                                st.reconnects,
                                milestones};
    }
  }

  void StopHelpers() {
    if (monitor.joinable()) {
      monitor.request_stop();
      monitor.join();
    }
    if (lease_watch.joinable()) {
      lease_watch.request_stop();
      lease_watch.join();
    }
    if (recorder) recorder->Stop();
  }

  void AfterRun() {
    AfterRunReport ar;
    ar.policy = spec.after_run;
    const bool started_vm = report.start.has_value();
    const bool shut =
        spec.after_run == AfterRun::kShutdown ||
        (spec.after_run == AfterRun::kShutdownOnSuccess && report.state == Phase::kReady);
    if (!started_vm) {
      ar.action = "none (VM not started)";
    } else if (!shut) {
      ar.action = "left running";
    } else {
      ar.action = "hard_shutdown";
      auto r = HardShutdownIfRunning(*deps.session, target.vm,
                                     Deadline(RealClock(), deps.cleanup_timeout));
      if (!r.ok()) ar.error = r.error().ToString();
    }
    std::lock_guard lock(mu);
    report.after_run = ar;
  }

  JobReport Run(std::stop_token cancel, JobObserver* obs) {
    observer = obs;
    started = clock.Now();
    {
      std::lock_guard lock(mu);
      report.job_id = job_id;
      report.target = spec.target;
      report.vm_uuid = spec.vm_uuid;
      report.vdi_uuid = spec.vdi_uuid;
      report.image = spec.image_path;
      report.started_at = clock.WallNow();
    }
    if (spec.image_path.empty() && !spec.image_file) plan.skipped.insert(Phase::kUpload);
    if (!spec.ssh) plan.skipped.insert(Phase::kSsh);
    boot_complete.insert(spec.console.boot_complete.begin(), spec.console.boot_complete.end());
    if (spec.console.kind != console::kNoneKind) {
      auto specs = console::MergePatternSpecs(
          console::DefaultPatternSpecs(spec.console.os, spec.console.marker_line),
          spec.console.overrides);
      auto set = console::PatternSet::Build(specs);
      if (set.ok()) {
        matcher = std::make_unique<console::PatternMatcher>(
            std::make_shared<const console::PatternSet>(std::move(set).value()), kExcerptLines);
      } else {
        matcher = std::make_unique<console::PatternMatcher>(
            console::DefaultPatterns(spec.console.os, spec.console.marker_line), kExcerptLines);
        pattern_error = set.error();
      }
    }
    std::stop_callback on_cancel(cancel, [this] {
      abort.request_stop();
      cv.notify_all();
    });

    Phase phase = FirstPhase(plan);
    while (!IsTerminal(phase)) {
      BeginPhase(phase);
      const auto began = clock.Now();
      const Deadline deadline(clock, spec.timeouts.For(phase));
      PhaseOutcome outcome;
      if (pattern_error && phase == Phase::kPreflight) {
        outcome = FromError(pattern_error->WithContext("console patterns"), deadline);
      } else {
        outcome = RunPhase(phase, deadline, abort.get_token());
      }

      // What ended the phase: an asynchronous failure or a cancel outranks the action's result
      // (which is then only the echo of the abort).
      std::optional<AsyncFailure> async;
      {
        std::lock_guard lock(mu);
        async = pending;
      }
      Signal signal = outcome.signal;
      Decision d{phase, false, std::nullopt};
      if (async && GuestRunning(phase)) {
        signal = async->signal;
        d = Transition(phase, signal, plan);
      } else if (cancel.stop_requested()) {
        signal = Signal::kCancel;
        d = Transition(phase, signal, plan);
      } else {
        d = Transition(phase, signal, plan, outcome.error ? &*outcome.error : nullptr);
      }

      if (d.next == Phase::kFailed) {
        if (signal == outcome.signal) {
          const Error& e = *outcome.error;
          std::string code = !outcome.code.empty() ? outcome.code
                             : e.is_xapi()         ? "xapi:" + std::string(e.xapi_code())
                                                   : std::string(ErrorCodeName(e.code()));
          Fail(phase, *d.failure_class, code, e.message(), {});
          EndPhase(PhaseStatus::kFailed, e.ToString(), began);
        } else {
          Fail(phase, *d.failure_class, async->code, async->message, async->excerpt);
          EndPhase(PhaseStatus::kFailed, async->message, began);
        }
      } else if (d.next == Phase::kCancelled) {
        EndPhase(PhaseStatus::kCancelled, "cancelled", began);
      } else {
        EndPhase(PhaseStatus::kOk, outcome.detail, began);
        RecordSkipped(phase, d.next);
        // A failure seen before the guest-running phases (e.g. a crash right after start)
        // applies as soon as the job gets there.
        if (async && GuestRunning(d.next)) {
          phase = d.next;
          BeginPhase(phase);
          const auto b2 = clock.Now();
          Decision d2 = Transition(phase, async->signal, plan);
          Fail(phase, *d2.failure_class, async->code, async->message, async->excerpt);
          EndPhase(PhaseStatus::kFailed, async->message, b2);
          d = d2;
        }
      }
      phase = d.next;
    }

    StopHelpers();
    {
      std::lock_guard lock(mu);
      report.state = phase;
      waiting_text.clear();
    }
    AfterRun();
    std::lock_guard lock(mu);
    FillLive(report);
    report.finished_at = clock.WallNow();
    report.duration = SinceStart();
    return report;
  }

  std::optional<Error> pattern_error;
};

JobRun::JobRun(RunnerDeps deps, std::string job_id, JobSpec spec)
    : impl_(std::make_unique<Impl>(std::move(deps), std::move(job_id), std::move(spec))) {}

JobRun::~JobRun() { impl_->StopHelpers(); }

JobReport JobRun::Run(std::stop_token cancel, JobObserver* observer) {
  return impl_->Run(std::move(cancel), observer);
}

JobReport JobRun::Snapshot() const {
  std::lock_guard lock(impl_->mu);
  JobReport r = impl_->report;
  impl_->FillLive(r);
  return r;
}

std::string JobRun::waiting() const {
  std::lock_guard lock(impl_->mu);
  return impl_->waiting_text;
}

std::vector<console::ConsoleLine> JobRun::ConsoleLines(uint64_t since_seq, size_t max) const {
  if (!impl_->recorder) return {};
  return impl_->recorder->Lines(since_seq, max);
}

}  // namespace fruix::job
