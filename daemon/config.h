// daemon::Config — fruixd's configuration (fruixd.toml, /etc/fruix/fruixd.toml by default) as
// plain values, and its loader. The shipped sample config/fruixd.toml documents every option with
// its default and is the reference; docs/configuration.md describes the layout.
//
// Layout: [daemon] (socket, access, limits, logging), [pools.NAME] (one XCP-ng pool: URL, user,
// where its password is, TLS policy), [defaults] (deployment settings every target inherits) and
// [targets.NAME] (a VM + VDI + network the operator approved, with its pool and its own settings,
// which override [defaults] key by key; console patterns add to those of [defaults]).
//
// Loading is strict: an unknown key, a wrong type, a missing required key or a bad value is an
// error, and all problems are reported at once, one per line, each naming the origin, line:column
// (when known), the key path and the bad value:
//   fruixd.toml:14:8: targets.nightly.ssh.port: 70000 is out of range (1-65535)
// Every target is also checked to build a runnable job (job::Validate), so a target that loads is
// one that can be deployed.
//
// Secrets: a Config says where a pool's password is (a file or an environment variable), never
// what it is; ReadPoolPassword reads it when a session is opened. Passwords are never stored in a
// Config, never logged, never printed.
//
// Threads: a Config is a plain value with no thread affinity. The daemon loads one at start and on
// SIGHUP and shares it read-only (e.g. as shared_ptr<const Config>); jobs copy what they need.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"
#include "lib/http/tls_options.h"
#include "lib/image/image_stream.h"
#include "lib/job/job_spec.h"
#include "lib/job/vm_actions.h"
#include "lib/ssh/readiness.h"

namespace fruix::daemon {

using std::chrono::milliseconds;

inline constexpr std::string_view kDefaultConfigPath = "/etc/fruix/fruixd.toml";

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };
// "trace", "debug", "info", "warn", "error".
std::string_view ToString(LogLevel level);
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// [daemon]
struct DaemonConfig {
  std::filesystem::path socket = "/run/fruixd/fruixd.sock";
  uint32_t socket_mode = 0660;  // permission bits of the socket file (<= 0777)
  std::string socket_group;     // "" = the daemon's primary group
  std::filesystem::path state_dir = "/var/lib/fruixd";
  LogLevel log_level = LogLevel::kInfo;
  std::filesystem::path log_file;  // "" = stderr (journald)
  int max_concurrent_jobs = 4;     // 1..256
  int max_queued_jobs = 64;        // 0..10000; beyond it deploy.start is refused
  // SIGTERM waits this long for running jobs before cancelling them (0 = cancel at once).
  milliseconds shutdown_grace{std::chrono::seconds(30)};
  // Expiry of the VM lease in other_config, renewed while a job runs (>= 10s).
  milliseconds lease_ttl{std::chrono::minutes(10)};
  std::string owner;  // identifies this fruixd in VM leases; "" = the host name (OwnerName)
  // Who may call mutating methods, besides root (read-only methods: anyone the socket admits).
  std::vector<std::string> mutating_users;
  std::vector<std::string> mutating_groups;
};

// [pools.NAME] — one XCP-ng pool.
struct PoolConfig {
  std::string name;
  std::string url;  // http:// or https:// URL of the pool master (http::Url::Parse accepts it)
  std::string user = "root";
  // Exactly one of the two is non-empty (both absolute path / variable name, validated).
  std::string password_file;
  std::string password_env;
  http::TlsOptions tls;  // passes http::ValidateTlsOptions; pin normalised to "AB:CD:..."
  milliseconds call_timeout{std::chrono::seconds(60)};  // bound of one XenAPI call
};

// What a target inherits from [defaults] (every target key but pool, vm, vdi, network, mac), in
// the job engine's own types. Paths are absolute; enumerations are parsed; fingerprints are
// normalised.
struct DeploySettings {
  std::string start_on_host;  // host uuid for VM.start_on; "" = VM.start
  image::StreamFormat format = image::StreamFormat::kVhd;
  image::ZeroFill zero_fill = image::ZeroFill::kPrevious;
  job::AfterRun after_run = job::AfterRun::kLeaveRunning;
  job::ShutdownPolicy shutdown = job::ShutdownPolicy::kCleanThenHard;
  milliseconds clean_shutdown_timeout{std::chrono::seconds(60)};
  // console.*; `overrides` holds the [defaults] patterns followed by the target's (MergePattern-
  // Specs applies them in that order onto the built-in set); dom0.host is resolved at run time.
  job::ConsoleSpec console;
  job::AddressSpec address;
  // ssh.*; nullopt when ssh.enabled = false (the job is ready once the address is known).
  std::optional<ssh::ReadinessSpec> ssh = ssh::ReadinessSpec{};
  job::PhaseTimeouts timeouts;
};

// [targets.NAME], or an explicit deploy (target_spec.h, ExplicitTarget).
struct TargetConfig {
  std::string name;  // [A-Za-z0-9][A-Za-z0-9_.-]* (1-64); "" for an explicit deploy
  std::string pool;  // names a configured pool
  std::string vm_uuid;
  std::string vdi_uuid;
  std::string network_uuid;
  std::string mac;  // lower-case aa:bb:cc:dd:ee:ff, or "" (keep / let xapi choose)
  DeploySettings settings;
};

struct Config {
  std::string origin;  // the file's path, or what ParseConfig was told
  DaemonConfig daemon;
  std::map<std::string, PoolConfig, std::less<>> pools;
  DeploySettings defaults;  // [defaults]: what explicit deploys use and targets inherit
  std::map<std::string, TargetConfig, std::less<>> targets;
  // Non-fatal notices, one line each, naming the origin and key path (insecure TLS, a password
  // sent over http://, a world-writable socket, [defaults] that cannot run an explicit deploy).
  std::vector<std::string> warnings;

  const PoolConfig* FindPool(std::string_view name) const;
  const TargetConfig* FindTarget(std::string_view name) const;
};

// Parses a configuration document. `origin` names it in messages (normally the file's path).
// Errors: kInvalidArgument listing every problem, one per line, as described at the top.
Result<Config> ParseConfig(std::string_view text, std::string origin);

// Reads and parses the file at `path` (at most 1 MiB). kIo naming the path when it cannot be
// read; otherwise as ParseConfig, with the path as origin.
Result<Config> LoadConfig(const std::filesystem::path& path);

// Durations as the configuration spells them: one or more <integer><unit> with units h, m, s, ms
// in decreasing order, each at most once ("250ms", "90s", "5m", "4h", "1h30m", "1m30s500ms").
// kInvalidArgument naming the text for anything else (no spaces, signs, fractions or other
// units; at most 366 days). A plain TOML integer means seconds (the loader handles that).
Result<milliseconds> ParseDuration(std::string_view text);
// The shortest spelling ParseDuration reads back: "0s", "250ms", "1m30s", "4h".
std::string FormatDuration(milliseconds d);

// An octal permission string: "0660", "660", "0o660"; at most 0777. kInvalidArgument otherwise.
Result<uint32_t> ParseFileMode(std::string_view text);

// The pool's password: the file's content with one trailing newline ("\n" or "\r\n") removed, or
// the environment variable's value. Errors (never containing the password):
//   kPermissionDenied  the file is readable by others (mode & 004): "chmod o-r <path>"
//   kIo                the file cannot be opened or read, or is larger than 4 KiB
//   kNotFound          the environment variable is not set
//   kInvalidArgument   the password is empty, or the pool names neither source
Result<std::string> ReadPoolPassword(const PoolConfig& pool);

// daemon.owner, or the host name when it is empty ("fruixd" if even that is unknown).
std::string OwnerName(const DaemonConfig& daemon);

// Every key the loader accepts, as "section.key" with "*" for a pool or target name, e.g.
// "daemon.socket", "pools.*.url", "targets.*.ssh.port", "targets.*.console.patterns.regex".
// [defaults] accepts the targets.* keys except pool, vm, vdi, network and mac. Used by the test
// that checks the shipped sample documents every option.
std::vector<std::string> ConfigKeyPaths();

}  // namespace fruix::daemon
