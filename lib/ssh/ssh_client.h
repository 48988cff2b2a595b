// ssh::SshClient — the seam for every SSH connection fruixd makes: readiness checks of a deployed
// guest (readiness.h) and `xl console <domid>` on dom0 (the console module). An abstract interface
// with one real implementation, NewLibsshClient() (libssh_client.cc, the only file that includes
// <libssh/libssh.h>), and whatever fakes tests need.
//
// Host keys are never checked against or written to any known_hosts file and no ssh_config file
// is read: the only host-key policy is the per-target HostKeyPolicy below (pin or record).
//
// Ownership and threads:
//  - SshClient::Connect may be called from any number of threads at once; every call makes its
//    own connection.
//  - An SshSession owns one connection. Its methods may be called from any thread; calls on one
//    session (and on the RemoteStreams it created, which share its connection) are serialized
//    inside, so a long Run() delays a stream's Read() and the other way round.
//  - A RemoteStream keeps the connection alive; it may outlive its SshSession.
//  - The stop_token given to Connect stays attached to the session: once stop is requested,
//    Connect, Run, Stream and RemoteStream::Read return kCancelled within about half a second.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>

#include "lib/core/result.h"

namespace fruix::ssh {

enum class HostKeyMode {
  kPin,     // the server key's SHA-256 fingerprint must equal HostKeyPolicy::pin_sha256
  kRecord,  // accept any key; SshSession::host_key_sha256() tells which one was seen
};

struct HostKeyPolicy {
  HostKeyMode mode = HostKeyMode::kRecord;
  // kPin only: the expected fingerprint in any form ParseHostKeyFingerprint accepts.
  std::string pin_sha256;
};

// Normalizes a SHA-256 host-key fingerprint to the form `ssh-keygen -lf` prints:
// "SHA256:<base64 without padding>". Accepts that form (the "SHA256:" prefix is
// case-insensitive), bare base64 (with or without '=' padding) and 64 hex digits (optionally
// separated by ':'). Errors: kInvalidArgument naming the bad value when it is none of these or
// does not decode to exactly 32 bytes.
Result<std::string> ParseHostKeyFingerprint(std::string_view text);

struct Endpoint {
  std::string host;  // IP address or DNS name
  uint16_t port = 22;
  std::string user = "root";
  // Private key for public-key authentication: OpenSSH or PEM format, ed25519, RSA or ECDSA,
  // without passphrase (a passphrase-protected key is refused with kInvalidArgument; nothing ever
  // prompts).
  std::string private_key_file;
  HostKeyPolicy host_key;
  // Bounds the whole Connect: TCP connect, key exchange and authentication.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
};

// "user@host:port", for messages.
std::string Describe(const Endpoint& ep);

// The outcome of a command that ran to completion (it may have failed: see exit_status).
struct CommandResult {
  // The remote exit status; -1 if the server reported none (e.g. the command died on a signal).
  int exit_status = -1;
  std::string output;        // stdout, at most max_output bytes
  std::string error_output;  // stderr, at most max_output bytes
  bool truncated = false;    // stdout or stderr had more than max_output bytes (the rest dropped)
};

// A remote command whose stdout is read as a stream (`xl console <domid>` on dom0).
// Read() is called by one thread at a time; Close() may be called from any thread, also while a
// Read() is blocked.
class RemoteStream {
 public:
  virtual ~RemoteStream() = default;
  // Reads what the command printed: >0 bytes placed in `buf`; 0 when nothing arrived within
  // `wait`; kUnavailable once the remote side closed (EOF or channel closed; the message says so,
  // with the exit status when known, and the tail of stderr for a non-pty stream) or the
  // connection was lost ("connection lost"); kCancelled after Close() or when the session's
  // stop_token fired. After an error, every later Read returns the same error.
  // REQUIRES: !buf.empty().
  virtual Result<size_t> Read(std::span<char> buf, std::chrono::milliseconds wait) = 0;
  // Ends the stream (closes the channel; a pty command gets SIGHUP, a non-pty one may run on
  // until it next writes, as with any SSH client). A Read() blocked in another thread returns
  // kCancelled within about 100 ms. Idempotent.
  virtual void Close() = 0;
};

class SshSession {
 public:
  static constexpr size_t kDefaultMaxOutput = size_t{1} << 20;

  virtual ~SshSession() = default;
  // "SHA256:<base64>" of the server's host key, as `ssh-keygen -lf` prints it.
  virtual const std::string& host_key_sha256() const = 0;
  // Runs `command` through the remote user's shell (no pty) and waits for it to finish; output
  // beyond max_output per stream is read and dropped. A non-zero exit status is not an error.
  // Errors: kTimeout when it has not finished within `timeout` (the channel is closed and
  // SIGTERM requested; the session stays usable, the command may run on remotely), kCancelled,
  // kUnavailable when the connection was lost (the session is then unusable), kProtocol when
  // the server refused the channel or the command.
  virtual Result<CommandResult> Run(std::string_view command, std::chrono::milliseconds timeout,
                                    size_t max_output = kDefaultMaxOutput) = 0;
  // Starts `command` (with a pseudo-terminal when `pty`, which merges stderr into stdout and
  // turns "\n" into "\r\n") and returns its output stream. Starting is bounded by the endpoint's
  // connect_timeout. Errors as for Run().
  virtual Result<std::unique_ptr<RemoteStream>> Stream(std::string_view command, bool pty) = 0;
};

class SshClient {
 public:
  virtual ~SshClient() = default;
  // Connects, checks the host key against ep.host_key and authenticates with the private key.
  // Errors (every message names host:port):
  //   kUnavailable       connection refused, reset or closed before or during the SSH banner
  //                      ("port closed / not ready"; retrying may help)
  //   kTimeout           not connected and authenticated within ep.connect_timeout
  //   kTls               kPin and the host key does not match: the message names the expected
  //                      and the actual fingerprint; nothing was sent for authentication
  //   kPermissionDenied  the server refused the key: the message names user and key type
  //   kProtocol          the SSH handshake failed after the banner (no common algorithm, ...)
  //   kInvalidArgument   unreadable, unsupported or encrypted key file; bad pin; empty host
  //   kCancelled         `cancel` fired (observed within about half a second)
  virtual Result<std::unique_ptr<SshSession>> Connect(const Endpoint& ep,
                                                      std::stop_token cancel) = 0;
};

// The libssh implementation. Never reads ~/.ssh (config, known_hosts, keys) and never logs to
// stderr.
std::unique_ptr<SshClient> NewLibsshClient();

}  // namespace fruix::ssh
