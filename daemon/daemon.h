// daemon::Daemon — fruixd's process: wires configuration, store, backend, service, dispatch and
// transport together and runs the one io_context that owns them (style rule 9).
//
//   start     load the config; open the store (<state_dir>/fruixd.db, exclusive); mark the jobs a
//             previous daemon left running as interrupted and release their leases; listen on
//             the socket; sd_notify READY=1 (when run by systemd with Type=notify).
//   SIGHUP    reload the config: new jobs use it, running jobs keep theirs; access policy and
//             log level follow; a config with errors is logged and ignored (the old one stays).
//   SIGTERM / SIGINT
//             sd_notify STOPPING=1; stop accepting connections and jobs; cancel queued jobs;
//             let running jobs finish for daemon.shutdown_grace, then cancel them; record every
//             outcome; close connections; log out of xapi; exit 0.
//
// Threads: Run() on the main thread runs the io_context; jobs run on their own threads (see
// job_service.h); the shutdown drain runs on a thread of its own so the io thread keeps serving
// watchers until the end.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "fruix_version.h"
#include "lib/core/result.h"

namespace fruix::daemon {

inline constexpr std::string_view kVersion = kFruixVersion;

class Daemon {
 public:
  // Loads the configuration and opens everything that can fail before serving (store, socket).
  // Errors name what failed (config problems, "another fruixd holds <db>", socket in use...).
  static Result<std::unique_ptr<Daemon>> Start(const std::filesystem::path& config_path);
  ~Daemon();

  // Serves until SIGTERM/SIGINT and the drain are done. Returns the process exit code.
  int Run();

 private:
  struct Impl;
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fruix::daemon
