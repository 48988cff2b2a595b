#include "lib/sim/console_hub.h"

namespace fruix::sim {

std::string ConsoleHub::Subscription::Next(std::chrono::steady_clock::time_point deadline,
                                           bool* ended) {
  std::unique_lock<std::mutex> lock(hub_->mu_);
  hub_->cv_.wait_until(lock, deadline, [&] { return !pending_.empty() || ended_; });
  std::string out;
  out.swap(pending_);
  *ended = ended_ && out.empty();
  return out;
}

void ConsoleHub::Subscription::Cancel() {
  {
    std::lock_guard<std::mutex> lock(hub_->mu_);
    ended_ = true;
  }
  hub_->cv_.notify_all();
}

void ConsoleHub::EndSubscribers(Stream& s) {
  for (auto& w : s.subs) {
    if (auto sub = w.lock()) sub->ended_ = true;
  }
  s.subs.clear();
}

void ConsoleHub::Open(const std::string& vm, size_t scrollback) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Stream& s = streams_[vm];
    EndSubscribers(s);
    s.open = !shutdown_;
    s.scrollback = scrollback;
    s.transcript.clear();
  }
  cv_.notify_all();
}

void ConsoleHub::Close(const std::string& vm) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(vm);
    if (it == streams_.end()) return;
    it->second.open = false;
    EndSubscribers(it->second);
  }
  cv_.notify_all();
}

void ConsoleHub::Write(const std::string& vm, std::string_view bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(vm);
    if (it == streams_.end() || !it->second.open) return;
    Stream& s = it->second;
    s.transcript.append(bytes);
    if (s.transcript.size() > kMaxTranscript) {
      s.transcript.erase(0, s.transcript.size() - kMaxTranscript);
    }
    for (auto w = s.subs.begin(); w != s.subs.end();) {
      auto sub = w->lock();
      if (!sub || sub->ended_) {
        w = s.subs.erase(w);
        continue;
      }
      sub->pending_.append(bytes);
      ++w;
    }
  }
  cv_.notify_all();
}

std::string ConsoleHub::Transcript(const std::string& vm) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(vm);
  return it == streams_.end() ? std::string() : it->second.transcript;
}

std::shared_ptr<ConsoleHub::Subscription> ConsoleHub::Subscribe(const std::string& vm) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(vm);
  if (shutdown_ || it == streams_.end() || !it->second.open) return nullptr;
  Stream& s = it->second;
  std::shared_ptr<Subscription> sub(new Subscription(this));
  size_t n = std::min(s.scrollback, s.transcript.size());
  sub->pending_ = s.transcript.substr(s.transcript.size() - n);
  s.subs.push_back(sub);
  return sub;
}

size_t ConsoleHub::active_subscriptions() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [vm, s] : streams_) {
    for (const auto& w : s.subs) {
      auto sub = w.lock();
      if (sub && !sub->ended_) ++n;
    }
  }
  return n;
}

void ConsoleHub::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    for (auto& [vm, s] : streams_) {
      s.open = false;
      EndSubscribers(s);
    }
  }
  cv_.notify_all();
}

}  // namespace fruix::sim
