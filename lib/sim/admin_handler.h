// sim::AdminHandler — the simulator's control endpoint, deliberately separate from XenAPI: plain
// HTTP with JSON bodies on its own loopback port (--admin-port). Nothing here exists on a real
// XCP-ng host; tests and scripts use it to observe and perturb the simulation.
//
//   GET    /health                 {"ok": true}
//   GET    /counters               {"sessions", "tasks", "pending_tasks", "console_connections",
//                                   "imports_in_progress", "rpc_calls", "http_connections"}
//   GET    /faults                 [rule, ...] with "id", "seen", "fired" (see sim/faults.h)
//   POST   /faults                 body: one rule -> {"id": n}; 400 {"error": "..."} if invalid
//   DELETE /faults                 removes every rule -> {"cleared": n}
//   POST   /sessions/expire        body {} expires every session, {"session": "OpaqueRef:..."}
//                                  one -> {"expired": n} (the next call gets SESSION_INVALID)
//   POST   /master                 body {"host": "<host uuid or address>"} makes that host the
//                                  pool master -> {"master": "<host ref>"}; 404 if unknown
//   GET    /vms/<uuid>/console     text/plain: what the guest printed during its current (or
//                                  last) boot
//   GET    /vms/<uuid>/guest       {"power_state", "domid", "ip", "ssh"} from the guest script
// Unknown paths: 404 {"error": "..."}. Every response closes nothing: keep-alive as requested.
// Thread-safe; runs on the admin server's connection threads.
#pragma once

#include <functional>

#include "lib/sim/console_hub.h"
#include "lib/sim/database.h"
#include "lib/sim/faults.h"
#include "lib/sim/http_server.h"
#include "lib/sim/sim_config.h"
#include "lib/sim/storage.h"

namespace fruix::sim {

struct AdminCounters {
  size_t sessions = 0;
  size_t tasks = 0;
  size_t pending_tasks = 0;
  size_t console_connections = 0;
  size_t imports_in_progress = 0;
  uint64_t rpc_calls = 0;
  size_t http_connections = 0;
};

class AdminHandler : public HttpHandler {
 public:
  using CountersFn = std::function<AdminCounters()>;

  AdminHandler(Database& db, FaultInjector& faults, ConsoleHub& hub, const SimConfig& config,
               CountersFn counters)
      : db_(db), faults_(faults), hub_(hub), config_(config), counters_(std::move(counters)) {}

  bool Serve(const HttpRequest& request, HttpConnection& connection) override;

 private:
  Database& db_;
  FaultInjector& faults_;
  ConsoleHub& hub_;
  const SimConfig& config_;
  CountersFn counters_;
};

}  // namespace fruix::sim
