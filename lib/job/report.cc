#include "lib/job/report.h"

#include <algorithm>
#include <ctime>

namespace fruix::job {
namespace {

using nlohmann::json;

json AddressJson(const AddressObservation& o) {
  return {{"source", ToString(o.source)},
          {"ip", o.address},
          {"at_ms", o.at.count()},
          {"evidence", o.evidence}};
}

}  // namespace

std::string_view ToString(PhaseStatus s) {
  switch (s) {
    case PhaseStatus::kRunning:
      return "running";
    case PhaseStatus::kOk:
      return "ok";
    case PhaseStatus::kFailed:
      return "failed";
    case PhaseStatus::kCancelled:
      return "cancelled";
    case PhaseStatus::kSkipped:
      return "skipped";
  }
  return "unknown";
}

std::string SshStateToken(ssh::SshWaitState state) {
  std::string out(ssh::ToString(state));
  std::replace(out.begin(), out.end(), ' ', '-');
  return out;
}

std::string FormatTime(WallTime t) { return FormatRfc3339(t); }

const PhaseRecord* JobReport::FindPhase(Phase p) const {
  for (const auto& r : phases) {
    if (r.phase == p) return &r;
  }
  return nullptr;
}

json ToJson(const JobReport& r) {
  json j;
  j["schema"] = "fruix.job-report/1";
  j["job_id"] = r.job_id;
  j["target"] = r.target;
  j["vm_uuid"] = r.vm_uuid;
  j["vdi_uuid"] = r.vdi_uuid;
  if (!r.image.empty()) j["image"] = r.image;
  j["state"] = ToString(r.state);
  j["started_at"] = FormatTime(r.started_at);
  if (r.finished_at) j["finished_at"] = FormatTime(*r.finished_at);
  j["duration_ms"] = r.duration.count();

  json phases = json::array();
  for (const auto& p : r.phases) {
    json e = {{"phase", ToString(p.phase)},
              {"status", ToString(p.status)},
              {"started_at", FormatTime(p.started_at)},
              {"duration_ms", p.duration.count()}};
    if (!p.detail.empty()) e["detail"] = p.detail;
    phases.push_back(std::move(e));
  }
  j["phases"] = std::move(phases);

  if (r.prepare) {
    json e = {{"found", xenapi::ToString(r.prepare->found)}, {"action", r.prepare->action}};
    if (!r.prepare->detail.empty()) e["detail"] = r.prepare->detail;
    j["prepare"] = std::move(e);
  }
  if (r.upload) {
    const auto& u = *r.upload;
    const double secs = static_cast<double>(u.duration.count()) / 1000.0;
    json e = {{"bytes_sent", u.bytes_sent},
              {"data_blocks", u.data_blocks},
              {"zero_blocks", u.zero_blocks},
              {"skipped", u.skipped},
              {"zero_fill", image::ZeroFillName(u.zero_fill)},
              {"digest", u.digest},
              {"attempts", u.attempts},
              {"duration_ms", u.duration.count()}};
    if (!u.host_address.empty()) e["host"] = u.host_address;
    if (secs > 0 && u.bytes_sent > 0) {
      e["throughput_mib_s"] = static_cast<double>(u.bytes_sent) / (1024.0 * 1024.0) / secs;
    }
    j["upload"] = std::move(e);
  }
  if (r.attach) {
    const auto& a = *r.attach;
    j["attach"] = {{"vbd_created", a.vbd_created},
                   {"userdevice", a.vbd_userdevice},
                   {"vbd_changes", a.vbd_changes},
                   {"other_vbds_unbootable", a.other_vbds_unbootable},
                   {"vif_created", a.vif_created},
                   {"vif_device", a.vif_device},
                   {"mac", a.mac},
                   {"vif_changes", a.vif_changes}};
  }
  if (r.start) {
    j["start"] = {{"domid", r.start->domid},
                  {"host_uuid", r.start->host_uuid},
                  {"host_address", r.start->host_address}};
  }
  if (r.address || !r.address_sources.empty() || !r.address_silent.empty()) {
    json e;
    if (r.address) {
      e["ip"] = r.address->address;
      e["source"] = ToString(r.address->source);
    }
    e["disagreement"] = r.address_disagreement;
    json sources = json::array();
    for (const auto& o : r.address_sources) sources.push_back(AddressJson(o));
    e["sources"] = std::move(sources);
    json silent = json::array();
    for (AddressSource s : r.address_silent) silent.push_back(ToString(s));
    e["silent"] = std::move(silent);
    j["address"] = std::move(e);
  }
  if (r.ssh) {
    json e = {{"state", SshStateToken(r.ssh->status.state)}, {"attempts", r.ssh->status.attempts}};
    if (!r.ssh->status.detail.empty()) e["detail"] = r.ssh->status.detail;
    if (r.ssh->readiness) {
      const auto& rd = *r.ssh->readiness;
      e["host_key_sha256"] = rd.host_key_sha256;
      e["marker_content"] = rd.marker_content;
      json probes = json::array();
      for (const auto& p : rd.probes) {
        json pe = {{"command", p.command},
                   {"exit_status", p.exit_status},
                   {"output", p.output},
                   {"error_output", p.error_output},
                   {"truncated", p.truncated}};
        if (!p.error.empty()) pe["error"] = p.error;
        probes.push_back(std::move(pe));
      }
      e["probes"] = std::move(probes);
    }
    j["ssh"] = std::move(e);
  }
  if (r.console) {
    const auto& c = *r.console;
    json ms = json::array();
    for (const auto& m : c.milestones) {
      ms.push_back({{"name", m.name},
                    {"line", m.line},
                    {"line_number", m.line_number},
                    {"at_ms", m.at.count()}});
    }
    j["console"] = {{"source", c.source},         {"description", c.description},
                    {"log_path", c.log_path},     {"state", c.state},
                    {"bytes", c.bytes},           {"lines", c.lines},
                    {"reconnects", c.reconnects}, {"milestones", std::move(ms)}};
  }
  if (r.failure) {
    const auto& f = *r.failure;
    j["failure"] = {{"phase", ToString(f.phase)},
                    {"code", f.code},
                    {"message", f.message},
                    {"class", ToString(f.failure_class)},
                    {"console_excerpt", f.console_excerpt}};
  }
  if (r.after_run) {
    json e = {{"policy", ToString(r.after_run->policy)}, {"action", r.after_run->action}};
    if (!r.after_run->error.empty()) e["error"] = r.after_run->error;
    j["after_run"] = std::move(e);
  }
  return j;
}

}  // namespace fruix::job
