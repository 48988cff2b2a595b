// sim::Simulator — the composition root of fruix-xapi-sim: loads a fixture, owns every module
// (database, task runner, scheduler, console hub, lifecycle, XenAPI service, HTTP handlers) and
// runs the listeners:
//   - XenAPI over HTTP and HTTPS on every simulated host's address with the same ports (the
//     local address a connection arrives on selects the host that answers);
//   - the admin endpoint (sim/admin_handler.h) on its own loopback port.
// Port 0 picks an ephemeral port (the same one is then used on every host address); -1 disables
// a listener. Without a certificate file a self-signed one is generated for the host addresses.
//
// Lifecycle: Start() returns a running simulator; Stop() (also run by the destructor) stops the
// scripted guests, wakes every blocked request (event.from, console streams, power-operation
// waits), stops the listeners and joins all threads. Accessors are safe from any thread while the
// simulator runs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lib/core/result.h"
#include "lib/sim/admin_handler.h"
#include "lib/sim/console_hub.h"
#include "lib/sim/database.h"
#include "lib/sim/faults.h"
#include "lib/sim/fixture.h"
#include "lib/sim/xapi_service.h"

namespace fruix::sim {

struct SimulatorOptions {
  std::string fixture_json;  // the pool (see fixture.h / config/sim-fixture.md)
  std::string state_dir;     // base of relative SR backing directories; created if missing
  int http_port = 0;         // XenAPI over HTTP; -1 = off
  int https_port = 0;        // XenAPI over HTTPS; -1 = off
  int admin_port = 0;        // admin endpoint on admin_address; -1 = off
  std::string admin_address = "127.0.0.1";
  std::string tls_cert_file;  // PEM; both empty = generate a self-signed certificate
  std::string tls_key_file;
};

class Simulator {
 public:
  static Result<std::unique_ptr<Simulator>> Start(SimulatorOptions options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  void Stop();

  uint16_t http_port() const { return http_port_; }    // 0 when off
  uint16_t https_port() const { return https_port_; }  // 0 when off
  uint16_t admin_port() const { return admin_port_; }  // 0 when off
  const std::string& tls_fingerprint_sha256() const { return tls_.fingerprint_sha256; }
  const std::string& tls_cert_pem() const { return tls_.cert_pem; }
  const std::vector<LoadedFixture::Host>& hosts() const { return fixture_.hosts; }
  const std::string& master_address() const;
  const std::string& state_dir() const { return options_.state_dir; }
  // The single JSON line fruix-xapi-sim prints when ready.
  std::string ReadyJson() const;
  AdminCounters counters() const;

  Database& db() { return db_; }
  XapiService& service() { return *service_; }
  FaultInjector& faults() { return faults_; }
  ConsoleHub& consoles() { return hub_; }

 private:
  explicit Simulator(SimulatorOptions options);
  Result<void> Init();
  Result<void> ListenXapi();

  SimulatorOptions options_;
  Database db_;
  SimConfig config_;
  Storage storage_;
  FaultInjector faults_;
  ConsoleHub hub_;
  TaskRunner tasks_{db_};
  Scheduler scheduler_;
  VmLifecycle vms_{db_, tasks_, scheduler_, hub_, config_};
  LoadedFixture fixture_;
  TlsIdentity tls_;
  std::unique_ptr<XapiService> service_;
  struct Handlers;
  std::unique_ptr<Handlers> handlers_;
  uint16_t http_port_ = 0;
  uint16_t https_port_ = 0;
  uint16_t admin_port_ = 0;
  bool stopped_ = false;
};

}  // namespace fruix::sim
