// ssh::WaitForReady — the readiness check of a deployed guest (the job's `ssh` phase): connect
// with backoff until the guest accepts a key login and its readiness marker exists, then run the
// probe commands and report. Stateless; runs on the calling thread and blocks it (call it from a
// worker thread, never from an event loop). All SSH goes through the SshClient seam.
//
// What "ready" means: login with the endpoint's key works (host key as the policy demands) AND
// the marker file exists AND, when expected_marker is set, its trimmed content equals it.
// Probes run only once ready; their failures are reported, never fatal.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/clock.h"
#include "lib/core/result.h"
#include "lib/ssh/ssh_client.h"

namespace fruix::ssh {

struct ReadinessSpec {
  Endpoint endpoint;
  std::string marker_path = "/var/lib/fruix/ready";
  // When set, the marker's content with surrounding whitespace trimmed must equal this.
  std::optional<std::string> expected_marker;
  std::vector<std::string> probes = {"uname -a", "hostname"};
  // Pause between attempts: starts at initial_backoff, doubles up to max_backoff, and starts
  // again at initial_backoff whenever the state changes.
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(2)};
  // Bounds the marker check and each probe (also capped by the deadline).
  std::chrono::milliseconds command_timeout{std::chrono::seconds(10)};
  // A marker with (non-empty) content other than expected_marker fails once it has stayed so
  // this long (the guest may be rewriting it).
  std::chrono::milliseconds mismatch_grace{std::chrono::seconds(2)};
  // Bytes kept of each probe's stdout and stderr (more sets ProbeOutput::truncated).
  size_t max_probe_output = 64 * 1024;
};

enum class SshWaitState {
  kNotTried,         // no attempt finished yet
  kPortClosed,       // connection refused / closed before the SSH banner
  kConnectTimeout,   // no answer within the connect timeout
  kHandshakeFailed,  // SSH handshake failed after the banner, or the connection broke
  kHostKeyMismatch,  // kPin and the server key differs (fatal at once)
  kAuthRefused,      // the server refused the key
  kMarkerMissing,    // logged in, the marker file does not exist (or cannot be read, or the
                     // check did not finish within command_timeout)
  kMarkerMismatch,   // logged in, the marker's content is not the expected one (or is empty)
  kReady,
};

// "not tried", "port closed", "connect timeout", "handshake failed", "host key mismatch",
// "auth refused", "marker missing", "marker mismatch", "ready".
std::string_view ToString(SshWaitState state);

struct SshWaitStatus {
  SshWaitState state = SshWaitState::kNotTried;
  int attempts = 0;    // attempts finished so far (connects, or marker checks on one session)
  std::string detail;  // the last attempt's error or finding, for humans
};

struct ProbeOutput {
  std::string command;
  int exit_status = -1;      // -1 when the probe did not complete (see error)
  std::string output;        // stdout, at most ReadinessSpec::max_probe_output bytes
  std::string error_output;  // stderr, likewise bounded
  bool truncated = false;
  std::string error;  // why the probe did not complete (timeout, connection lost); else empty
};

struct ReadinessReport {
  std::string host_key_sha256;  // "SHA256:<base64>" of the guest's host key
  std::string marker_content;   // the marker's content, trimmed
  std::vector<ProbeOutput> probes;
  int attempts = 0;
  std::chrono::milliseconds waited{0};  // from the call to ready
};

// Optional extras of WaitForReady.
struct WaitOptions {
  // Out: the final state, attempts and detail, however WaitForReady ends (kReady on success).
  // This is how the caller learns *what* it was waiting for without parsing messages.
  SshWaitStatus* final_status = nullptr;
  // The clock the deadline runs on; used for `waited` and the mismatch grace. Default RealClock().
  const Clock* clock = nullptr;
  // Test seam: waits `d` between attempts; returns false if `cancel` fired. Default: a real,
  // cancellable wait.
  std::function<bool(Clock::Duration d, const std::stop_token& cancel)> pause;
};

// Connects with backoff until `deadline`, as described at the top. `on_status` (may be empty) is
// called on the calling thread whenever the state changes, and once with kReady.
// Errors:
//   kTimeout            the deadline passed; the message states the last state, e.g.
//                       "marker /var/lib/fruix/ready missing after 12 attempts", "port 22
//                       closed", "authentication refused for user root"
//   kTls                host-key mismatch with a pin (at once, naming both fingerprints)
//   kFailedPrecondition the marker's content stayed different from expected_marker for
//                       mismatch_grace (naming both values)
//   kInvalidArgument    bad spec (empty host, bad pin, unreadable key file)
//   kCancelled          `cancel` fired (observed within about half a second)
// Every message starts with "SSH readiness of user@host:port: ".
Result<ReadinessReport> WaitForReady(SshClient& client, const ReadinessSpec& spec,
                                     const Deadline& deadline, std::stop_token cancel,
                                     const std::function<void(const SshWaitStatus&)>& on_status,
                                     const WaitOptions& options = {});

}  // namespace fruix::ssh
