// Helpers for recorder tests: a temp directory, a collector for the recorder's callbacks that a
// test can wait on (no sleeps), and file reading.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "lib/console/console_recorder.h"

namespace fruix::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fruix-console-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Delivery {
  console::ConsoleLine line;
  bool partial = false;
  std::chrono::steady_clock::time_point at;
};

// Records every callback of a recorder; tests wait on it with a bound.
class Collector {
 public:
  console::LineCallback LineCallback() {
    return [this](const console::ConsoleLine& line, bool partial) {
      std::lock_guard<std::mutex> lock(mu_);
      deliveries_.push_back({line, partial, std::chrono::steady_clock::now()});
      cv_.notify_all();
    };
  }
  console::StateCallback StateCallback() {
    return [this](console::RecorderState state, const std::optional<Error>&) {
      std::lock_guard<std::mutex> lock(mu_);
      states_.push_back(state);
      cv_.notify_all();
    };
  }
  // Waits until `pred` (called under the lock) holds; false after `timeout`.
  bool WaitFor(const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, pred);
  }
  // Waits until `text` was delivered complete at least `times` times.
  bool WaitForComplete(const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10),
                       size_t times = 1) {
    return WaitFor(
        [&] {
          size_t n = 0;
          for (const auto& d : deliveries_) n += !d.partial && d.line.text == text;
          return n >= times;
        },
        timeout);
  }
  bool WaitForPartial(const std::string& text,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return WaitFor(
        [&] {
          for (const auto& d : deliveries_) {
            if (d.partial && d.line.text == text) return true;
          }
          return false;
        },
        timeout);
  }
  bool WaitForState(console::RecorderState s,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return WaitFor(
        [&] {
          for (auto x : states_) {
            if (x == s) return true;
          }
          return false;
        },
        timeout);
  }
  std::vector<Delivery> deliveries() {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_;
  }
  std::vector<console::RecorderState> states() {
    std::lock_guard<std::mutex> lock(mu_);
    return states_;
  }
  std::vector<std::string> CompleteTexts() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& d : deliveries_) {
      if (!d.partial) out.push_back(d.line.text);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> deliveries_;
  std::vector<console::RecorderState> states_;
};

}  // namespace fruix::testing
