// daemon handlers — the control protocol's methods bound to the service layer: one handler per
// Method of proto/methods.h, registered on the Dispatcher. Handlers run on the io thread and only
// call JobService methods that do not wait for the network (job.watch's events come later from
// job threads through the connection's Outbox).
//
// deploy.start's image: with image.passed_fd the request must carry exactly one descriptor
// (SCM_RIGHTS), opened for reading; the daemon uses it and never opens a client's path. Without
// it, image.path is opened by the job only for a peer that is root or the daemon's own user
// (nothing gained over opening it themselves); anyone else is refused (kPermissionDenied).
#pragma once

#include <string>

#include "daemon/dispatcher.h"
#include "daemon/job_service.h"

namespace fruix::daemon {

struct HandlerOptions {
  std::string version;  // daemon.version's answer
};

// Registers every method of proto::kMethods. `service` must outlive the dispatcher's use.
void RegisterHandlers(Dispatcher& dispatcher, JobService& service, HandlerOptions options);

}  // namespace fruix::daemon
