#include "lib/sim/scheduler.h"

namespace fruix::sim {

Scheduler::Scheduler() : thread_([this] { Run(); }) {}

Scheduler::~Scheduler() { Shutdown(); }

void Scheduler::Schedule(std::chrono::milliseconds delay, const std::string& group,
                         std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    timers_.emplace(std::make_pair(std::chrono::steady_clock::now() + delay, ++seq_),
                    Timer{group, std::move(fn)});
  }
  cv_.notify_all();
}

void Scheduler::CancelGroup(const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = timers_.begin(); it != timers_.end();) {
    it = it->second.group == group ? timers_.erase(it) : std::next(it);
  }
}

void Scheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    timers_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Scheduler::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto due = timers_.begin()->first.first;
    if (std::chrono::steady_clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    Timer t = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    lock.unlock();
    t.fn();
    lock.lock();
  }
}

}  // namespace fruix::sim
