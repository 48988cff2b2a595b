// sim::ConsoleHub — the text each simulated guest prints on its vt100 console, fanned out to the
// CONNECT /console connections watching it. One stream per VM ref and boot: Open() starts it
// (VM start / reboot), Write() appends guest output, Close() ends it (domain destroyed) and every
// subscriber then sees end-of-stream. The transcript of the current (or last) boot is kept for
// the admin endpoint, bounded to kMaxTranscript bytes (oldest dropped).
// Thread-safe; Next() blocks only its caller. Shutdown() ends every stream for good.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace fruix::sim {

class ConsoleHub {
 public:
  static constexpr size_t kMaxTranscript = 1 << 20;

  class Subscription {
   public:
    // Waits until output is available, the stream ended, or `deadline`. Returns the bytes
    // (possibly none); sets *ended when the stream is over and everything was delivered.
    std::string Next(std::chrono::steady_clock::time_point deadline, bool* ended);
    // Ends this subscription (its connection is going away).
    void Cancel();

   private:
    friend class ConsoleHub;
    explicit Subscription(ConsoleHub* hub) : hub_(hub) {}
    ConsoleHub* hub_;
    std::string pending_;
    bool ended_ = false;
  };

  ConsoleHub() = default;
  ConsoleHub(const ConsoleHub&) = delete;
  ConsoleHub& operator=(const ConsoleHub&) = delete;

  // Starts a new boot's stream; ends the previous one. `scrollback` bytes of it are replayed to
  // late subscribers.
  void Open(const std::string& vm, size_t scrollback);
  void Close(const std::string& vm);
  void Write(const std::string& vm, std::string_view bytes);
  // Everything printed during the current or last boot.
  std::string Transcript(const std::string& vm) const;
  // nullptr when the VM's console is not open (domain not running).
  std::shared_ptr<Subscription> Subscribe(const std::string& vm);
  size_t active_subscriptions() const;
  void Shutdown();

 private:
  struct Stream {
    bool open = false;
    size_t scrollback = 0;
    std::string transcript;
    std::vector<std::weak_ptr<Subscription>> subs;
  };
  void EndSubscribers(Stream& s);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_ = false;
  std::map<std::string, Stream> streams_;
};

}  // namespace fruix::sim
