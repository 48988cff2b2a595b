// sim::VmLifecycle — VM power operations and the scripted guests behind them.
//
// Checks, in xapi's order (xapi_vm_lifecycle.ml check_operation_error): the power state the
// operation needs (VM_BAD_POWER_STATE [vm, expected states lower-case joined by ", ", actual]),
// operations already in progress (OTHER_OPERATION_IN_PROGRESS ["VM", vm, op, op_ref]; only
// hard_shutdown / hard_reboot may overlap others), templates (VM_IS_TEMPLATE [vm, op]), and guest
// features (VM_LACKS_FEATURE [vm] for clean_shutdown / clean_reboot of a running HVM guest whose
// agent has not reported PV drivers).
//
// Effects: while an operation runs (GuestScript::power_op_ms, cancellable through its task) the
// VM's current_operations holds {op_ref: op}. A started domain gets power_state Running (Paused
// with start_paused), resident_on, a new domid per boot (per host, from 1), VM_metrics updated,
// consoles created — `rfb` always, `vt100` only for PV-style guests (domain_type pv/pv_in_pvh, or
// unspecified with an empty HVM_boot_policy) — with location https://<host.address>/console?uuid=
// <console uuid>; then the guest script runs (console lines, guest metrics, crash/halt/reboot).
// A halted domain gets resident_on NULL, domid -1, its consoles and guest metrics destroyed and
// its timers cancelled. Reboots keep the host and take a new domid.
//
// Thread rules: public calls may come from any thread (connection threads, task workers, the
// scheduler thread); state lives in the Database, the domid counters under an internal mutex.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "lib/core/result.h"
#include "lib/sim/console_hub.h"
#include "lib/sim/database.h"
#include "lib/sim/scheduler.h"
#include "lib/sim/sim_config.h"
#include "lib/sim/tasks.h"

namespace fruix::sim {

class VmLifecycle {
 public:
  // `task` is the Async task the operation runs under ("" for a synchronous call).
  struct Op {
    std::string task;
  };

  VmLifecycle(Database& db, TaskRunner& runner, Scheduler& scheduler, ConsoleHub& consoles,
              const SimConfig& config);

  // `host` empty: the simulator picks a host that sees every SR the VM's disks are on
  // (affinity first, then the pool master), else NO_HOSTS_AVAILABLE. start_on with a host that
  // cannot see an SR: VM_REQUIRES_SR [vm, sr].
  Result<void> Start(const Op& op, const std::string& vm, const std::string& host, bool paused);
  Result<void> CleanShutdown(const Op& op, const std::string& vm);
  Result<void> HardShutdown(const Op& op, const std::string& vm);
  // clean_shutdown, or hard_shutdown when the clean one is not possible.
  Result<void> Shutdown(const Op& op, const std::string& vm);
  Result<void> CleanReboot(const Op& op, const std::string& vm);
  Result<void> HardReboot(const Op& op, const std::string& vm);
  Result<void> Pause(const Op& op, const std::string& vm);
  Result<void> Unpause(const Op& op, const std::string& vm);

  // Gives a fixture VM declared Running on `host` its domain (domid, consoles) without running
  // its script. REQUIRES: called before the simulator serves requests.
  void AdoptRunning(const std::string& vm, const std::string& host);

  // The allowed_operations of a VM in `power_state` (with or without an operation running).
  static xenapi::Array AllowedOperations(const std::string& power_state, bool is_template,
                                         bool busy);

 private:
  enum class Guest { kCrash, kHalt, kReboot };

  Result<std::string> Begin(const Op& op, const std::string& vm, const std::string& opname);
  void End(const std::string& vm, const std::string& op_ref);
  Result<void> Wait(const Op& op, const std::string& vm);
  Result<std::string> ChooseHost(const Database::Txn& txn, const std::string& vm,
                                 const std::string& wanted);
  // Domain transitions; each applies only if the VM is still in a state it applies to.
  void BootDomain(const std::string& vm, const std::string& host, bool paused);
  void DestroyDomain(const std::string& vm);
  void RebootDomain(const std::string& vm);
  void RunScript(const std::string& vm, int64_t domid);
  void OnGuest(const std::string& vm, int64_t domid, Guest what);
  int64_t NextDomid(const std::string& host);

  Database& db_;
  TaskRunner& runner_;
  Scheduler& scheduler_;
  ConsoleHub& consoles_;
  const SimConfig& config_;
  std::mutex mu_;
  std::map<std::string, int64_t> next_domid_;      // by host ref
  std::map<std::string, int64_t> script_started_;  // VM ref -> domid whose script runs
};

}  // namespace fruix::sim
