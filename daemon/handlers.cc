#include "daemon/handlers.h"

#include <fcntl.h>
#include <unistd.h>

#include <mutex>

#include "lib/job/report.h"

namespace fruix::daemon {

namespace {

using proto::RpcCode;
using proto::RpcError;

// Holds job.watch events until the watch's own answer has been queued, so a client always reads
// the answer first.
class OrderedSink {
 public:
  explicit OrderedSink(std::shared_ptr<Outbox> outbox) : outbox_(std::move(outbox)) {}
  void Send(const proto::JobEvent& event) {
    std::string line =
        proto::EncodeNotification(proto::kJobEventNotification, proto::ToJson(event));
    std::lock_guard lock(mu_);
    if (!released_) {
      held_.push_back(std::move(line));
      return;
    }
    if (outbox_) outbox_->SendLine(std::move(line));
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    for (auto& line : held_) {
      if (outbox_) outbox_->SendLine(std::move(line));
    }
    held_.clear();
  }

 private:
  std::shared_ptr<Outbox> outbox_;
  std::mutex mu_;
  bool released_ = false;
  std::vector<std::string> held_;
};

Result<std::shared_ptr<vhd::SourceFile>> TakeImage(const proto::ImageRef& image, CallContext& ctx) {
  if (!image.passed_fd) {
    if (ctx.peer.uid != 0 && ctx.peer.uid != ::geteuid()) {
      return Error::PermissionDenied(
          "fruixd does not open image paths for " + PeerName(ctx.peer) +
          ": pass the image as a descriptor (image.passed_fd, as fruixctl does)");
    }
    return std::shared_ptr<vhd::SourceFile>();
  }
  if (ctx.fds.size() != 1) {
    return Error::FailedPrecondition(
        "image.passed_fd is true but the request carried " + std::to_string(ctx.fds.size()) +
        " descriptors (exactly one, the image opened for reading, is expected)");
  }
  const int flags = ::fcntl(ctx.fds[0].get(), F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) == O_WRONLY) {
    return Error::InvalidArgument("the image descriptor passed is not open for reading");
  }
  const std::string name =
      image.path.empty() ? "image passed by " + PeerName(ctx.peer) : image.path;
  return vhd::SourceFile::Adopt(ctx.fds[0].Release(), name);
}

}  // namespace

void RegisterHandlers(Dispatcher& d, JobService& service, HandlerOptions options) {
  d.Register(proto::kDaemonVersion, [version = options.version](proto::VersionParams, CallContext&,
                                                                Reply<proto::VersionResult> reply) {
    reply.Ok({version, proto::kProtocolVersion, "fruix.job-report/1"});
  });
  d.Register(proto::kDaemonHealth,
             [&service](proto::HealthParams, CallContext&, Reply<proto::HealthResult> reply) {
               reply.Ok(service.Health());
             });
  d.Register(proto::kTargetsList,
             [&service](proto::TargetsListParams, CallContext&,
                        Reply<proto::TargetsListResult> reply) { reply.Ok(service.Targets()); });
  d.Register(proto::kDeployStart, [&service](proto::DeployStartParams params, CallContext& ctx,
                                             Reply<proto::DeployStartResult> reply) {
    auto image = TakeImage(params.image, ctx);
    if (!image.ok()) {
      reply.Fail(image.error());
      return;
    }
    DeployRequest request;
    request.params = std::move(params);
    request.requester = {static_cast<int64_t>(ctx.peer.uid), ctx.peer.user};
    request.image_file = std::move(image).value();
    RpcError refusal;
    refusal.code = 0;
    auto started = service.Start(std::move(request), &refusal);
    if (started.ok()) {
      reply.Ok(*started);
    } else if (refusal.code != 0) {
      reply.Fail(refusal);
    } else {
      reply.Fail(started.error());
    }
  });
  d.Register(proto::kJobGet, [&service](proto::JobGetParams params, CallContext&,
                                        Reply<proto::JobGetResult> reply) {
    if (auto encoded = service.EncodedGet(params.job_id, params.report)) {
      reply.OkEncoded(*encoded);
      return;
    }
    auto job = service.Get(params.job_id, params.report);
    if (!job.ok()) {
      reply.Fail(job.error());
      return;
    }
    reply.Ok({std::move(job).value()});
  });
  d.Register(proto::kJobList, [&service](proto::JobListParams params, CallContext&,
                                         Reply<proto::JobListResult> reply) {
    auto jobs = service.List(params);
    if (!jobs.ok()) {
      reply.Fail(jobs.error());
      return;
    }
    reply.Ok(*jobs);
  });
  d.Register(proto::kJobCancel, [&service](proto::JobCancelParams params, CallContext&,
                                           Reply<proto::JobCancelResult> reply) {
    auto r = service.Cancel(params.job_id);
    if (!r.ok()) {
      reply.Fail(r.error());
      return;
    }
    reply.Ok(*r);
  });
  d.Register(proto::kJobWatch, [&service](proto::JobWatchParams params, CallContext& ctx,
                                          Reply<proto::JobWatchResult> reply) {
    auto sink = std::make_shared<OrderedSink>(ctx.outbox);
    auto w = service.Watch(params.job_id, params.console, params.console_since,
                           [sink](const proto::JobEvent& e) { sink->Send(e); });
    if (!w.ok()) {
      reply.Fail(w.error());
      return;
    }
    if (w->watching && ctx.outbox) {
      ctx.outbox->OnClose([&service, token = w->token] { service.Unwatch(token); });
    }
    reply.Ok({w->job, w->watching});
    sink->Release();
  });
  d.Register(proto::kJobLog, [&service](proto::JobLogParams params, CallContext&,
                                        Reply<proto::JobLogResult> reply) {
    auto r = service.Log(params);
    if (!r.ok()) {
      reply.Fail(r.error());
      return;
    }
    reply.Ok(*r);
  });
}

}  // namespace fruix::daemon
