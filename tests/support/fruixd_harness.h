// testing::FruixdHarness — runs the real `fruixd` binary as a child process for end-to-end
// tests: a scratch directory holds its config (written from the test's TOML), password file,
// state dir and socket. Start() waits (bounded) until the socket answers daemon.version.
//
//   auto d = FruixdHarness::Create(FRUIX_FRUIXD_PATH, PoolToml(sim->HttpUrl()) + targets_toml);
//   ASSERT_TRUE(d->Start().ok());
//   auto r = d->Call("job.get", {{"job_id", id}});            // the response object
//   d->Signal(SIGTERM); d->Wait(10s);                          // exit status
//
// RpcConnection is a minimal JSON-RPC line client (no dependency on client/): requests with an
// optional descriptor passed by SCM_RIGHTS, and reading notifications. Used from one test thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/core/result.h"

namespace fruix::testing {

class RpcConnection {
 public:
  // Connects to `socket`; kUnavailable on failure.
  static Result<std::unique_ptr<RpcConnection>> Connect(const std::filesystem::path& socket);
  ~RpcConnection();

  // Sends one request (id = next number) with `fd` attached when >= 0; returns its id.
  Result<int> Send(const std::string& method, const nlohmann::json& params, int fd = -1);
  // Sends raw bytes (for malformed-input tests).
  Result<void> SendRaw(const std::string& bytes);
  // The next line as JSON (a response or a notification), waiting at most `timeout`.
  Result<nlohmann::json> Next(std::chrono::milliseconds timeout);
  // Sends a request and returns its response, skipping (and discarding) notifications.
  Result<nlohmann::json> Call(const std::string& method, const nlohmann::json& params, int fd = -1,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  explicit RpcConnection(int fd) : fd_(fd) {}
  int fd_;
  int next_id_ = 1;
  std::string buf_;
};

class FruixdHarness {
 public:
  // `config_toml` is the whole fruixd.toml except the [daemon] table, which the harness writes
  // (socket, state_dir in the scratch dir) followed by `daemon_extra` lines.
  // `password` goes into the pool password file (%PASSWORD_FILE%).
  static std::unique_ptr<FruixdHarness> Create(std::string binary, std::string config_toml,
                                               std::string daemon_extra = "",
                                               std::string password = "password");
  ~FruixdHarness();  // SIGKILLs a running daemon, removes the scratch dir

  // Starts fruixd and waits up to 15 s for its socket. kUnavailable with its stderr otherwise.
  Result<void> Start();
  // Environment variables for the next Start() (e.g. NOTIFY_SOCKET).
  void SetEnv(std::string name, std::string value) { env_.emplace_back(name, value); }
  void Signal(int signo);
  // Waits for the child to exit; its exit status (or -signal), or kTimeout.
  Result<int> Wait(std::chrono::milliseconds timeout);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Rewrites the config (for SIGHUP tests).
  void RewriteConfig(const std::string& config_toml, const std::string& daemon_extra = "");

  // One-shot call on a fresh connection; the response object (with "result" or "error").
  Result<nlohmann::json> Call(const std::string& method, const nlohmann::json& params = {},
                              int fd = -1);
  Result<std::unique_ptr<RpcConnection>> Connect() const;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path socket() const { return dir_ / "fruixd.sock"; }
  std::filesystem::path state_dir() const { return dir_ / "state"; }
  std::filesystem::path config_path() const { return dir_ / "fruixd.toml"; }
  std::filesystem::path password_file() const { return dir_ / "pool.password"; }
  std::string Stderr() const;  // what fruixd logged so far

 private:
  FruixdHarness() = default;
  std::string binary_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::vector<std::pair<std::string, std::string>> env_;
};

// "[pools.sim]" pointing at `url` with the harness's password file (placeholder %PASSWORD_FILE%
// is replaced by Create).
std::string SimPoolToml(const std::string& url);

}  // namespace fruix::testing
