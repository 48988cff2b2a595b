// fruix::Clock — the seam for time. Everything that waits or timestamps takes a Clock&, so tests
// can run against a manual clock. Implementations must be safe to call from any thread.
#pragma once

#include <chrono>

namespace fruix {

class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic time, for deadlines and durations.
  virtual TimePoint Now() const = 0;
  // Wall-clock time, for reports and records.
  virtual std::chrono::system_clock::time_point WallNow() const = 0;
};

// The process-wide real clock (steady_clock / system_clock). Never destroyed.
Clock& RealClock();

// A deadline on a Clock: "until when may this operation run".
class Deadline {
 public:
  Deadline(const Clock& clock, Clock::Duration budget)
      : clock_(&clock), at_(clock.Now() + budget) {}
  bool expired() const { return clock_->Now() >= at_; }
  // Time left, never negative.
  Clock::Duration remaining() const {
    auto now = clock_->Now();
    return now >= at_ ? Clock::Duration::zero() : at_ - now;
  }
  Clock::TimePoint at() const { return at_; }

 private:
  const Clock* clock_;
  Clock::TimePoint at_;
};

}  // namespace fruix
