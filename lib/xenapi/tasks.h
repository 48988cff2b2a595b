// XenAPI tasks: running `Async.<method>` calls and waiting for tasks (xenapi-spec.md §4), event-
// driven through event.from on the task object (events.h), never by polling on a timer.
//
// Every function is safe from any thread; each wait uses its own event.from connection. The
// Session is borrowed and must outlive the call (and any ScopedTask).
#pragma once

#include <stop_token>
#include <string>

#include "lib/core/clock.h"
#include "lib/core/ids.h"
#include "lib/core/result.h"
#include "lib/xenapi/events.h"
#include "lib/xenapi/records.h"
#include "lib/xenapi/session.h"
#include "lib/xenapi/value.h"

namespace fruix::xenapi {

// Waits until `task` is finished (success, failure or cancelled) and returns its record. Does not
// destroy the task. kTimeout at `deadline`, kCancelled on `cancel`, kNotFound if the task is
// destroyed meanwhile.
Result<TaskRecord> WaitForTask(Session& session, const OpaqueRef& task, const Deadline& deadline,
                               std::stop_token cancel = {}, EventWatcherOptions options = {});

// A finished task's verdict: on success its result decoded from the XML-RPC fragment ("" decodes
// to an empty string, as for void calls); on failure or cancellation Error::Xapi(error_info), e.g.
// VDI_IO_ERROR ["Device I/O errors"] or TASK_CANCELLED [task]. kProtocol for a malformed result,
// kFailedPrecondition if the task is not finished.
Result<Value> TaskOutcome(const TaskRecord& task);

// Runs `Async.<call.method>(session, call.args...)`, waits for its task, and returns the decoded
// result. The task is ALWAYS destroyed, also on timeout, cancellation and failure. On `deadline`
// or `cancel` the task is first cancelled (best effort) and kTimeout / kCancelled returned.
// A synchronous failure of the Async call itself is returned as is.
Result<Value> RunAsync(Session& session, const Invocation& call, const Deadline& deadline,
                       std::stop_token cancel = {}, EventWatcherOptions options = {});

// Owns a task reference and destroys the task (best effort) when it goes out of scope; for tasks
// created with task.create and handed to an HTTP handler (/import_raw_vdi?task_id=...).
class ScopedTask {
 public:
  ScopedTask(Session& session, OpaqueRef task) : session_(&session), task_(std::move(task)) {}
  ~ScopedTask();
  ScopedTask(ScopedTask&& o) noexcept : session_(o.session_), task_(std::move(o.task_)) {
    o.task_ = OpaqueRef();
  }
  ScopedTask(const ScopedTask&) = delete;
  ScopedTask& operator=(const ScopedTask&) = delete;
  ScopedTask& operator=(ScopedTask&&) = delete;

  const OpaqueRef& ref() const { return task_; }
  // Destroys the task now; the destructor then does nothing. Errors are returned.
  Result<void> Destroy();

 private:
  Session* session_;
  OpaqueRef task_;
};

}  // namespace fruix::xenapi
