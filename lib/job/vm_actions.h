// job::VmActions — the XenAPI side of a deployment's prepare, attach and start phases, each one
// idempotent so that re-running a job converges instead of piling up devices. Stateless apart
// from the borrowed Session (thread-safe; must outlive the calls); safe from any thread.
//
// Every function returns what it did (for the job report) or an Error naming the object; xapi
// errors keep their code and parameters.
#pragma once

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "lib/core/clock.h"
#include "lib/core/result.h"
#include "lib/xenapi/records.h"
#include "lib/xenapi/session.h"

namespace fruix::job {

// How prepare brings a running VM down.
enum class ShutdownPolicy {
  kCleanThenHard,  // clean_shutdown with a deadline, then hard_shutdown
  kClean,          // clean_shutdown only; failing or timing out fails the job
  kHard,           // hard_shutdown at once
  kRefuse,         // a running VM fails the job (someone may be using it)
};
std::string_view ToString(ShutdownPolicy p);
std::optional<ShutdownPolicy> ParseShutdownPolicy(std::string_view name);  // "clean-then-hard"...

// The objects of a target, resolved and checked by Resolve().
struct ResolvedTarget {
  OpaqueRef vm;
  xenapi::VmRecord vm_record;
  OpaqueRef vdi;
  xenapi::VdiRecord vdi_record;
  OpaqueRef network;
  xenapi::NetworkRecord network_record;
};

// The VM exists and is not a template nor a control domain, the VDI and the network exist.
// Errors: Xapi UUID_INVALID with context naming which uuid, kInvalidArgument for a template or a
// control domain.
Result<ResolvedTarget> Resolve(xenapi::Session& session, std::string_view vm_uuid,
                               std::string_view vdi_uuid, std::string_view network_uuid);

struct PrepareOutcome {
  xenapi::VmPowerState found = xenapi::VmPowerState::kHalted;  // state before prepare
  std::string
      action;  // "none", "clean_shutdown", "hard_shutdown", "clean_shutdown then hard_shutdown"
  std::string detail;  // why a hard shutdown followed, when it did
};

// Halts the VM according to `policy`. A Paused or Suspended VM is hard-shut-down (clean shutdown
// needs a running guest) unless the policy is kRefuse. `clean_timeout` bounds the clean shutdown;
// `deadline` bounds everything. kFailedPrecondition for kRefuse on a running VM.
Result<PrepareOutcome> EnsureHalted(xenapi::Session& session, const OpaqueRef& vm,
                                    ShutdownPolicy policy, std::chrono::milliseconds clean_timeout,
                                    const Deadline& deadline, std::stop_token cancel);

struct AttachOutcome {
  OpaqueRef vbd;
  bool vbd_created = false;
  std::string vbd_userdevice;
  std::vector<std::string> vbd_changes;  // "set bootable", "set mode RW", "userdevice 2 -> 0", ...
  std::vector<std::string> other_vbds_unbootable;  // userdevices whose bootable flag was cleared
  OpaqueRef vif;
  bool vif_created = false;
  std::string vif_device;
  std::string mac;                       // the VIF's MAC (xapi-generated when none was asked)
  std::vector<std::string> vif_changes;  // "replaced VIF 0 (MAC x) with MAC y", ...
};

// Makes sure the halted VM boots from the VDI and has a VIF on the network:
//  - VBD: reuse one linking VM and VDI (make it bootable, RW, userdevice 0 if 0 is free), else
//    create one (userdevice 0 if free, else the first free); other disk VBDs of the VM lose their
//    bootable flag so the VM cannot boot another disk.
//  - VIF: reuse one on the network whose MAC matches `mac` (any MAC when `mac` is empty); a VIF
//    on the network with another MAC is replaced at the same device; else a new VIF on the
//    first free device with `mac` ("" lets xapi generate one).
// `mac` must be "" or aa:bb:cc:dd:ee:ff (kInvalidArgument otherwise).
Result<AttachOutcome> EnsureAttached(xenapi::Session& session, const ResolvedTarget& target,
                                     std::string_view mac);

struct StartOutcome {
  int64_t domid = -1;
  OpaqueRef resident_on;
  std::string host_uuid;
  std::string host_address;
};

// Async.VM.start (or Async.VM.start_on `host_uuid` when not empty) and the resulting domid and
// resident host.
Result<StartOutcome> StartVm(xenapi::Session& session, const OpaqueRef& vm,
                             std::string_view host_uuid, const Deadline& deadline,
                             std::stop_token cancel);

// Best-effort halt used by the after-run policy and cancellation: hard_shutdown if not halted.
Result<void> HardShutdownIfRunning(xenapi::Session& session, const OpaqueRef& vm,
                                   const Deadline& deadline);

}  // namespace fruix::job
