#include "lib/sim/tasks.h"

#include "lib/sim/record_util.h"
#include "lib/xenapi/codec.h"

namespace fruix::sim {
namespace {

using xenapi::Struct;
using xenapi::Value;

bool HasOperation(const Struct& rec, std::string_view op) {
  for (const auto& [k, v] : MapField(rec, "current_operations")) {
    if (v.is_string() && v.string() == op) return true;
  }
  return false;
}

// Applies `fields` to a pending task, then destroys it if task.destroy marked it.
void Finish(Database& db, const std::string& task, Struct fields) {
  db.Write([&](Database::Txn& txn) {
    const ObjectRow* row = txn.Find("task", task);
    if (row == nullptr || StrField(row->record, "status") != "pending") return;
    bool destroy = HasOperation(row->record, "destroy");
    fields.Set("finished", Value(NowDateTime()));
    fields.Set("progress", Value(1.0));
    fields.Set("allowed_operations", Value(xenapi::Array{}));
    (void)txn.SetMany("task", task, fields);
    if (destroy) (void)txn.Destroy("task", task);
  });
}

}  // namespace

std::string CreateTask(Database::Txn& txn, const std::string& label, const std::string& description,
                       const std::string& session, const std::string& host) {
  (void)session;  // xapi keeps it in an internal field; records do not show it
  Struct f;
  f.Set("name_label", Value(label));
  f.Set("name_description", Value(description));
  f.Set("created", Value(NowDateTime()));
  f.Set("resident_on", Value(host.empty() ? std::string(kNullRef) : host));
  return txn.Create("task", std::move(f));
}

void CompleteTask(Database& db, const std::string& task, const Value& result) {
  CompleteTaskRaw(db, task, xenapi::EncodeValue(result));
}

void CompleteTaskRaw(Database& db, const std::string& task, const std::string& result) {
  Struct f;
  f.Set("result", Value(result));
  f.Set("status", Value("success"));
  Finish(db, task, std::move(f));
}

void FailTask(Database& db, const std::string& task, const Error& error) {
  std::vector<std::string> info = error.is_xapi()
                                      ? error.xapi_description()
                                      : std::vector<std::string>{"INTERNAL_ERROR", error.message()};
  Struct f;
  f.Set("error_info", Value::StringArray(info));
  f.Set("status", Value(!info.empty() && info[0] == "TASK_CANCELLED" ? "cancelled" : "failure"));
  Finish(db, task, std::move(f));
}

void SetTaskProgress(Database& db, const std::string& task, double progress) {
  db.Write([&](Database::Txn& txn) {
    const ObjectRow* row = txn.Find("task", task);
    if (row == nullptr || StrField(row->record, "status") != "pending") return;
    (void)txn.Set("task", task, "progress", Value(progress));
  });
}

bool TaskCancelRequested(Database& db, const std::string& task) {
  return db.Read([&](const Database::Txn& txn) {
    const ObjectRow* row = txn.Find("task", task);
    return row != nullptr && StrField(row->record, "status") == "pending" &&
           HasOperation(row->record, "cancel");
  });
}

void TaskRunner::Spawn(std::function<void()> fn) {
  std::vector<Worker> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->done->load()) {
        finished.push_back(std::move(*it));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    workers_.push_back({std::thread([fn = std::move(fn), done] {
                          fn();
                          done->store(true);
                        }),
                        done});
  }
  for (auto& w : finished) w.thread.join();
}

Result<void> TaskRunner::Sleep(const std::string& task, std::chrono::milliseconds d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  for (;;) {
    if (!task.empty() && TaskCancelRequested(db_, task)) {
      return Error::Xapi("TASK_CANCELLED", {task});
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return Error::Cancelled("simulator shutting down");
    uint64_t epoch = cancel_epoch_;
    if (cv_.wait_until(lock, deadline, [&] { return stopping_ || cancel_epoch_ != epoch; })) {
      continue;  // woken: re-check cancellation / shutdown
    }
    return Ok();
  }
}

void TaskRunner::NotifyCancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++cancel_epoch_;
  }
  cv_.notify_all();
}

void TaskRunner::Shutdown() {
  std::vector<Worker> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    workers.swap(workers_);
  }
  cv_.notify_all();
  for (auto& w : workers) {
    if (w.thread.joinable()) w.thread.join();
  }
}

bool TaskRunner::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

}  // namespace fruix::sim
