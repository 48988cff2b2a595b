#include "lib/ssh/readiness.h"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <utility>

#include "lib/ssh/shell_quote.h"

namespace fruix::ssh {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Exit status of the marker check when the marker does not exist.
constexpr int kMarkerMissingExit = 97;
// Bytes of the marker file that are read.
constexpr size_t kMaxMarkerBytes = 4096;
// Even past the deadline, a probe gets at least this long.
constexpr milliseconds kMinProbeTimeout{1000};

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Keeps messages readable when a marker holds something long or binary.
std::string Shown(std::string_view s) {
  constexpr size_t kMax = 200;
  std::string out = "\"";
  for (char c : s.substr(0, kMax)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c) : std::string("?");
  }
  out += s.size() > kMax ? "...\"" : "\"";
  return out;
}

milliseconds Ms(Clock::Duration d) { return duration_cast<milliseconds>(d); }

bool RealPause(Clock::Duration d, const std::stop_token& cancel) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, cancel, d, [] { return false; });
  return !cancel.stop_requested();
}

SshWaitState StateForConnectError(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnavailable:
      return SshWaitState::kPortClosed;
    case ErrorCode::kTimeout:
      return SshWaitState::kConnectTimeout;
    case ErrorCode::kTls:
      return SshWaitState::kHostKeyMismatch;
    case ErrorCode::kPermissionDenied:
      return SshWaitState::kAuthRefused;
    default:
      return SshWaitState::kHandshakeFailed;
  }
}

// Why the deadline passed, from the last state: "marker /var/lib/fruix/ready missing after 12
// attempts", "port 22 closed after 3 attempts (...)", ...
std::string TimeoutReason(const ReadinessSpec& spec, const SshWaitStatus& status) {
  const std::string after =
      " after " + std::to_string(status.attempts) + " attempt" + (status.attempts == 1 ? "" : "s");
  const std::string detail = status.detail.empty() ? "" : " (" + status.detail + ")";
  switch (status.state) {
    case SshWaitState::kNotTried:
      return "the deadline passed before the first attempt";
    case SshWaitState::kPortClosed:
      return "port " + std::to_string(spec.endpoint.port) + " closed" + after + detail;
    case SshWaitState::kConnectTimeout:
      return "no answer on port " + std::to_string(spec.endpoint.port) + after + detail;
    case SshWaitState::kHandshakeFailed:
      return "SSH handshake failed" + after + detail;
    case SshWaitState::kHostKeyMismatch:
      return "host key mismatch" + after + detail;
    case SshWaitState::kAuthRefused:
      return "authentication refused for user " + spec.endpoint.user + after + detail;
    case SshWaitState::kMarkerMissing:
      if (status.detail.rfind("marker ", 0) == 0) return status.detail + after;
      return "marker " + spec.marker_path + " not confirmed" + after + detail;
    case SshWaitState::kMarkerMismatch:
      return status.detail + after;
    case SshWaitState::kReady:
      return "ready";
  }
  return status.detail;
}

}  // namespace

std::string_view ToString(SshWaitState state) {
  switch (state) {
    case SshWaitState::kNotTried:
      return "not tried";
    case SshWaitState::kPortClosed:
      return "port closed";
    case SshWaitState::kConnectTimeout:
      return "connect timeout";
    case SshWaitState::kHandshakeFailed:
      return "handshake failed";
    case SshWaitState::kHostKeyMismatch:
      return "host key mismatch";
    case SshWaitState::kAuthRefused:
      return "auth refused";
    case SshWaitState::kMarkerMissing:
      return "marker missing";
    case SshWaitState::kMarkerMismatch:
      return "marker mismatch";
    case SshWaitState::kReady:
      return "ready";
  }
  return "unknown";
}

Result<ReadinessReport> WaitForReady(SshClient& client, const ReadinessSpec& spec,
                                     const Deadline& deadline, std::stop_token cancel,
                                     const std::function<void(const SshWaitStatus&)>& on_status,
                                     const WaitOptions& options) {
  const Clock& clock = options.clock != nullptr ? *options.clock : RealClock();
  const auto pause = options.pause ? options.pause : RealPause;
  const auto started = clock.Now();
  const Endpoint& ep = spec.endpoint;
  const std::string prefix = "SSH readiness of " + Describe(ep) + ": ";

  SshWaitStatus status;
  // Publishes the final status however this function returns.
  struct Publish {
    const WaitOptions& options;
    const SshWaitStatus& status;
    ~Publish() {
      if (options.final_status != nullptr) *options.final_status = status;
    }
  } publish{options, status};
  // Records the attempt's outcome; returns whether the state changed (and reports it if so).
  auto set_state = [&](SshWaitState state, std::string detail) {
    const bool changed = state != status.state;
    status.state = state;
    status.detail = std::move(detail);
    if (changed && on_status) on_status(status);
    return changed;
  };
  auto cancelled = [&] { return Error::Cancelled(prefix + "cancelled"); };

  if (ep.host.empty()) return Error::InvalidArgument(prefix + "no host given");
  if (spec.marker_path.empty()) return Error::InvalidArgument(prefix + "empty marker path");
  if (ep.host_key.mode == HostKeyMode::kPin) {
    auto pin = ParseHostKeyFingerprint(ep.host_key.pin_sha256);
    if (!pin.ok()) return pin.error().WithContext(prefix + "pinned host key");
  }

  const std::string quoted_marker = ShellQuote(spec.marker_path);
  const std::string marker_check = "if test -f " + quoted_marker + "; then cat " + quoted_marker +
                                   "; else exit " + std::to_string(kMarkerMissingExit) + "; fi";
  const milliseconds initial_backoff = std::max(spec.initial_backoff, milliseconds(1));
  const milliseconds max_backoff = std::max(spec.max_backoff, initial_backoff);

  std::unique_ptr<SshSession> session;
  std::string marker_content;
  milliseconds backoff = initial_backoff;
  std::optional<Clock::TimePoint> mismatch_since;
  bool ready = false;

  for (;;) {
    if (cancel.stop_requested()) return cancelled();
    if (deadline.expired()) break;
    ++status.attempts;
    bool changed = false;

    if (session == nullptr) {
      Endpoint attempt = ep;
      attempt.connect_timeout =
          std::max(milliseconds(1), std::min(ep.connect_timeout, Ms(deadline.remaining())));
      auto connected = client.Connect(attempt, cancel);
      if (connected.ok()) {
        session = std::move(connected).value();
      } else {
        const Error& e = connected.error();
        if (e.code() == ErrorCode::kCancelled) return cancelled();
        if (e.code() == ErrorCode::kInvalidArgument) {
          status.detail = e.message();
          return e.WithContext(prefix);
        }
        // A connect cut short by the deadline says nothing new: keep the state known so far.
        if (e.code() == ErrorCode::kTimeout && attempt.connect_timeout < ep.connect_timeout &&
            status.state != SshWaitState::kNotTried) {
          break;
        }
        changed = set_state(StateForConnectError(e.code()), e.message());
        if (status.state == SshWaitState::kHostKeyMismatch &&
            ep.host_key.mode == HostKeyMode::kPin) {
          return e.WithContext(prefix);
        }
      }
    }

    if (session != nullptr) {
      const milliseconds timeout =
          std::max(milliseconds(1), std::min(spec.command_timeout, Ms(deadline.remaining())));
      auto run = session->Run(marker_check, timeout, kMaxMarkerBytes);
      if (!run.ok()) {
        const Error& e = run.error();
        if (e.code() == ErrorCode::kCancelled) return cancelled();
        if (e.code() == ErrorCode::kTimeout) {
          // Logged in, but the check did not finish (a slow or hung guest; the session stays
          // usable). Cut short by the deadline, it says nothing new about a known state.
          if (timeout < spec.command_timeout && (status.state == SshWaitState::kMarkerMissing ||
                                                 status.state == SshWaitState::kMarkerMismatch)) {
            break;
          }
          mismatch_since.reset();
          changed = set_state(SshWaitState::kMarkerMissing, "logged in, but checking marker " +
                                                                spec.marker_path +
                                                                " did not finish: " + e.message());
        } else {
          // The connection broke: start again with a fresh one.
          session.reset();
          mismatch_since.reset();
          changed = set_state(SshWaitState::kHandshakeFailed,
                              "connection lost while checking the marker: " + e.message());
        }
      } else if (run->exit_status == 0) {
        std::string content = Trim(run->output);
        if (!spec.expected_marker || content == *spec.expected_marker) {
          marker_content = std::move(content);
          ready = true;
        } else if (content.empty()) {
          mismatch_since.reset();
          changed = set_state(SshWaitState::kMarkerMismatch, "marker " + spec.marker_path +
                                                                 " exists but is empty, expected " +
                                                                 Shown(*spec.expected_marker));
        } else {
          const auto now = clock.Now();
          if (!mismatch_since) mismatch_since = now;
          changed = set_state(SshWaitState::kMarkerMismatch,
                              "marker " + spec.marker_path + " contains " + Shown(content) +
                                  ", expected " + Shown(*spec.expected_marker));
          if (now - *mismatch_since >= spec.mismatch_grace) {
            return Error::FailedPrecondition(prefix + status.detail + " (unchanged for " +
                                             std::to_string(Ms(now - *mismatch_since).count()) +
                                             " ms)");
          }
        }
      } else {
        mismatch_since.reset();
        std::string detail = "marker " + spec.marker_path + " missing";
        if (run->exit_status != kMarkerMissingExit) {
          detail = "cannot read marker " + spec.marker_path + " (exit status " +
                   std::to_string(run->exit_status) + ")";
          if (std::string err = Trim(run->error_output); !err.empty()) detail += ": " + err;
        }
        changed = set_state(SshWaitState::kMarkerMissing, std::move(detail));
      }
    }

    if (ready) break;

    if (changed) backoff = initial_backoff;
    Clock::Duration wait = std::min<Clock::Duration>(backoff, deadline.remaining());
    if (mismatch_since) {
      const auto grace_left = spec.mismatch_grace - (clock.Now() - *mismatch_since);
      wait = std::clamp<Clock::Duration>(grace_left, Clock::Duration::zero(), wait);
    }
    backoff = std::min(backoff * 2, max_backoff);
    if (!pause(wait, cancel)) return cancelled();
  }

  if (!ready) {
    if (cancel.stop_requested()) return cancelled();
    return Error::Timeout(prefix + "gave up after " +
                          std::to_string(Ms(clock.Now() - started).count()) +
                          " ms: " + TimeoutReason(spec, status));
  }
  set_state(SshWaitState::kReady, "logged in; marker " + spec.marker_path + " present");

  ReadinessReport report;
  report.host_key_sha256 = session->host_key_sha256();
  report.marker_content = std::move(marker_content);
  report.attempts = status.attempts;
  report.waited = Ms(clock.Now() - started);
  for (const std::string& command : spec.probes) {
    if (cancel.stop_requested()) return cancelled();
    ProbeOutput probe;
    probe.command = command;
    const milliseconds timeout =
        std::min(spec.command_timeout, std::max(kMinProbeTimeout, Ms(deadline.remaining())));
    auto run = session->Run(command, timeout, spec.max_probe_output);
    if (run.ok()) {
      probe.exit_status = run->exit_status;
      probe.output = std::move(run->output);
      probe.error_output = std::move(run->error_output);
      probe.truncated = run->truncated;
    } else {
      if (run.error().code() == ErrorCode::kCancelled) return cancelled();
      probe.error = run.error().message();
    }
    report.probes.push_back(std::move(probe));
  }
  return report;
}

}  // namespace fruix::ssh
