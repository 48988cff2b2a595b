// sim::Scheduler — one timer thread running delayed callbacks (scripted guest events).
// Each timer belongs to a group (the VM ref) so all of a guest's pending events can be cancelled
// at once when its domain goes away. Callbacks run on the timer thread, one at a time, without
// the scheduler's lock held; they may call Schedule()/CancelGroup() themselves.
// Thread-safe. Shutdown() (also run by the destructor) drops pending timers and joins the thread;
// after it, Schedule() is a no-op.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace fruix::sim {

class Scheduler {
 public:
  Scheduler();
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void Schedule(std::chrono::milliseconds delay, const std::string& group,
                std::function<void()> fn);
  void CancelGroup(const std::string& group);
  void Shutdown();

 private:
  struct Timer {
    std::string group;
    std::function<void()> fn;
  };
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t seq_ = 0;
  // (due time, sequence) -> timer; the sequence keeps equal due times in scheduling order.
  std::map<std::pair<std::chrono::steady_clock::time_point, uint64_t>, Timer> timers_;
  std::thread thread_;
};

}  // namespace fruix::sim
