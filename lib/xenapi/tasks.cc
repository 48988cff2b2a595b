#include "lib/xenapi/tasks.h"

#include <spdlog/spdlog.h>

#include "lib/xenapi/codec.h"

namespace fruix::xenapi {
namespace {

// Cleanup calls run after the caller's deadline or cancellation, so they get their own bound.
constexpr std::chrono::milliseconds kCleanupTimeout{std::chrono::seconds(30)};

void BestEffort(Session& session, std::string_view method, const OpaqueRef& task) {
  CallOptions call;
  call.timeout = kCleanupTimeout;
  auto r = session.Call(method, {Value(task.str())}, call);
  if (!r.ok()) spdlog::warn("XenAPI: {} {} failed: {}", method, task.str(), r.error().ToString());
}

}  // namespace

Result<TaskRecord> WaitForTask(Session& session, const OpaqueRef& task, const Deadline& deadline,
                               std::stop_token cancel, EventWatcherOptions options) {
  return WaitForRecord<TaskRecord>(
      session, task, [](const TaskRecord& t) { return IsFinished(t.status); }, deadline, cancel,
      options);
}

Result<Value> TaskOutcome(const TaskRecord& task) {
  switch (task.status) {
    case TaskStatus::kSuccess: {
      auto v = DecodeValue(task.result);
      if (!v.ok()) return v.error().WithContext("task " + task.uuid.str() + " result");
      return v;
    }
    case TaskStatus::kFailure:
    case TaskStatus::kCancelled:
      return Error::Xapi(task.error_info);
    case TaskStatus::kPending:
    case TaskStatus::kCancelling:
      break;
  }
  return Error::FailedPrecondition("task " + task.uuid.str() + " is still " +
                                   std::string(ToString(task.status)));
}

Result<Value> RunAsync(Session& session, const Invocation& call, const Deadline& deadline,
                       std::stop_token cancel, EventWatcherOptions options) {
  CallOptions start;
  start.cancel = cancel;
  FRUIX_ASSIGN_OR_RETURN(Value task_value, session.Call("Async." + call.method, call.args, start));
  if (!task_value.is_string() || task_value.string().empty()) {
    return Error::Protocol("Async." + call.method + " returned " + task_value.DebugString(80) +
                           " instead of a task reference");
  }
  OpaqueRef task(task_value.string());
  auto finished = WaitForTask(session, task, deadline, cancel, options);
  if (!finished.ok()) {
    ErrorCode code = finished.error().code();
    if (code == ErrorCode::kTimeout || code == ErrorCode::kCancelled) {
      BestEffort(session, "task.cancel", task);
    }
    BestEffort(session, "task.destroy", task);
    if (code == ErrorCode::kTimeout) {
      return Error::Timeout(call.method + ": task " + task.str() + " not finished in time");
    }
    return finished.error().WithContext(call.method);
  }
  BestEffort(session, "task.destroy", task);
  auto outcome = TaskOutcome(*finished);
  if (!outcome.ok()) return outcome.error().WithContext(call.method);
  return outcome;
}

ScopedTask::~ScopedTask() {
  if (!task_.empty()) BestEffort(*session_, "task.destroy", task_);
}

Result<void> ScopedTask::Destroy() {
  if (task_.empty()) return Ok();
  OpaqueRef task = std::move(task_);
  task_ = OpaqueRef();
  CallOptions call;
  call.timeout = kCleanupTimeout;
  auto r = session_->Call("task.destroy", {Value(task.str())}, call);
  if (!r.ok()) return std::move(r).error();
  return Ok();
}

}  // namespace fruix::xenapi
