#include "client/job_follow.h"

#include "client/job_view.h"

namespace fruix::client {

namespace {

int WaitFailed(const Context& ctx, const ControlClient& client, const Error& error,
               const std::string& job_id, const FollowOptions& options) {
  if (client.last_failure() != ControlClient::Failure::kLimit) {
    return ReportCallError(ctx, client, error);
  }
  return ReportError(
      ctx,
      Error::Timeout("stopped waiting after " + options.limit_text + " (--timeout-total); job " +
                     job_id + " keeps running: follow it with `fruixctl watch " + job_id +
                     "`, stop it with `fruixctl cancel " + job_id + "`"),
      kExitTimeout);
}

}  // namespace

int FollowJob(const Context& ctx, ControlClient& client, const std::string& job_id,
              const FollowOptions& options) {
  const bool live = (options.live || options.console) && !ctx.json;
  client.set_limit(options.limit);
  proto::JobWatchParams params;
  params.job_id = job_id;
  params.console = live && options.console;
  auto watch = client.Call(proto::kJobWatch, params);
  if (!watch.ok()) return WaitFailed(ctx, client, watch.error(), job_id, options);

  EventRenderer renderer(ctx.out, EventRenderer::Options{ctx.tty, options.console});
  if (live) renderer.Start(watch->job);
  proto::JobInfo final_job = watch->job;
  if (watch->watching) {
    auto listened = client.Listen([&](const proto::Notification& n) {
      if (n.method != proto::kJobEventNotification) return true;
      auto event = proto::Decode<proto::JobEvent>(n.params, "params");
      if (!event.ok() || event->job_id != job_id) return true;
      if (event->kind == "end" && event->end) {
        final_job = *event->end;
        return false;
      }
      if (live) renderer.OnEvent(*event);
      return true;
    });
    renderer.Finish();
    if (!listened.ok()) return WaitFailed(ctx, client, listened.error(), job_id, options);
  }
  // The full record, with its report (host key, address sources); the end event has neither.
  client.set_limit(std::nullopt);
  proto::JobGetParams get;
  get.job_id = job_id;
  auto full = client.Call(proto::kJobGet, get);
  if (full.ok()) final_job = std::move(full->job);
  if (ctx.json) {
    ctx.out << proto::ToJson(proto::JobGetResult{final_job}).dump(2) << "\n";
  } else {
    if (live) ctx.out << "\n";
    PrintJobSummary(ctx.out, final_job, /*with_phases=*/!live);
  }
  return JobExitCode(final_job);
}

}  // namespace fruix::client
