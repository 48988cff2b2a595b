// sim::XapiService — the XenAPI RPC layer of the simulator, with no sockets: takes an RPC body
// and the RequestContext (which host received it) and returns the HTTP reply xapi would send.
//
// Dispatch follows xapi (ocaml/idl/ocaml_backend/gen_server.ml, ocaml/xapi/server_helpers.ml):
//   1. "Async.X" runs X on a task (the Class_method spelling is only accepted synchronously);
//   2. unknown method: MESSAGE_METHOD_UNKNOWN [name] (after the session check when a first
//      parameter is present, as xapi forwards it to its extension mechanism);
//   3. wrong parameter count: MESSAGE_PARAMETER_COUNT_MISMATCH [name, expected, received]
//      (expected = parameters without defaults, received = count after the session);
//   4. session check: SESSION_INVALID [ref]; a session used on a pool member that is not the
//      master: HOST_IS_SLAVE [master address];
//   5. Async on a method without an async form: Failure ["Fault", "No async mode for this
//      operation (rpc: X)"];
//   6. fault injection (sim/faults.h), then the method; Async returns the task ref at once and
//      the worker completes or fails the task.
// XML-RPC replies are Status envelopes (system.listMethods: the bare array) with content-type
// text/xml; JSON-RPC (v1 and v2) replies are application/json with status 200. A body that is
// not a call gets xapi's HTML "500 Internal Error" page.
//
// Thread-safe: any number of connection threads may call concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/core/result.h"
#include "lib/sim/database.h"
#include "lib/sim/faults.h"
#include "lib/sim/http_message.h"
#include "lib/sim/method_table.h"
#include "lib/sim/request_context.h"
#include "lib/sim/sim_config.h"
#include "lib/sim/storage.h"
#include "lib/sim/tasks.h"
#include "lib/sim/vm_lifecycle.h"
#include "lib/xenapi/value.h"

namespace fruix::sim {

// The modules the XenAPI methods act on. All outlive the service.
struct ServiceEnv {
  Database& db;
  const SimConfig& config;
  TaskRunner& tasks;
  VmLifecycle& vms;
  FaultInjector& faults;
  Storage& storage;
};

class XapiService {
 public:
  // Largest RPC body xapi reads (Constants.http_limit_max_rpc_size).
  static constexpr size_t kMaxRpcBody = 300 * 1024;

  explicit XapiService(ServiceEnv env);
  XapiService(const XapiService&) = delete;
  XapiService& operator=(const XapiService&) = delete;

  HttpResponse HandleXmlRpc(std::string_view body, const RequestContext& request);
  HttpResponse HandleJsonRpc(std::string_view body, const RequestContext& request);

  // One decoded call. system.listMethods yields the bare array of method names.
  Result<xenapi::Value> Call(std::string_view method, const xenapi::Array& params,
                             const RequestContext& request);

  // Validates an HTTP handler's session (import, console): the session must exist. Returns
  // SESSION_INVALID otherwise. (HTTP handlers work on pool members too.)
  Result<void> CheckHttpSession(const std::string& session) const;

  uint64_t calls() const { return calls_.load(); }

 private:
  Result<xenapi::Value> Dispatch(std::string_view method, const xenapi::Array& params,
                                 const RequestContext& request);
  Result<void> CheckSession(const std::string& session, const RequestContext& request) const;

  ServiceEnv env_;
  MethodTable table_;
  std::atomic<uint64_t> calls_{0};
};

}  // namespace fruix::sim
