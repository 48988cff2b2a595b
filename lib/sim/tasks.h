// sim::tasks — xapi's task objects (TaskHelper in ocaml/xapi/taskHelper.ml) and the worker
// threads that run Async.* calls.
//
// Task rules, as xapi: a new task is `pending`, progress 0.0, type "<none/>"; completing sets
// finished, progress 1.0, result = the XML-RPC fragment of the value ("<value>OpaqueRef:x</value>",
// "<value></value>" for void) and status success; failing sets error_info = code::params and
// status failure (cancelled when the code is TASK_CANCELLED). Only a pending task changes status.
// task.destroy of a pending task only marks it (current_operations gets a `destroy` entry); the
// task is destroyed when it completes. task.cancel adds a `cancel` entry; workers notice it.
//
// Thread rules: the free functions are thread-safe (they go through Database::Write). TaskRunner
// owns the worker threads; Shutdown() (also run by the destructor) wakes sleepers and joins.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/core/result.h"
#include "lib/sim/database.h"
#include "lib/xenapi/value.h"

namespace fruix::sim {

// Creates a pending task; REQUIRES a writable txn. Returns its ref.
std::string CreateTask(Database::Txn& txn, const std::string& label, const std::string& description,
                       const std::string& session, const std::string& host);
void CompleteTask(Database& db, const std::string& task, const xenapi::Value& result);
// Completes with an already-encoded result ("" is allowed).
void CompleteTaskRaw(Database& db, const std::string& task, const std::string& result);
void FailTask(Database& db, const std::string& task, const Error& error);
// Sets progress if the task exists and is pending.
void SetTaskProgress(Database& db, const std::string& task, double progress);
// True when task.cancel was called on a pending task.
bool TaskCancelRequested(Database& db, const std::string& task);

class TaskRunner {
 public:
  explicit TaskRunner(Database& db) : db_(db) {}
  ~TaskRunner() { Shutdown(); }
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  // Runs `fn` on a new worker thread. Ignored after Shutdown().
  void Spawn(std::function<void()> fn);
  // Sleeps up to `d`. Returns TASK_CANCELLED [task] early when `task` (may be "") is cancelled,
  // kCancelled when the runner shuts down.
  Result<void> Sleep(const std::string& task, std::chrono::milliseconds d);
  // Wakes sleepers so they re-check cancellation (called by task.cancel).
  void NotifyCancel();
  void Shutdown();
  bool stopping() const;

 private:
  Database& db_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t cancel_epoch_ = 0;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers_;
};

}  // namespace fruix::sim
