#include "lib/sim/simulator.h"

#include <filesystem>
#include <set>
#include <system_error>

#include "lib/sim/console_handler.h"
#include "lib/sim/http_server.h"
#include "lib/sim/import_handler.h"
#include "lib/sim/json_value.h"
#include "lib/sim/methods.h"
#include "lib/sim/record_util.h"
#include "lib/sim/xapi_http_handler.h"

namespace fruix::sim {

struct Simulator::Handlers {
  std::unique_ptr<ImportHandler> import;
  std::unique_ptr<ConsoleHandler> console;
  std::unique_ptr<XapiHttpHandler> xapi;
  std::unique_ptr<AdminHandler> admin;
  std::unique_ptr<HttpServer> xapi_server;
  std::unique_ptr<HttpServer> admin_server;
};

Simulator::Simulator(SimulatorOptions options) : options_(std::move(options)) {}

Simulator::~Simulator() { Stop(); }

Result<std::unique_ptr<Simulator>> Simulator::Start(SimulatorOptions options) {
  std::unique_ptr<Simulator> sim(new Simulator(std::move(options)));
  FRUIX_RETURN_IF_ERROR(sim->Init());
  return sim;
}

Result<void> Simulator::Init() {
  if (options_.state_dir.empty()) return Error::InvalidArgument("state_dir is required");
  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  if (ec) return Error::Io("creating state dir " + options_.state_dir + ": " + ec.message());
  options_.state_dir =
      std::filesystem::absolute(options_.state_dir, ec).lexically_normal().string();
  FRUIX_ASSIGN_OR_RETURN(fixture_, LoadFixture(options_.fixture_json, options_.state_dir, db_,
                                               config_, storage_, faults_));
  for (const auto& [vm, host] : fixture_.running) vms_.AdoptRunning(vm, host);

  service_ =
      std::make_unique<XapiService>(ServiceEnv{db_, config_, tasks_, vms_, faults_, storage_});
  handlers_ = std::make_unique<Handlers>();
  handlers_->import = std::make_unique<ImportHandler>(db_, *service_, storage_, faults_, tasks_);
  handlers_->console = std::make_unique<ConsoleHandler>(db_, *service_, hub_, faults_);
  handlers_->xapi =
      std::make_unique<XapiHttpHandler>(*service_, *handlers_->import, *handlers_->console);
  handlers_->admin =
      std::make_unique<AdminHandler>(db_, faults_, hub_, config_, [this] { return counters(); });

  if (options_.https_port >= 0) {
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      FRUIX_ASSIGN_OR_RETURN(tls_, LoadTlsIdentity(options_.tls_cert_file, options_.tls_key_file));
    } else {
      std::vector<std::string> addresses;
      for (const auto& h : fixture_.hosts) addresses.push_back(h.address);
      FRUIX_ASSIGN_OR_RETURN(tls_, GenerateSelfSigned(addresses));
    }
  }
  FRUIX_RETURN_IF_ERROR(ListenXapi());
  if (options_.admin_port >= 0) {
    handlers_->admin_server = std::make_unique<HttpServer>(
        *handlers_->admin, [](const std::string&) { return std::string(); });
    FRUIX_ASSIGN_OR_RETURN(admin_port_, handlers_->admin_server->Listen(
                                            options_.admin_address,
                                            static_cast<uint16_t>(options_.admin_port), false));
    handlers_->admin_server->Start();
  }
  handlers_->xapi_server->Start();
  return Ok();
}

Result<void> Simulator::ListenXapi() {
  std::vector<std::string> addresses;
  std::set<std::string> seen;
  for (const auto& h : fixture_.hosts) {
    if (seen.insert(h.address).second) addresses.push_back(h.address);
  }
  auto resolver = [this](const std::string& local) {
    return db_.Read([&](const Database::Txn& txn) {
      std::string master = PoolMaster(txn);
      for (const ObjectRow* h : txn.All("host")) {
        if (StrField(h->record, "address") == local) return h->ref;
      }
      return master;
    });
  };
  // With ephemeral ports, the port picked on the first address may be taken on another one:
  // retry with a fresh pick a few times.
  Error last = Error::Internal("no attempt");
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto server = std::make_unique<HttpServer>(*handlers_->xapi, resolver);
    if (options_.https_port >= 0) FRUIX_RETURN_IF_ERROR(server->SetTlsIdentity(tls_));
    uint16_t http = options_.http_port > 0 ? static_cast<uint16_t>(options_.http_port) : 0;
    uint16_t https = options_.https_port > 0 ? static_cast<uint16_t>(options_.https_port) : 0;
    bool ok = true;
    for (const auto& a : addresses) {
      if (options_.http_port >= 0) {
        auto p = server->Listen(a, http, false);
        if (!p.ok()) {
          last = p.error();
          ok = false;
          break;
        }
        http = *p;
      }
      if (options_.https_port >= 0) {
        auto p = server->Listen(a, https, true);
        if (!p.ok()) {
          last = p.error();
          ok = false;
          break;
        }
        https = *p;
      }
    }
    if (ok) {
      http_port_ = options_.http_port >= 0 ? http : 0;
      https_port_ = options_.https_port >= 0 ? https : 0;
      handlers_->xapi_server = std::move(server);
      return Ok();
    }
    bool ephemeral = options_.http_port <= 0 && options_.https_port <= 0;
    if (!ephemeral) break;
  }
  return last;
}

void Simulator::Stop() {
  if (stopped_) return;
  stopped_ = true;
  scheduler_.Shutdown();
  db_.Shutdown();
  hub_.Shutdown();
  tasks_.Shutdown();
  if (handlers_) {
    if (handlers_->xapi_server) handlers_->xapi_server->Stop();
    if (handlers_->admin_server) handlers_->admin_server->Stop();
  }
}

const std::string& Simulator::master_address() const {
  static const std::string kNone;
  for (const auto& h : fixture_.hosts) {
    if (h.master) return h.address;
  }
  return kNone;
}

std::string Simulator::ReadyJson() const {
  Json hosts = Json::array();
  std::string master = db_.Read([](const Database::Txn& txn) { return PoolMaster(txn); });
  for (const auto& h : fixture_.hosts) {
    hosts.push_back(Json{{"uuid", h.uuid}, {"address", h.address}, {"master", h.ref == master}});
  }
  Json j = Json{{"ready", true},
                {"http_port", http_port_},
                {"https_port", https_port_},
                {"admin_port", admin_port_},
                {"tls_fingerprint_sha256", tls_.fingerprint_sha256},
                {"hosts", hosts},
                {"state_dir", options_.state_dir}};
  return j.dump();
}

AdminCounters Simulator::counters() const {
  AdminCounters c = db_.Read([](const Database::Txn& txn) {
    AdminCounters out;
    out.sessions = txn.Count("session");
    out.tasks = txn.Count("task");
    for (const ObjectRow* t : txn.All("task")) {
      if (StrField(t->record, "status") == "pending") ++out.pending_tasks;
    }
    return out;
  });
  c.imports_in_progress = storage_.imports_in_progress();
  if (handlers_) {
    c.console_connections = handlers_->console ? handlers_->console->active_connections() : 0;
    c.http_connections = handlers_->xapi_server ? handlers_->xapi_server->open_connections() : 0;
  }
  c.rpc_calls = service_ ? service_->calls() : 0;
  return c;
}

}  // namespace fruix::sim
