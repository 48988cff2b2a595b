#include "lib/console/console_recorder.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "lib/console/line_splitter.h"

namespace fruix::console {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Open failures after which no console exists right now (retrying soon will not help).
bool IsUnavailable(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kNotFound:
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kTls:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string_view RecorderStateName(RecorderState state) {
  switch (state) {
    case RecorderState::kConnecting:
      return "connecting";
    case RecorderState::kConnected:
      return "connected";
    case RecorderState::kReconnecting:
      return "reconnecting";
    case RecorderState::kUnavailable:
      return "unavailable";
    case RecorderState::kNone:
      return "none";
    case RecorderState::kStopped:
      return "stopped";
  }
  return "unknown";
}

struct ConsoleRecorder::Impl {
  std::unique_ptr<ConsoleSource> source;
  ConsoleRecorderOptions options;
  int fd = -1;

  mutable std::mutex mu;
  std::condition_variable_any wake;  // Stop() interrupts backoff sleeps through the stop token
  ConsoleRecorderStatus status;      // guarded by mu
  std::deque<ConsoleLine> ring;      // guarded by mu

  // Reader-thread state (no lock).
  LineSplitter splitter{4096};
  std::string last_partial;  // text last delivered as partial for the pending line
  SteadyClock::time_point last_byte_at{};

  std::jthread thread;
  bool stopped = false;  // owner thread only

  ~Impl() {
    if (fd >= 0) ::close(fd);
  }

  void Run(std::stop_token stop);
  // Reads `stream` until it fails or stop; returns the error (nullopt on stop).
  std::optional<Error> Pump(ConsoleStream& stream, std::stop_token stop, bool* got_bytes);
  void Append(std::string_view bytes);
  void CompleteLine(std::string text);
  void MaybeDeliverPartial(bool force);
  void SetState(RecorderState state, std::optional<Error> error);
  void SleepFor(std::chrono::milliseconds d, std::stop_token stop);
};

void ConsoleRecorder::Impl::SetState(RecorderState state, std::optional<Error> error) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (error) status.last_error = error;
    if (status.state == state && !error) return;
    status.state = state;
  }
  if (options.on_state) options.on_state(state, error);
}

void ConsoleRecorder::Impl::SleepFor(std::chrono::milliseconds d, std::stop_token stop) {
  std::unique_lock<std::mutex> lock(mu);
  wake.wait_for(lock, stop, d, [] { return false; });
}

void ConsoleRecorder::Impl::Append(std::string_view bytes) {
  // Log file first: every byte, straight through.
  std::string_view rest = bytes;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Error::Io("writing console log " + options.log_path.string() + ": " +
                          std::strerror(errno));
      std::lock_guard<std::mutex> lock(mu);
      status.last_error = e;
      break;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    status.bytes += bytes.size() - rest.size();
  }
  splitter.Feed(bytes, [this](std::string line) { CompleteLine(std::move(line)); });
  {
    std::lock_guard<std::mutex> lock(mu);
    status.partial_line = splitter.pending();
  }
}

void ConsoleRecorder::Impl::CompleteLine(std::string text) {
  ConsoleLine line;
  line.text = std::move(text);
  line.time = std::chrono::system_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu);
    line.seq = ++status.lines;
    ring.push_back(line);
    while (ring.size() > options.ring_lines) ring.pop_front();
  }
  last_partial.clear();
  if (options.on_line) options.on_line(line, false);
}

void ConsoleRecorder::Impl::MaybeDeliverPartial(bool force) {
  const std::string& pending = splitter.pending();
  if (pending.empty() || pending == last_partial) return;
  if (!force && SteadyClock::now() - last_byte_at < options.partial_after) return;
  last_partial = pending;
  ConsoleLine line;
  line.text = pending;
  line.time = std::chrono::system_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu);
    line.seq = status.lines + 1;
  }
  if (options.on_line) options.on_line(line, true);
}

std::optional<Error> ConsoleRecorder::Impl::Pump(ConsoleStream& stream, std::stop_token stop,
                                                 bool* got_bytes) {
  std::array<char, 16 * 1024> buf;
  while (!stop.stop_requested()) {
    auto wait = options.read_wait;
    const std::string& pending = splitter.pending();
    if (!pending.empty() && pending != last_partial) {
      auto due = last_byte_at + options.partial_after - SteadyClock::now();
      auto due_ms = std::chrono::ceil<std::chrono::milliseconds>(due);
      wait = std::clamp(due_ms, std::chrono::milliseconds(1), wait);
    }
    auto n = stream.Read(std::span<char>(buf.data(), buf.size()), wait);
    if (!n.ok()) return n.error();
    if (*n > 0) {
      *got_bytes = true;
      last_byte_at = SteadyClock::now();
      Append(std::string_view(buf.data(), *n));
    } else {
      MaybeDeliverPartial(false);
    }
  }
  return std::nullopt;
}

void ConsoleRecorder::Impl::Run(std::stop_token stop) {
  if (source->kind() == kNoneKind) {
    auto opened = source->Open(stop);
    SetState(RecorderState::kNone,
             opened.ok() ? std::nullopt : std::optional<Error>(opened.error()));
    return;
  }
  auto backoff = options.backoff_initial;
  bool first = true;
  while (!stop.stop_requested()) {
    auto opened = source->Open(stop);
    if (stop.stop_requested()) break;
    if (!opened.ok()) {
      const Error& e = opened.error();
      SetState(IsUnavailable(e) ? RecorderState::kUnavailable : RecorderState::kReconnecting, e);
      SleepFor(backoff, stop);
      backoff = std::min(backoff * 2, options.backoff_max);
      continue;
    }
    std::unique_ptr<ConsoleStream> stream = std::move(opened).value();
    {
      std::lock_guard<std::mutex> lock(mu);
      ++status.connects;
      if (!first) ++status.reconnects;
    }
    first = false;
    SetState(RecorderState::kConnected, std::nullopt);
    bool got_bytes = false;
    std::optional<Error> dropped = Pump(*stream, stop, &got_bytes);
    stream->Close();
    stream.reset();
    if (stop.stop_requested()) break;
    if (got_bytes) backoff = options.backoff_initial;
    MaybeDeliverPartial(true);  // the guest may be gone: show what it printed last
    SetState(RecorderState::kReconnecting,
             dropped.value_or(Error::Unavailable("console stream ended")));
    SleepFor(backoff, stop);
    backoff = std::min(backoff * 2, options.backoff_max);
  }
  MaybeDeliverPartial(true);
}

ConsoleRecorder::ConsoleRecorder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ConsoleRecorder::~ConsoleRecorder() { Stop(); }

Result<std::unique_ptr<ConsoleRecorder>> ConsoleRecorder::Start(
    std::unique_ptr<ConsoleSource> source, ConsoleRecorderOptions options) {
  if (source == nullptr) return Error::InvalidArgument("console recorder: no console source");
  if (options.log_path.empty()) return Error::InvalidArgument("console recorder: no log path");
  if (options.ring_lines == 0) return Error::InvalidArgument("console recorder: ring_lines is 0");
  if (options.max_line_bytes < 16) {
    return Error::InvalidArgument("console recorder: max_line_bytes below 16");
  }
  if (options.read_wait.count() <= 0 || options.backoff_initial.count() <= 0 ||
      options.backoff_max < options.backoff_initial || options.partial_after.count() <= 0) {
    return Error::InvalidArgument(
        "console recorder: read_wait, partial_after and backoff_initial must be positive and "
        "backoff_max at least backoff_initial");
  }
  auto impl = std::make_unique<Impl>();
  impl->fd = ::open(options.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (impl->fd < 0) {
    return Error::Io("cannot open console log " + options.log_path.string() + ": " +
                     std::strerror(errno));
  }
  impl->splitter = LineSplitter(options.max_line_bytes);
  impl->status.state = RecorderState::kConnecting;
  impl->status.source_kind = std::string(source->kind());
  impl->status.source_description = source->Describe();
  impl->status.log_path = options.log_path;
  impl->source = std::move(source);
  impl->options = std::move(options);
  Impl* raw = impl.get();
  impl->thread = std::jthread([raw](std::stop_token stop) { raw->Run(stop); });
  return std::unique_ptr<ConsoleRecorder>(new ConsoleRecorder(std::move(impl)));
}

void ConsoleRecorder::Stop() {
  if (impl_->stopped) return;
  impl_->thread.request_stop();
  // Misuse from a callback (see the header): never self-join; the owner's Stop() joins later.
  if (impl_->thread.get_id() == std::this_thread::get_id()) return;
  impl_->stopped = true;
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->status.state = RecorderState::kStopped;
}

ConsoleRecorderStatus ConsoleRecorder::Status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->status;
}

std::vector<ConsoleLine> ConsoleRecorder::Lines(uint64_t since_seq, size_t max) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<ConsoleLine> out;
  const auto& ring = impl_->ring;
  if (ring.empty() || max == 0) return out;
  uint64_t first = ring.front().seq;
  size_t start = since_seq < first ? 0 : static_cast<size_t>(since_seq - first + 1);
  for (size_t i = start; i < ring.size() && out.size() < max; ++i) out.push_back(ring[i]);
  return out;
}

std::vector<ConsoleLine> ConsoleRecorder::Tail(size_t n) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto& ring = impl_->ring;
  size_t start = ring.size() > n ? ring.size() - n : 0;
  return std::vector<ConsoleLine>(ring.begin() + static_cast<std::ptrdiff_t>(start), ring.end());
}

const std::filesystem::path& ConsoleRecorder::log_path() const { return impl_->options.log_path; }

}  // namespace fruix::console
