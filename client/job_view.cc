#include "client/job_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "client/command.h"
#include "client/format.h"

namespace fruix::client {

namespace {

using std::chrono::milliseconds;

const nlohmann::json* Member(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* at = &j;
  for (const char* key : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

std::string StringAt(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* v = Member(j, path);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string PhaseRow(const proto::PhaseInfo& p) {
  if (p.status == "running") return Pad(p.phase, 10) + " started";
  std::string row =
      Pad(p.phase, 10) + " " + Pad(p.status, 9) + " " + Pad(FormatDurationMs(p.duration_ms), 8);
  if (!p.detail.empty()) row += " " + p.detail;
  while (!row.empty() && row.back() == ' ') row.pop_back();
  return row;
}

std::string Headline(const proto::JobInfo& job) {
  std::string s = "job " + job.job_id + ": " + job.state;
  if (proto::IsTerminalState(job.state)) {
    s += " after " + FormatDurationMs(job.duration_ms);
  } else if (job.state == "running") {
    if (!job.phase.empty()) s += " (" + job.phase + ")";
    if (job.duration_ms > 0) s += " for " + FormatDurationMs(job.duration_ms);
  }
  return s;
}

std::string TargetText(const proto::JobInfo& job) {
  std::string s = job.target.empty() ? "(explicit) vm " + job.vm_uuid : job.target;
  if (!job.pool.empty()) s += " (pool " + job.pool + ")";
  return s;
}

void Field(std::ostream& out, const char* name, const std::string& value) {
  if (value.empty()) return;
  out << "  " << Pad(std::string(name) + ":", 12) << value << "\n";
}

double Percent(const proto::UploadProgressInfo& p) {
  if (p.bytes_total > 0) {
    return std::min(100.0,
                    100.0 * static_cast<double>(p.bytes_sent) / static_cast<double>(p.bytes_total));
  }
  return std::clamp(p.task_progress * 100.0, 0.0, 100.0);
}

}  // namespace

int JobExitCode(const proto::JobInfo& job) {
  if (job.state == "ready") return kExitOk;
  if (job.state == "cancelled") return kExitCancelled;
  if (job.state == "failed" && job.failure && job.failure->code == "timeout") return kExitTimeout;
  return kExitFailed;
}

void PrintJobSummary(std::ostream& out, const proto::JobInfo& job, bool with_phases) {
  out << Headline(job) << "\n";
  Field(out, "target", TargetText(job));
  Field(out, "vm", job.vm_uuid);
  Field(out, "vdi", job.vdi_uuid);
  Field(out, "image", job.image);
  std::string by = job.requested_by_user;
  if (job.requested_by_uid >= 0) {
    by += (by.empty() ? "uid " : " (uid ") + std::to_string(job.requested_by_uid) +
          (by.empty() ? "" : ")");
  }
  if (job.created_at) by += (by.empty() ? "" : ", ") + FormatTime(*job.created_at);
  Field(out, "requested", by);
  if (job.started_at) Field(out, "started", FormatTime(*job.started_at));
  if (job.finished_at) Field(out, "finished", FormatTime(*job.finished_at));
  if (!job.waiting.empty()) Field(out, "now", job.waiting);
  if (job.upload) {
    const auto& u = *job.upload;
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.0f%%", Percent(u));
    std::string text = std::string(pct) + ", " + FormatSize(u.bytes_sent);
    if (u.bytes_total > 0) text += " of " + FormatSize(u.bytes_total);
    if (!u.retrying_because.empty()) text += " (retrying: " + u.retrying_because + ")";
    Field(out, "upload", text);
  }
  if (with_phases && !job.phases.empty()) {
    out << "  phases:\n";
    for (const auto& p : job.phases) out << "    " << PhaseRow(p) << "\n";
  }
  std::string ip = job.ip.empty() ? StringAt(job.report, {"address", "ip"}) : job.ip;
  Field(out, "ip", ip);
  Field(out, "host key", StringAt(job.report, {"ssh", "host_key_sha256"}));
  Field(out, "console", job.console_log);
  if (job.failure) {
    const auto& f = *job.failure;
    std::string head = f.phase.empty() ? f.code : f.phase + ": " + f.code;
    if (!f.failure_class.empty()) head += " (" + f.failure_class + " failure)";
    Field(out, "failure", head);
    Field(out, "message", f.message);
    if (!f.console_excerpt.empty()) {
      out << "  console excerpt:\n";
      for (const auto& line : f.console_excerpt) out << "    | " << line << "\n";
    }
  }
}

void PrintJobTable(std::ostream& out, const std::vector<proto::JobInfo>& jobs) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : jobs) {
    rows.push_back({j.job_id, j.state, j.target.empty() ? "vm " + j.vm_uuid : j.target, j.phase,
                    j.created_at ? FormatTime(*j.created_at) : "",
                    j.duration_ms > 0 ? FormatDurationMs(j.duration_ms) : "", j.requested_by_user});
  }
  out << FormatTable({"JOB", "STATE", "TARGET", "PHASE", "CREATED", "DURATION", "BY"}, rows);
}

EventRenderer::EventRenderer(std::ostream& out, Options options, const Clock& clock)
    : out_(out), options_(options), clock_(clock) {}

void EventRenderer::Line(const std::string& text) {
  if (bar_shown_) {
    out_ << "\r\033[K";
    bar_shown_ = false;
  }
  out_ << text << "\n";
  out_.flush();
}

void EventRenderer::Finish() {
  if (bar_shown_) {
    out_ << "\r\033[K";
    out_.flush();
    bar_shown_ = false;
  }
}

void EventRenderer::Start(const proto::JobInfo& job) {
  std::string head = "job " + job.job_id + ": " + job.state;
  if (!job.target.empty()) head += ", target " + job.target;
  if (!job.image.empty()) head += ", image " + job.image;
  Line(head);
  for (const auto& p : job.phases) Phase(p);
  if (!job.waiting.empty() && !proto::IsTerminalState(job.state)) {
    proto::JobEvent waiting;
    waiting.kind = "waiting";
    waiting.waiting = job.waiting;
    OnEvent(waiting);
  }
  if (job.upload) Progress(*job.upload);
}

void EventRenderer::Phase(const proto::PhaseInfo& p) {
  auto it = std::find_if(printed_phases_.begin(), printed_phases_.end(),
                         [&](const auto& e) { return e.first == p.phase; });
  if (it != printed_phases_.end() && it->second == p.status) return;  // already shown
  if (it == printed_phases_.end()) {
    printed_phases_.emplace_back(p.phase, p.status);
  } else {
    it->second = p.status;
  }
  Line("  " + PhaseRow(p));
}

void EventRenderer::OnEvent(const proto::JobEvent& e) {
  if (e.kind == "phase" && e.phase) {
    Phase(*e.phase);
  } else if (e.kind == "progress" && e.progress) {
    Progress(*e.progress);
  } else if (e.kind == "waiting" && !e.waiting.empty()) {
    if (e.waiting == last_waiting_) return;
    last_waiting_ = e.waiting;
    Line("  " + (e.waiting.rfind("waiting", 0) == 0 ? e.waiting : "waiting: " + e.waiting));
  } else if (e.kind == "milestone" && e.milestone) {
    const auto& m = *e.milestone;
    Line("  milestone  " + m.name + " at " + FormatDurationMs(m.at_ms) + ": " + m.line);
  } else if (e.kind == "console" && e.console && options_.console) {
    std::string text = e.console->text;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    Line("console| " + text);
  }
}

std::string EventRenderer::ProgressText(const proto::UploadProgressInfo& p, bool bar) {
  const double pct = Percent(p);
  char buf[64];
  std::string s = "  upload    ";
  if (bar) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(pct / 100.0 * kWidth);
    s += " [" + std::string(static_cast<size_t>(filled), '#') +
         std::string(static_cast<size_t>(kWidth - filled), '.') + "]";
  }
  std::snprintf(buf, sizeof buf, " %3.0f%%", std::floor(pct));
  s += buf;
  s += "  " + FormatSize(p.bytes_sent);
  if (p.bytes_total > 0) s += " of " + FormatSize(p.bytes_total);
  const auto elapsed = first_at_ ? clock_.Now() - *first_at_ : Clock::Duration::zero();
  const double secs = std::chrono::duration<double>(elapsed).count();
  if (secs >= 0.5 && p.bytes_sent > first_bytes_) {
    const double rate = static_cast<double>(p.bytes_sent - first_bytes_) / secs;
    s += "  " + FormatRate(rate);
    if (p.bytes_total > p.bytes_sent) {
      const double eta = static_cast<double>(p.bytes_total - p.bytes_sent) / rate;
      s += "  ETA " + FormatDuration(milliseconds(static_cast<int64_t>(eta * 1000)));
    }
  } else {
    s += "  -- MB/s";
  }
  return s;
}

void EventRenderer::Progress(const proto::UploadProgressInfo& p) {
  if (!p.retrying_because.empty() && p.retrying_because != last_retry_) {
    Line("  upload     retrying: " + p.retrying_because);
  }
  last_retry_ = p.retrying_because;
  const auto now = clock_.Now();
  if (!first_at_) {
    first_at_ = now;
    first_bytes_ = p.bytes_sent;
  }
  const double pct = Percent(p);
  if (options_.tty) {
    if (last_print_at_ && now - *last_print_at_ < milliseconds(100) && pct < 100.0) return;
    out_ << "\r" << ProgressText(p, true) << "\033[K";
    out_.flush();
    bar_shown_ = true;
    last_print_at_ = now;
    return;
  }
  const int decile = static_cast<int>(pct / 10.0);
  if (last_print_at_ && decile <= last_decile_ && now - *last_print_at_ < std::chrono::seconds(5)) {
    return;
  }
  last_decile_ = std::max(last_decile_, decile);
  last_print_at_ = now;
  Line(ProgressText(p, false));
}

}  // namespace fruix::client
