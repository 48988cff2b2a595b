#include "daemon/job_views.h"

#include <nlohmann/json.hpp>

namespace fruix::daemon {

using nlohmann::json;

proto::JobInfo InfoFromRow(const store::JobRow& row, const std::vector<store::PhaseRow>& phases,
                           bool with_report) {
  proto::JobInfo j;
  j.job_id = row.job_id;
  j.target = row.target;
  j.pool = row.pool;
  j.vm_uuid = row.vm_uuid;
  j.vdi_uuid = row.vdi_uuid;
  j.image = row.image;
  j.state = row.state;
  j.phase = row.phase;
  j.requested_by_uid = row.requested_by_uid;
  j.requested_by_user = row.requested_by_user;
  j.created_at = row.created_at;
  j.started_at = row.started_at;
  j.finished_at = row.finished_at;
  if (row.started_at) {
    // From whole milliseconds, as the store keeps times: the same job shows the same duration
    // whether it comes from memory or from the store.
    const WallTime end = row.finished_at.value_or(std::chrono::system_clock::now());
    j.duration_ms = static_cast<uint64_t>(
        std::max<int64_t>(0, ToUnixMillis(end) - ToUnixMillis(*row.started_at)));
  }
  j.console_log = row.console_log;
  if (!row.failure_code.empty()) {
    proto::FailureInfo f;
    f.phase = row.failure_phase;
    f.code = row.failure_code;
    f.failure_class = row.failure_class;
    f.message = row.failure_message;
    j.failure = std::move(f);
  }
  for (const auto& p : phases) {
    proto::PhaseInfo info;
    info.phase = p.phase;
    info.status = p.status;
    info.started_at = p.started_at;
    info.duration_ms = static_cast<uint64_t>(std::max<int64_t>(0, p.duration_ms));
    info.detail = p.detail;
    j.phases.push_back(std::move(info));
  }
  if (!row.report_json.empty()) {
    json report = json::parse(row.report_json, nullptr, false);
    if (report.is_object()) {
      if (report.contains("address") && report["address"].is_object()) {
        j.ip = report["address"].value("ip", "");
      }
      if (j.failure && report.contains("failure") && report["failure"].is_object()) {
        const json& excerpt = report["failure"].value("console_excerpt", json::array());
        for (const auto& line : excerpt) {
          if (line.is_string()) j.failure->console_excerpt.push_back(line.get<std::string>());
        }
      }
      if (with_report) j.report = std::move(report);
    }
  }
  return j;
}

void ApplyReport(const job::JobReport& report, store::JobRow* row) {
  row->phase = std::string(job::ToString(report.state));
  if (job::IsTerminal(report.state)) {
    row->phase = report.phases.empty() ? "preflight"
                                       : std::string(job::ToString(report.phases.back().phase));
    switch (report.state) {
      case job::Phase::kReady:
        row->state = "ready";
        break;
      case job::Phase::kCancelled:
        row->state = "cancelled";
        break;
      default:
        row->state = "failed";
        break;
    }
  } else {
    row->state = "running";
  }
  if (!report.phases.empty()) row->started_at = report.phases.front().started_at;
  row->finished_at = report.finished_at;
  if (report.upload && !report.upload->digest.empty()) row->image_digest = report.upload->digest;
  if (report.failure) {
    row->failure_phase = std::string(job::ToString(report.failure->phase));
    row->failure_code = report.failure->code;
    row->failure_class = std::string(job::ToString(report.failure->failure_class));
    row->failure_message = report.failure->message;
  }
  row->report_json = job::ToJson(report).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<store::PhaseRow> PhaseRows(const job::JobReport& report) {
  std::vector<store::PhaseRow> rows;
  int64_t seq = 0;
  for (const auto& p : report.phases) {
    store::PhaseRow r;
    r.job_id = report.job_id;
    r.seq = seq++;
    r.phase = std::string(job::ToString(p.phase));
    r.status = std::string(job::ToString(p.status));
    r.started_at = p.started_at;
    r.duration_ms = p.duration.count();
    r.detail = p.detail;
    rows.push_back(std::move(r));
  }
  return rows;
}

proto::PhaseInfo PhaseInfoOf(const job::PhaseRecord& record) {
  proto::PhaseInfo p;
  p.phase = std::string(job::ToString(record.phase));
  p.status = std::string(job::ToString(record.status));
  p.started_at = record.started_at;
  p.duration_ms = static_cast<uint64_t>(std::max<int64_t>(0, record.duration.count()));
  p.detail = record.detail;
  return p;
}

proto::UploadProgressInfo ProgressInfoOf(const upload::ImportProgress& progress) {
  return {progress.bytes_sent, progress.bytes_total, progress.task_progress,
          progress.retrying_because};
}

proto::ConsoleLineInfo ConsoleLineInfoOf(const console::ConsoleLine& line, bool partial) {
  return {line.seq, line.text.size() > 8192 ? line.text.substr(0, 8192) : line.text, partial};
}

proto::MilestoneInfo MilestoneInfoOf(const job::MilestoneRecord& m) {
  return {m.name, m.line.size() > 8192 ? m.line.substr(0, 8192) : m.line,
          static_cast<uint64_t>(std::max<int64_t>(0, m.at.count()))};
}

}  // namespace fruix::daemon
