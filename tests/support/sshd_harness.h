// testing::SshdHarness — a real OpenSSH sshd on 127.0.0.1 for tests (SSH readiness, the dom0
// `xl console` source, the job engine's ssh phase).
//
//   auto sshd = SshdHarness::Create();             // keys + config in a fresh temp dir; not
//   running ASSERT_NE(sshd, nullptr); ASSERT_TRUE(sshd->Start().ok());               // sshd -D -e
//   as a child; returns once it listens ssh::Endpoint ep = sshd->Endpoint();           //
//   127.0.0.1:<port>, current user, ed25519 key sshd->WriteMarker("build-42");                 //
//   sshd->marker_path() now holds "build-42\n" sshd->AddScript("xl", "#!/bin/sh\necho hi\n"); //
//   `xl` on the PATH of every SSH session
//
// What Create() prepares in its temp dir (deleted by the destructor, which also stops sshd):
//  - one host key: ed25519, or RSA 2048 with Options::host_key;
//  - user keys: ed25519 (and RSA with Options::rsa_user_key) authorized in `authorized_keys`, and
//    one ed25519 key that is not;
//  - sshd_config: ListenAddress 127.0.0.1, a port reserved at Create (found by binding port 0),
//    AuthorizedKeysFile in the temp dir, StrictModes no, UsePAM no, public keys only, PidFile in
//    the temp dir, `SetEnv PATH=<dir>/bin:...` so scripts added by AddScript are found.
// The login user is the user running the test (root or not). When running as root, sshd needs
// /run/sshd; Create() makes it (mode 0755) if it is missing. Run by a normal user, sshd cannot
// allocate a pty (it drops the connection on a pty request): tests that stream with pty=true
// need root (skip otherwise).
//
// Threads: one test thread drives the harness; a private thread drains sshd's stderr into log().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "lib/core/result.h"
#include "lib/ssh/ssh_client.h"

namespace fruix::testing {

class SshdHarness {
 public:
  enum class HostKeyType { kEd25519, kRsa };
  struct Options {
    HostKeyType host_key = HostKeyType::kEd25519;  // sshd's only host key
    // Also make (and authorize) the RSA user key. Off by default: RSA key generation costs about
    // half a second.
    bool rsa_user_key = false;
  };
  enum class UserKey {
    kEd25519,       // authorized
    kRsa,           // authorized (RSA 2048); exists only with Options::rsa_user_key
    kUnauthorized,  // ed25519, not in authorized_keys
  };
  enum class PortPolicy {
    kRetryOnRace,  // if the reserved port was taken meanwhile, pick another one
    kKeepPort,     // use exactly port() (for tests that handed it out before starting)
  };

  // Generates keys and config (ssh-keygen). On failure reports a gtest failure and returns
  // nullptr. Does not start sshd.
  static std::unique_ptr<SshdHarness> Create(Options options);
  static std::unique_ptr<SshdHarness> Create() { return Create(Options{}); }
  ~SshdHarness();
  SshdHarness(const SshdHarness&) = delete;
  SshdHarness& operator=(const SshdHarness&) = delete;

  // Starts sshd and returns once it accepts connections (its "Server listening" line), or an
  // error with sshd's output. Starting a running harness is an error.
  Result<void> Start(PortPolicy policy = PortPolicy::kRetryOnRace);
  // Stops the listening sshd (SIGTERM to its process group, then reaped): new connections are
  // refused. Established sessions may be torn down too. Idempotent.
  void Stop();
  bool running() const { return pid_ > 0; }

  const std::string& host() const { return host_; }  // "127.0.0.1"
  uint16_t port() const { return port_; }
  const std::string& user() const { return user_; }
  const std::filesystem::path& dir() const { return dir_; }

  // "SHA256:<base64>" of sshd's host key, as `ssh-keygen -lf` prints it.
  const std::string& host_key_sha256() const { return host_key_sha256_; }
  std::filesystem::path user_key(UserKey key) const;

  // A ready-to-use endpoint: host(), port(), user(), the given key, HostKeyMode::kRecord, a 5 s
  // connect timeout.
  ssh::Endpoint Endpoint(UserKey key = UserKey::kEd25519) const;

  // The readiness marker lives in the temp dir: <dir>/var/lib/fruix/ready.
  std::filesystem::path marker_path() const;
  // Writes `content` + "\n" to marker_path() (creating its directories); atomically (rename).
  void WriteMarker(std::string_view content);
  void RemoveMarker();

  // Writes an executable script `name` (body used as is, so start it with "#!/bin/sh") into
  // <dir>/bin, which is on the PATH of every SSH session. Returns its path.
  std::filesystem::path AddScript(std::string_view name, std::string_view body);

  // sshd's stderr (with -e: its log) so far.
  std::string log() const;
  // Blocks until log() contains `text` or `timeout` passes; returns whether it does.
  bool WaitForLog(std::string_view text, std::chrono::milliseconds timeout) const;

 private:
  SshdHarness() = default;
  Result<void> Prepare(const Options& options);
  Result<void> WriteConfig();
  Result<void> StartOnce();
  void ReaderLoop(int fd);

  std::filesystem::path dir_;
  std::string host_ = "127.0.0.1";
  uint16_t port_ = 0;
  std::string user_;
  std::string host_key_sha256_;
  std::filesystem::path host_key_;
  pid_t pid_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string log_;           // guarded by mu_
  bool reader_done_ = false;  // guarded by mu_
  std::atomic<bool> stop_reader_{false};
};

}  // namespace fruix::testing
