#include "proto/messages.h"

#include <array>

#include "proto/fields.h"

namespace fruix::proto {

namespace {

constexpr std::array<std::string_view, 6> kStates = {"queued",    "ready",       "failed",
                                                     "cancelled", "interrupted", "running"};
constexpr size_t kMaxReportBytes = 768 * 1024;

template <typename T>
Result<T> Done(const Fields& f, T value) {
  FRUIX_RETURN_IF_ERROR(f.Finish());
  return value;
}

void PutIf(json& j, const char* key, const std::string& s) {
  if (!s.empty()) j[key] = s;
}

template <typename T>
json List(const std::vector<T>& items) {
  json a = json::array();
  for (const auto& i : items) a.push_back(ToJson(i));
  return a;
}

template <typename T>
auto Decoder() {
  return [](const json& j, const std::string& path) { return Decode<T>(j, path); };
}

}  // namespace

bool IsTerminalState(std::string_view s) {
  return s == "ready" || s == "failed" || s == "cancelled" || s == "interrupted";
}
bool IsKnownState(std::string_view s) {
  for (auto k : kStates) {
    if (k == s) return true;
  }
  return false;
}

// ---- daemon.* ----
json ToJson(const VersionParams&) { return json::object(); }
Result<VersionParams> FromJson(const json& j, const std::string& path, const VersionParams*) {
  Fields f(j, path);
  f.NoOthers();
  return Done(f, VersionParams{});
}
json ToJson(const VersionResult& v) {
  return {{"version", v.version}, {"protocol", v.protocol}, {"report_schema", v.report_schema}};
}
Result<VersionResult> FromJson(const json& j, const std::string& path, const VersionResult*) {
  Fields f(j, path);
  VersionResult v;
  int64_t protocol = 0;
  f.String("version", &v.version, kMaxId, true);
  f.Int("protocol", &protocol, 0, 1 << 20, true);
  f.String("report_schema", &v.report_schema, kMaxId);
  v.protocol = static_cast<int>(protocol);
  return Done(f, v);
}

json ToJson(const HealthParams&) { return json::object(); }
Result<HealthParams> FromJson(const json& j, const std::string& path, const HealthParams*) {
  Fields f(j, path);
  f.NoOthers();
  return Done(f, HealthParams{});
}
json ToJson(const PoolHealth& p) {
  json j = {{"name", p.name}, {"state", p.state}};
  PutIf(j, "error", p.error);
  return j;
}
Result<PoolHealth> FromJson(const json& j, const std::string& path, const PoolHealth*) {
  Fields f(j, path);
  PoolHealth p;
  f.String("name", &p.name, kMaxId, true);
  f.String("state", &p.state, kMaxId, true);
  f.String("error", &p.error, kMaxText);
  return Done(f, p);
}
json ToJson(const HealthResult& h) {
  return {{"status", h.status},
          {"uptime_ms", h.uptime_ms},
          {"jobs_running", h.jobs_running},
          {"jobs_queued", h.jobs_queued},
          {"max_concurrent_jobs", h.max_concurrent_jobs},
          {"store", h.store},
          {"pools", List(h.pools)}};
}
Result<HealthResult> FromJson(const json& j, const std::string& path, const HealthResult*) {
  Fields f(j, path);
  HealthResult h;
  f.String("status", &h.status, kMaxId, true);
  f.Uint("uptime_ms", &h.uptime_ms, UINT64_MAX);
  f.Uint("jobs_running", &h.jobs_running, UINT64_MAX);
  f.Uint("jobs_queued", &h.jobs_queued, UINT64_MAX);
  f.Uint("max_concurrent_jobs", &h.max_concurrent_jobs, UINT64_MAX);
  f.String("store", &h.store, kMaxText);
  f.NestedList("pools", &h.pools, kMaxList, Decoder<PoolHealth>());
  return Done(f, h);
}

// ---- targets.list ----
json ToJson(const TargetsListParams&) { return json::object(); }
Result<TargetsListParams> FromJson(const json& j, const std::string& path,
                                   const TargetsListParams*) {
  Fields f(j, path);
  f.NoOthers();
  return Done(f, TargetsListParams{});
}
json ToJson(const TargetInfo& t) {
  json j = {{"name", t.name},
            {"pool", t.pool},
            {"vm_uuid", t.vm_uuid},
            {"vdi_uuid", t.vdi_uuid},
            {"network_uuid", t.network_uuid},
            {"console", t.console},
            {"ssh", t.ssh}};
  PutIf(j, "mac", t.mac);
  PutIf(j, "active_job", t.active_job);
  return j;
}
Result<TargetInfo> FromJson(const json& j, const std::string& path, const TargetInfo*) {
  Fields f(j, path);
  TargetInfo t;
  f.String("name", &t.name, kMaxId, true);
  f.String("pool", &t.pool, kMaxId);
  f.String("vm_uuid", &t.vm_uuid, kMaxUuid);
  f.String("vdi_uuid", &t.vdi_uuid, kMaxUuid);
  f.String("network_uuid", &t.network_uuid, kMaxUuid);
  f.String("mac", &t.mac, kMaxId);
  f.String("console", &t.console, kMaxId);
  f.Bool("ssh", &t.ssh);
  f.String("active_job", &t.active_job, kMaxId);
  return Done(f, t);
}
json ToJson(const TargetsListResult& r) { return {{"targets", List(r.targets)}}; }
Result<TargetsListResult> FromJson(const json& j, const std::string& path,
                                   const TargetsListResult*) {
  Fields f(j, path);
  TargetsListResult r;
  f.NestedList("targets", &r.targets, kMaxList, Decoder<TargetInfo>());
  return Done(f, r);
}

// ---- deploy.start ----
json ToJson(const ExplicitTarget& t) {
  json j = {{"pool", t.pool},
            {"vm_uuid", t.vm_uuid},
            {"vdi_uuid", t.vdi_uuid},
            {"network_uuid", t.network_uuid}};
  PutIf(j, "mac", t.mac);
  return j;
}
Result<ExplicitTarget> FromJson(const json& j, const std::string& path, const ExplicitTarget*) {
  Fields f(j, path);
  ExplicitTarget t;
  f.String("pool", &t.pool, kMaxId, true);
  f.String("vm_uuid", &t.vm_uuid, kMaxUuid, true);
  f.String("vdi_uuid", &t.vdi_uuid, kMaxUuid, true);
  f.String("network_uuid", &t.network_uuid, kMaxUuid, true);
  f.String("mac", &t.mac, kMaxId);
  f.NoOthers();
  return Done(f, t);
}
json ToJson(const ImageRef& i) {
  json j = {{"passed_fd", i.passed_fd}};
  PutIf(j, "path", i.path);
  return j;
}
Result<ImageRef> FromJson(const json& j, const std::string& path, const ImageRef*) {
  Fields f(j, path);
  ImageRef i;
  f.Bool("passed_fd", &i.passed_fd);
  f.String("path", &i.path, kMaxPath);
  f.NoOthers();
  FRUIX_RETURN_IF_ERROR(f.Finish());
  if (!i.passed_fd && i.path.empty()) {
    return Error::InvalidArgument(path +
                                  ": needs passed_fd (a descriptor sent with the request) "
                                  "or an absolute path");
  }
  if (!i.passed_fd && i.path.front() != '/') {
    return Error::InvalidArgument(path + ".path: \"" + i.path +
                                  "\" is not absolute (the daemon does not share your working "
                                  "directory)");
  }
  return i;
}
json ToJson(const DeployOptions& o) {
  json j = json::object();
  if (o.format) j["format"] = *o.format;
  if (o.zero_fill) j["zero_fill"] = *o.zero_fill;
  if (o.force) j["force"] = *o.force;
  if (o.after_run) j["after_run"] = *o.after_run;
  if (o.expected_marker) j["expected_marker"] = *o.expected_marker;
  if (o.marker_path) j["marker_path"] = *o.marker_path;
  if (o.ssh) j["ssh"] = *o.ssh;
  if (!o.timeouts_ms.empty()) j["timeouts_ms"] = o.timeouts_ms;
  if (o.queue) j["queue"] = true;
  return j;
}
Result<DeployOptions> FromJson(const json& j, const std::string& path, const DeployOptions*) {
  Fields f(j, path);
  DeployOptions o;
  f.OptString("format", &o.format, kMaxId);
  f.OptString("zero_fill", &o.zero_fill, kMaxId);
  f.OptBool("force", &o.force);
  f.OptString("after_run", &o.after_run, kMaxId);
  f.OptString("expected_marker", &o.expected_marker, kMaxText);
  f.OptString("marker_path", &o.marker_path, kMaxPath);
  f.OptBool("ssh", &o.ssh);
  json timeouts;
  f.Object("timeouts_ms", &timeouts, 4096);
  f.Bool("queue", &o.queue);
  f.NoOthers();
  FRUIX_RETURN_IF_ERROR(f.Finish());
  if (timeouts.is_object()) {
    Fields t(timeouts, f.Child("timeouts_ms"));
    for (auto it = timeouts.begin(); it != timeouts.end(); ++it) {
      uint64_t ms = 0;
      t.Uint(it.key(), &ms, uint64_t{7} * 24 * 3600 * 1000);
      if (t.ok() && ms == 0) {
        return Error::InvalidArgument(t.Child(it.key()) + ": a timeout must be positive");
      }
      o.timeouts_ms[it.key()] = ms;
    }
    FRUIX_RETURN_IF_ERROR(t.Finish());
  }
  return o;
}
json ToJson(const DeployStartParams& p) {
  json j = {{"image", ToJson(p.image)}, {"options", ToJson(p.options)}};
  PutIf(j, "target", p.target);
  if (p.explicit_target) j["explicit"] = ToJson(*p.explicit_target);
  return j;
}
Result<DeployStartParams> FromJson(const json& j, const std::string& path,
                                   const DeployStartParams*) {
  Fields f(j, path);
  DeployStartParams p;
  f.String("target", &p.target, kMaxId);
  f.Nested("explicit", &p.explicit_target, Decoder<ExplicitTarget>());
  f.Nested("image", &p.image, Decoder<ImageRef>(), true);
  f.Nested("options", &p.options, Decoder<DeployOptions>());
  f.NoOthers();
  FRUIX_RETURN_IF_ERROR(f.Finish());
  if (p.target.empty() == !p.explicit_target) {
    return Error::InvalidArgument(path +
                                  ": name exactly one of \"target\" (a configured target) "
                                  "or \"explicit\" (pool, vm_uuid, vdi_uuid, network_uuid)");
  }
  return p;
}
json ToJson(const DeployStartResult& r) {
  json j = {{"job_id", r.job_id}, {"state", r.state}};
  if (r.queue_position) j["queue_position"] = r.queue_position;
  return j;
}
Result<DeployStartResult> FromJson(const json& j, const std::string& path,
                                   const DeployStartResult*) {
  Fields f(j, path);
  DeployStartResult r;
  f.String("job_id", &r.job_id, kMaxId, true);
  f.String("state", &r.state, kMaxId, true);
  f.Uint("queue_position", &r.queue_position, UINT64_MAX);
  return Done(f, r);
}

// ---- shared job facts ----
json ToJson(const PhaseInfo& p) {
  json j = {{"phase", p.phase}, {"status", p.status}, {"duration_ms", p.duration_ms}};
  PutTime(j, "started_at", p.started_at);
  PutIf(j, "detail", p.detail);
  return j;
}
Result<PhaseInfo> FromJson(const json& j, const std::string& path, const PhaseInfo*) {
  Fields f(j, path);
  PhaseInfo p;
  f.String("phase", &p.phase, kMaxId, true);
  f.String("status", &p.status, kMaxId, true);
  f.Time("started_at", &p.started_at);
  f.Uint("duration_ms", &p.duration_ms, UINT64_MAX);
  f.String("detail", &p.detail, kMaxText);
  return Done(f, p);
}
json ToJson(const FailureInfo& x) {
  json j = {
      {"phase", x.phase}, {"code", x.code}, {"class", x.failure_class}, {"message", x.message}};
  if (!x.console_excerpt.empty()) j["console_excerpt"] = x.console_excerpt;
  return j;
}
Result<FailureInfo> FromJson(const json& j, const std::string& path, const FailureInfo*) {
  Fields f(j, path);
  FailureInfo x;
  f.String("phase", &x.phase, kMaxId);
  f.String("code", &x.code, kMaxText);
  f.String("class", &x.failure_class, kMaxId);
  f.String("message", &x.message, kMaxText * 4);
  f.StringList("console_excerpt", &x.console_excerpt, kMaxList, kMaxText);
  return Done(f, x);
}
json ToJson(const UploadProgressInfo& u) {
  json j = {{"bytes_sent", u.bytes_sent},
            {"bytes_total", u.bytes_total},
            {"task_progress", u.task_progress}};
  PutIf(j, "retrying_because", u.retrying_because);
  return j;
}
Result<UploadProgressInfo> FromJson(const json& j, const std::string& path,
                                    const UploadProgressInfo*) {
  Fields f(j, path);
  UploadProgressInfo u;
  f.Uint("bytes_sent", &u.bytes_sent, UINT64_MAX);
  f.Uint("bytes_total", &u.bytes_total, UINT64_MAX);
  f.Double("task_progress", &u.task_progress);
  f.String("retrying_because", &u.retrying_because, kMaxText);
  return Done(f, u);
}
json ToJson(const JobInfo& x) {
  json j = {{"job_id", x.job_id}, {"state", x.state}, {"duration_ms", x.duration_ms}};
  PutIf(j, "target", x.target);
  PutIf(j, "pool", x.pool);
  PutIf(j, "vm_uuid", x.vm_uuid);
  PutIf(j, "vdi_uuid", x.vdi_uuid);
  PutIf(j, "image", x.image);
  PutIf(j, "phase", x.phase);
  PutIf(j, "waiting", x.waiting);
  if (x.requested_by_uid >= 0) j["requested_by_uid"] = x.requested_by_uid;
  PutIf(j, "requested_by_user", x.requested_by_user);
  PutTime(j, "created_at", x.created_at);
  PutTime(j, "started_at", x.started_at);
  PutTime(j, "finished_at", x.finished_at);
  PutIf(j, "ip", x.ip);
  PutIf(j, "console_log", x.console_log);
  if (x.failure) j["failure"] = ToJson(*x.failure);
  if (!x.phases.empty()) j["phases"] = List(x.phases);
  if (x.upload) j["upload"] = ToJson(*x.upload);
  if (x.report.is_object()) j["report"] = x.report;
  return j;
}
Result<JobInfo> FromJson(const json& j, const std::string& path, const JobInfo*) {
  Fields f(j, path);
  JobInfo x;
  f.String("job_id", &x.job_id, kMaxId, true);
  f.String("state", &x.state, kMaxId, true);
  f.Uint("duration_ms", &x.duration_ms, UINT64_MAX);
  f.String("target", &x.target, kMaxId);
  f.String("pool", &x.pool, kMaxId);
  f.String("vm_uuid", &x.vm_uuid, kMaxUuid);
  f.String("vdi_uuid", &x.vdi_uuid, kMaxUuid);
  f.String("image", &x.image, kMaxPath);
  f.String("phase", &x.phase, kMaxId);
  f.String("waiting", &x.waiting, kMaxText);
  f.Int("requested_by_uid", &x.requested_by_uid, -1, INT64_MAX);
  f.String("requested_by_user", &x.requested_by_user, kMaxId);
  f.Time("created_at", &x.created_at);
  f.Time("started_at", &x.started_at);
  f.Time("finished_at", &x.finished_at);
  f.String("ip", &x.ip, kMaxId);
  f.String("console_log", &x.console_log, kMaxPath);
  f.Nested("failure", &x.failure, Decoder<FailureInfo>());
  f.NestedList("phases", &x.phases, kMaxList, Decoder<PhaseInfo>());
  f.Nested("upload", &x.upload, Decoder<UploadProgressInfo>());
  f.Object("report", &x.report, kMaxReportBytes);
  return Done(f, x);
}

// ---- job.get / job.list / job.cancel ----
json ToJson(const JobGetParams& p) { return {{"job_id", p.job_id}, {"report", p.report}}; }
Result<JobGetParams> FromJson(const json& j, const std::string& path, const JobGetParams*) {
  Fields f(j, path);
  JobGetParams p;
  f.String("job_id", &p.job_id, kMaxId, true);
  f.Bool("report", &p.report);
  f.NoOthers();
  return Done(f, p);
}
json ToJson(const JobGetResult& r) { return {{"job", ToJson(r.job)}}; }
Result<JobGetResult> FromJson(const json& j, const std::string& path, const JobGetResult*) {
  Fields f(j, path);
  JobGetResult r;
  f.Nested("job", &r.job, Decoder<JobInfo>(), true);
  return Done(f, r);
}
json ToJson(const JobListParams& p) {
  json j = {{"limit", p.limit}};
  if (!p.states.empty()) j["states"] = p.states;
  PutIf(j, "target", p.target);
  PutTime(j, "since", p.since);
  PutIf(j, "before", p.before);
  return j;
}
Result<JobListParams> FromJson(const json& j, const std::string& path, const JobListParams*) {
  Fields f(j, path);
  JobListParams p;
  f.StringList("states", &p.states, 8, kMaxId);
  f.String("target", &p.target, kMaxId);
  f.Time("since", &p.since);
  f.Uint("limit", &p.limit, 1000);
  f.String("before", &p.before, kMaxId);
  f.NoOthers();
  FRUIX_RETURN_IF_ERROR(f.Finish());
  for (const auto& s : p.states) {
    if (!IsKnownState(s)) {
      return Error::InvalidArgument(path + ".states: unknown state \"" + s +
                                    "\" (queued, running, ready, failed, cancelled, "
                                    "interrupted)");
    }
  }
  if (p.limit == 0) return Error::InvalidArgument(path + ".limit: must be at least 1");
  return p;
}
json ToJson(const JobListResult& r) { return {{"jobs", List(r.jobs)}, {"more", r.more}}; }
Result<JobListResult> FromJson(const json& j, const std::string& path, const JobListResult*) {
  Fields f(j, path);
  JobListResult r;
  f.NestedList("jobs", &r.jobs, 1000, Decoder<JobInfo>());
  f.Bool("more", &r.more);
  return Done(f, r);
}
json ToJson(const JobCancelParams& p) { return {{"job_id", p.job_id}}; }
Result<JobCancelParams> FromJson(const json& j, const std::string& path, const JobCancelParams*) {
  Fields f(j, path);
  JobCancelParams p;
  f.String("job_id", &p.job_id, kMaxId, true);
  f.NoOthers();
  return Done(f, p);
}
json ToJson(const JobCancelResult& r) { return {{"job_id", r.job_id}, {"state", r.state}}; }
Result<JobCancelResult> FromJson(const json& j, const std::string& path, const JobCancelResult*) {
  Fields f(j, path);
  JobCancelResult r;
  f.String("job_id", &r.job_id, kMaxId, true);
  f.String("state", &r.state, kMaxId, true);
  return Done(f, r);
}

// ---- job.watch ----
json ToJson(const JobWatchParams& p) {
  json j = {{"job_id", p.job_id}, {"console", p.console}};
  if (p.console_since) j["console_since"] = p.console_since;
  return j;
}
Result<JobWatchParams> FromJson(const json& j, const std::string& path, const JobWatchParams*) {
  Fields f(j, path);
  JobWatchParams p;
  f.String("job_id", &p.job_id, kMaxId, true);
  f.Bool("console", &p.console);
  f.Uint("console_since", &p.console_since, UINT64_MAX);
  f.NoOthers();
  return Done(f, p);
}
json ToJson(const JobWatchResult& r) { return {{"job", ToJson(r.job)}, {"watching", r.watching}}; }
Result<JobWatchResult> FromJson(const json& j, const std::string& path, const JobWatchResult*) {
  Fields f(j, path);
  JobWatchResult r;
  f.Nested("job", &r.job, Decoder<JobInfo>(), true);
  f.Bool("watching", &r.watching);
  return Done(f, r);
}
json ToJson(const ConsoleLineInfo& c) {
  json j = {{"seq", c.seq}, {"text", c.text}};
  if (c.partial) j["partial"] = true;
  return j;
}
Result<ConsoleLineInfo> FromJson(const json& j, const std::string& path, const ConsoleLineInfo*) {
  Fields f(j, path);
  ConsoleLineInfo c;
  f.Uint("seq", &c.seq, UINT64_MAX);
  f.String("text", &c.text, kMaxText);
  f.Bool("partial", &c.partial);
  return Done(f, c);
}
json ToJson(const MilestoneInfo& m) {
  return {{"name", m.name}, {"line", m.line}, {"at_ms", m.at_ms}};
}
Result<MilestoneInfo> FromJson(const json& j, const std::string& path, const MilestoneInfo*) {
  Fields f(j, path);
  MilestoneInfo m;
  f.String("name", &m.name, kMaxId, true);
  f.String("line", &m.line, kMaxText);
  f.Uint("at_ms", &m.at_ms, UINT64_MAX);
  return Done(f, m);
}
json ToJson(const JobEvent& e) {
  json j = {{"job_id", e.job_id}, {"kind", e.kind}};
  if (e.phase) j["phase"] = ToJson(*e.phase);
  if (e.progress) j["progress"] = ToJson(*e.progress);
  if (e.console) j["console"] = ToJson(*e.console);
  if (e.milestone) j["milestone"] = ToJson(*e.milestone);
  PutIf(j, "waiting", e.waiting);
  if (e.end) j["end"] = ToJson(*e.end);
  return j;
}
Result<JobEvent> FromJson(const json& j, const std::string& path, const JobEvent*) {
  Fields f(j, path);
  JobEvent e;
  f.String("job_id", &e.job_id, kMaxId, true);
  f.String("kind", &e.kind, kMaxId, true);
  f.Nested("phase", &e.phase, Decoder<PhaseInfo>());
  f.Nested("progress", &e.progress, Decoder<UploadProgressInfo>());
  f.Nested("console", &e.console, Decoder<ConsoleLineInfo>());
  f.Nested("milestone", &e.milestone, Decoder<MilestoneInfo>());
  f.String("waiting", &e.waiting, kMaxText);
  f.Nested("end", &e.end, Decoder<JobInfo>());
  return Done(f, e);
}

// ---- job.log ----
json ToJson(const JobLogParams& p) {
  json j = {{"job_id", p.job_id}, {"max_bytes", p.max_bytes}};
  if (p.offset) j["offset"] = *p.offset;
  if (p.tail_lines) j["tail_lines"] = *p.tail_lines;
  return j;
}
Result<JobLogParams> FromJson(const json& j, const std::string& path, const JobLogParams*) {
  Fields f(j, path);
  JobLogParams p;
  f.String("job_id", &p.job_id, kMaxId, true);
  f.OptUint("offset", &p.offset, UINT64_MAX);
  f.OptUint("tail_lines", &p.tail_lines, 100000);
  f.Uint("max_bytes", &p.max_bytes, kMaxLogChunk);
  f.NoOthers();
  FRUIX_RETURN_IF_ERROR(f.Finish());
  if (p.offset && p.tail_lines) {
    return Error::InvalidArgument(path + ": give offset or tail_lines, not both");
  }
  if (p.max_bytes == 0) return Error::InvalidArgument(path + ".max_bytes: must be at least 1");
  return p;
}
json ToJson(const JobLogResult& r) {
  return {{"job_id", r.job_id},           {"path", r.path}, {"offset", r.offset},
          {"next_offset", r.next_offset}, {"size", r.size}, {"data", r.data},
          {"complete", r.complete}};
}
Result<JobLogResult> FromJson(const json& j, const std::string& path, const JobLogResult*) {
  Fields f(j, path);
  JobLogResult r;
  f.String("job_id", &r.job_id, kMaxId, true);
  f.String("path", &r.path, kMaxPath);
  f.Uint("offset", &r.offset, UINT64_MAX);
  f.Uint("next_offset", &r.next_offset, UINT64_MAX);
  f.Uint("size", &r.size, UINT64_MAX);
  f.String("data", &r.data, kMaxLogChunk * 3);
  f.Bool("complete", &r.complete);
  return Done(f, r);
}

}  // namespace fruix::proto
