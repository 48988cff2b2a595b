// testing::FakeConsoleSource — a scripted ConsoleSource for recorder tests. Each Open() takes the
// next queued outcome (a FakeConsolePipe, or an error); with none queued it blocks until one is
// queued or the stop token fires (then kCancelled). A FakeConsolePipe is one console connection:
// the test pushes bytes and ends it; the recorder's stream reads them.
//
// Threads: the test thread queues and pushes; the recorder's thread opens and reads. All methods
// are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "lib/console/console_source.h"

namespace fruix::testing {

class FakeConsolePipe {
 public:
  void Push(std::string bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    data_ += bytes;
    cv_.notify_all();
  }
  // The console drops: reads return what is left, then kUnavailable.
  void End() {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  Result<size_t> Read(std::span<char> buf, std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return !data_.empty() || ended_ || closed_; });
    if (closed_) return Error::Unavailable("fake console closed");
    if (!data_.empty()) {
      size_t n = std::min(buf.size(), data_.size());
      std::memcpy(buf.data(), data_.data(), n);
      data_.erase(0, n);
      return n;
    }
    if (ended_) return Error::Unavailable("fake console dropped");
    return size_t{0};
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string data_;
  bool ended_ = false;
  bool closed_ = false;
};

class FakeConsoleSource final : public console::ConsoleSource {
 public:
  // Shared state, so the test keeps access after the recorder took ownership of the source.
  struct Script {
    std::mutex mu;
    std::condition_variable_any cv;
    std::deque<std::variant<std::shared_ptr<FakeConsolePipe>, Error>> outcomes;
    int opens = 0;

    std::shared_ptr<FakeConsolePipe> QueuePipe() {
      auto pipe = std::make_shared<FakeConsolePipe>();
      std::lock_guard<std::mutex> lock(mu);
      outcomes.push_back(pipe);
      cv.notify_all();
      return pipe;
    }
    void QueueError(Error e) {
      std::lock_guard<std::mutex> lock(mu);
      outcomes.push_back(std::move(e));
      cv.notify_all();
    }
    int open_count() {
      std::lock_guard<std::mutex> lock(mu);
      return opens;
    }
  };

  explicit FakeConsoleSource(std::shared_ptr<Script> script, std::string_view kind = "xapi-vt100")
      : script_(std::move(script)), kind_(kind) {}

  std::string_view kind() const override { return kind_; }
  std::string Describe() const override { return "fake console"; }

  Result<std::unique_ptr<console::ConsoleStream>> Open(std::stop_token stop) override {
    std::unique_lock<std::mutex> lock(script_->mu);
    script_->cv.wait(lock, stop, [&] { return !script_->outcomes.empty(); });
    if (script_->outcomes.empty()) return Error::Cancelled("fake open cancelled");
    auto next = std::move(script_->outcomes.front());
    script_->outcomes.pop_front();
    ++script_->opens;
    if (auto* e = std::get_if<Error>(&next)) return *e;
    return std::unique_ptr<console::ConsoleStream>(
        std::make_unique<Stream>(std::get<std::shared_ptr<FakeConsolePipe>>(next)));
  }

 private:
  class Stream final : public console::ConsoleStream {
   public:
    explicit Stream(std::shared_ptr<FakeConsolePipe> pipe) : pipe_(std::move(pipe)) {}
    Result<size_t> Read(std::span<char> buf, std::chrono::milliseconds wait) override {
      return pipe_->Read(buf, wait);
    }
    void Close() override { pipe_->Close(); }

   private:
    std::shared_ptr<FakeConsolePipe> pipe_;
  };

  std::shared_ptr<Script> script_;
  std::string kind_;
};

}  // namespace fruix::testing
