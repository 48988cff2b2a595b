#include "client/daemon_commands.h"

#include <CLI/CLI.hpp>
#include <memory>
#include <thread>

#include "client/control_client.h"
#include "fruix_version.h"
#include "client/format.h"
#include "client/job_view.h"


namespace fruix::client {

namespace {

using nlohmann::json;

void PrintJson(const Context& ctx, const json& j) { ctx.out << j.dump(2) << "\n"; }

// --since: an RFC 3339 time, or a duration meaning that long ago ("24h").
Result<WallTime> ParseSince(const std::string& text) {
  if (auto ago = ParseDuration(text); ago.ok()) return RealClock().WallNow() - *ago;
  auto t = ParseRfc3339(text);
  if (!t.ok()) {
    return Error::InvalidArgument("--since " + text +
                                  ": expected an RFC 3339 time or a duration ago such as 24h");
  }
  return *t;
}

}  // namespace

Handler SetupStatus(CLI::App& app) {
  auto job = std::make_shared<std::string>();
  app.add_option("JOB", *job, "Job id (default: the running and queued jobs, the last 5 ended)");
  return [job](const Context& ctx) {
    ControlClient client(ctx.socket_path);
    if (!job->empty()) {
      proto::JobGetParams get;
      get.job_id = *job;
      auto r = client.Call(proto::kJobGet, get);
      if (!r.ok()) return ReportCallError(ctx, client, r.error());
      ctx.json ? PrintJson(ctx, proto::ToJson(*r)) : PrintJobSummary(ctx.out, r->job);
      return kExitOk;
    }
    proto::JobListParams query;
    query.states = {"running", "queued"};
    query.limit = 1000;
    auto active = client.Call(proto::kJobList, query);
    if (!active.ok()) return ReportCallError(ctx, client, active.error());
    query.states = {"ready", "failed", "cancelled", "interrupted"};
    query.limit = 5;
    auto ended = client.Call(proto::kJobList, query);
    if (!ended.ok()) return ReportCallError(ctx, client, ended.error());
    if (ctx.json) {
      PrintJson(ctx, {{"active", proto::ToJson(*active)}, {"recent", proto::ToJson(*ended)}});
      return kExitOk;
    }
    ctx.out << (active->jobs.empty() ? "no running or queued jobs\n" : "running and queued:\n");
    if (!active->jobs.empty()) PrintJobTable(ctx.out, active->jobs);
    ctx.out << (ended->jobs.empty() ? "no finished jobs\n" : "\nlast finished:\n");
    if (!ended->jobs.empty()) PrintJobTable(ctx.out, ended->jobs);
    return kExitOk;
  };
}

Handler SetupList(CLI::App& app) {
  struct State {
    proto::JobListParams params;
    std::string since;
  };
  auto s = std::make_shared<State>();
  app.add_option("--state", s->params.states,
                 "Only jobs in this state (repeatable): queued, running, ready, failed, "
                 "cancelled, interrupted")
      ->check(CLI::IsMember({"queued", "running", "ready", "failed", "cancelled", "interrupted"}))
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--target", s->params.target, "Only jobs of this target");
  app.add_option("--since", s->since, "Only jobs created since: RFC 3339, or a duration ago (24h)");
  app.add_option("--limit", s->params.limit, "At most N jobs (1..1000, default 50)")
      ->check(CLI::Range(1, 1000));
  return [s](const Context& ctx) {
    if (!s->since.empty()) {
      auto since = ParseSince(s->since);
      if (!since.ok()) return ReportUsage(ctx, since.error().message());
      s->params.since = *since;
    }
    ControlClient client(ctx.socket_path);
    auto r = client.Call(proto::kJobList, s->params);
    if (!r.ok()) return ReportCallError(ctx, client, r.error());
    if (ctx.json) {
      PrintJson(ctx, proto::ToJson(*r));
    } else if (r->jobs.empty()) {
      ctx.out << "no jobs\n";
    } else {
      PrintJobTable(ctx.out, r->jobs);
      if (r->more) ctx.out << "(older jobs match too; raise --limit to see them)\n";
    }
    return kExitOk;
  };
}

Handler SetupLogs(CLI::App& app) {
  struct State {
    std::string job;
    std::optional<uint64_t> lines;
    bool follow = false;
  };
  auto s = std::make_shared<State>();
  app.add_option("JOB", s->job, "Job id")->required();
  app.add_option("-n,--lines", s->lines, "Start at the last N lines (default: the whole log)");
  app.add_flag("-f,--follow", s->follow, "Keep printing new output until the job ends");
  return [s](const Context& ctx) {
    ControlClient client(ctx.socket_path);
    proto::JobLogParams p;
    p.job_id = s->job;
    p.tail_lines = s->lines;
    p.max_bytes = 256 * 1024;
    std::optional<proto::JobLogResult> all;  // --json: the chunks as one result
    for (;;) {
      auto r = client.Call(proto::kJobLog, p);
      if (!r.ok()) return ReportCallError(ctx, client, r.error());
      if (!ctx.json) ctx.out << r->data << std::flush;
      if (!all) {
        all = std::move(*r);
      } else {
        all->data += r->data;
        all->next_offset = r->next_offset;
        all->size = r->size;
        all->complete = r->complete;
      }
      if (all->complete) break;
      if (all->next_offset >= all->size) {
        if (!s->follow) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the poll interval
      }
      p.tail_lines.reset();
      p.offset = all->next_offset;
    }
    if (ctx.json) PrintJson(ctx, proto::ToJson(*all));
    return kExitOk;
  };
}

Handler SetupCancel(CLI::App& app) {
  auto job = std::make_shared<std::string>();
  app.add_option("JOB", *job, "Job id")->required();
  return [job](const Context& ctx) {
    ControlClient client(ctx.socket_path);
    proto::JobCancelParams cancel;
    cancel.job_id = *job;
    auto r = client.Call(proto::kJobCancel, cancel);
    if (!r.ok()) return ReportCallError(ctx, client, r.error());
    if (ctx.json) {
      PrintJson(ctx, proto::ToJson(*r));
    } else if (r->state == "cancelled") {
      ctx.out << "job " << r->job_id << ": cancelled\n";
    } else {
      ctx.out << "job " << r->job_id << ": cancelling (" << r->state
              << "); it stops at its next step: fruixctl watch " << r->job_id << "\n";
    }
    return kExitOk;
  };
}

Handler SetupTargets(CLI::App& /*app*/) {
  return [](const Context& ctx) {
    ControlClient client(ctx.socket_path);
    auto r = client.Call(proto::kTargetsList, {});
    if (!r.ok()) return ReportCallError(ctx, client, r.error());
    if (ctx.json) {
      PrintJson(ctx, proto::ToJson(*r));
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : r->targets) {
      rows.push_back({t.name, t.pool, t.vm_uuid, t.console, t.ssh ? "yes" : "no",
                      t.active_job.empty() ? "-" : t.active_job});
    }
    if (rows.empty()) ctx.out << "no targets configured\n";
    if (!rows.empty())
      ctx.out << FormatTable({"TARGET", "POOL", "VM", "CONSOLE", "SSH", "JOB"}, rows);
    return kExitOk;
  };
}

Handler SetupHealth(CLI::App& /*app*/) {
  return [](const Context& ctx) {
    ControlClient client(ctx.socket_path);
    auto r = client.Call(proto::kDaemonHealth, {});
    if (!r.ok()) return ReportCallError(ctx, client, r.error());
    const int code = r->status == "ok" ? kExitOk : kExitFailed;
    if (ctx.json) {
      PrintJson(ctx, proto::ToJson(*r));
      return code;
    }
    ctx.out << "fruixd:  " << r->status << ", up " << FormatDurationMs(r->uptime_ms) << "\n"
            << "jobs:    " << r->jobs_running << " running (max " << r->max_concurrent_jobs << "), "
            << r->jobs_queued << " queued\n"
            << "store:   " << r->store << "\n";
    for (const auto& p : r->pools) {
      ctx.out << "pool:    " << p.name << ": " << p.state
              << (p.error.empty() ? "" : " (" + p.error + ")") << "\n";
    }
    return code;
  };
}

Handler SetupVersion(CLI::App& /*app*/) {
  return [](const Context& ctx) {
    ControlClient client(ctx.socket_path);
    auto r = client.Call(proto::kDaemonVersion, {});
    if (ctx.json) {
      json j = {{"client", {{"version", std::string(kFruixVersion)}}}};
      if (r.ok()) {
        j["daemon"] = proto::ToJson(*r);
        PrintJson(ctx, j);
        return kExitOk;
      }
      const auto& rpc = client.last_rpc_error();
      j["error"] = ErrorJson(CallErrorForPeople(client, r.error()), rpc ? &*rpc : nullptr);
      PrintJson(ctx, j);
      return CallErrorExitCode(client);
    }
    ctx.out << "fruixctl " << kFruixVersion << "\n";
    if (!r.ok()) return ReportCallError(ctx, client, r.error());
    ctx.out << "fruixd   " << r->version << " (protocol " << r->protocol << ", reports "
            << r->report_schema << ")\n";
    return kExitOk;
  };
}

}  // namespace fruix::client
