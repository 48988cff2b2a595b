#include "lib/job/vm_actions.h"

#include <algorithm>
#include <cctype>

#include "lib/job/lease_file.h"
#include "lib/xenapi/api.h"
#include "lib/xenapi/events.h"
#include "lib/xenapi/tasks.h"

namespace fruix::job {
namespace {

using xenapi::Api;
using xenapi::VmPowerState;

Result<void> Void(Result<xenapi::Value> r) {
  if (!r.ok()) return std::move(r).error();
  return Ok();
}

// Waits (event-driven) until the VM is Halted.
Result<void> WaitHalted(xenapi::Session& session, const OpaqueRef& vm, const Deadline& deadline,
                        std::stop_token cancel) {
  auto r = xenapi::WaitForRecord<xenapi::VmRecord>(
      session, vm, [](const xenapi::VmRecord& v) { return v.power_state == VmPowerState::kHalted; },
      deadline, cancel);
  if (!r.ok()) return r.error();
  return Ok();
}

Result<std::vector<std::string>> AllowedVifDevices(xenapi::Session& session, const OpaqueRef& vm) {
  FRUIX_ASSIGN_OR_RETURN(xenapi::Value v,
                         session.Call("VM.get_allowed_VIF_devices", {xenapi::Value(vm.str())}));
  return v.ToStringArray();
}

// Lowest-numbered device in `allowed` (xapi returns them as decimal strings, not always sorted).
std::optional<std::string> LowestDevice(const std::vector<std::string>& allowed) {
  std::optional<std::string> best;
  for (const auto& d : allowed) {
    if (d.empty() || !std::all_of(d.begin(), d.end(), ::isdigit)) continue;
    if (!best || std::stoll(d) < std::stoll(*best)) best = d;
  }
  return best;
}

}  // namespace

std::string_view ToString(ShutdownPolicy p) {
  switch (p) {
    case ShutdownPolicy::kCleanThenHard:
      return "clean-then-hard";
    case ShutdownPolicy::kClean:
      return "clean";
    case ShutdownPolicy::kHard:
      return "hard";
    case ShutdownPolicy::kRefuse:
      return "refuse";
  }
  return "unknown";
}

std::optional<ShutdownPolicy> ParseShutdownPolicy(std::string_view name) {
  for (ShutdownPolicy p : {ShutdownPolicy::kCleanThenHard, ShutdownPolicy::kClean,
                           ShutdownPolicy::kHard, ShutdownPolicy::kRefuse}) {
    if (ToString(p) == name) return p;
  }
  return std::nullopt;
}

Result<ResolvedTarget> Resolve(xenapi::Session& session, std::string_view vm_uuid,
                               std::string_view vdi_uuid, std::string_view network_uuid) {
  Api api(session);
  ResolvedTarget t;
  auto vm = api.GetByUuid<xenapi::VmRecord>(vm_uuid);
  if (!vm.ok()) return vm.error().WithContext("VM " + std::string(vm_uuid));
  t.vm = *vm;
  FRUIX_ASSIGN_OR_RETURN(t.vm_record, api.GetRecord<xenapi::VmRecord>(t.vm));
  if (t.vm_record.is_a_template) {
    return Error::InvalidArgument("VM " + std::string(vm_uuid) + " (" + t.vm_record.name_label +
                                  ") is a template; deploy to a VM instantiated from it");
  }
  if (t.vm_record.is_control_domain) {
    return Error::InvalidArgument("VM " + std::string(vm_uuid) + " is a host's control domain");
  }
  auto vdi = api.GetByUuid<xenapi::VdiRecord>(vdi_uuid);
  if (!vdi.ok()) return vdi.error().WithContext("VDI " + std::string(vdi_uuid));
  t.vdi = *vdi;
  FRUIX_ASSIGN_OR_RETURN(t.vdi_record, api.GetRecord<xenapi::VdiRecord>(t.vdi));
  auto net = api.GetByUuid<xenapi::NetworkRecord>(network_uuid);
  if (!net.ok()) return net.error().WithContext("network " + std::string(network_uuid));
  t.network = *net;
  FRUIX_ASSIGN_OR_RETURN(t.network_record, api.GetRecord<xenapi::NetworkRecord>(t.network));
  return t;
}

Result<PrepareOutcome> EnsureHalted(xenapi::Session& session, const OpaqueRef& vm,
                                    ShutdownPolicy policy, std::chrono::milliseconds clean_timeout,
                                    const Deadline& deadline, std::stop_token cancel) {
  Api api(session);
  FRUIX_ASSIGN_OR_RETURN(xenapi::VmRecord rec, api.GetRecord<xenapi::VmRecord>(vm));
  PrepareOutcome out;
  out.found = rec.power_state;
  out.action = "none";
  if (rec.power_state == VmPowerState::kHalted) return out;
  if (policy == ShutdownPolicy::kRefuse) {
    return Error::FailedPrecondition("VM " + rec.uuid.str() + " (" + rec.name_label + ") is " +
                                     std::string(xenapi::ToString(rec.power_state)) +
                                     " and the shutdown policy is \"refuse\"");
  }
  auto hard = [&]() -> Result<void> {
    FRUIX_RETURN_IF_ERROR(
        Void(xenapi::RunAsync(session, xenapi::calls::VmHardShutdown(vm), deadline, cancel)));
    return WaitHalted(session, vm, deadline, cancel);
  };
  const bool can_clean = rec.power_state == VmPowerState::kRunning;
  if (policy == ShutdownPolicy::kHard || !can_clean) {
    if (policy == ShutdownPolicy::kClean) {
      return Error::FailedPrecondition(
          "VM " + rec.uuid.str() + " is " + std::string(xenapi::ToString(rec.power_state)) +
          ": a clean shutdown needs a running guest and the policy forbids a hard one");
    }
    out.action = "hard_shutdown";
    FRUIX_RETURN_IF_ERROR(hard());
    return out;
  }
  // Clean shutdown, bounded by clean_timeout (and the phase deadline).
  const auto budget = std::min<Clock::Duration>(clean_timeout, deadline.remaining());
  Deadline clean_deadline(RealClock(), budget);
  auto clean =
      Void(xenapi::RunAsync(session, xenapi::calls::VmCleanShutdown(vm), clean_deadline, cancel));
  if (clean.ok()) clean = WaitHalted(session, vm, clean_deadline, cancel);
  out.action = "clean_shutdown";
  if (clean.ok()) return out;
  if (clean.error().code() == ErrorCode::kCancelled) return clean.error();
  if (policy == ShutdownPolicy::kClean) {
    return clean.error().WithContext("clean shutdown of VM " + rec.uuid.str());
  }
  out.action = "clean_shutdown then hard_shutdown";
  out.detail = "clean shutdown did not complete: " + clean.error().message();
  // A timed-out clean shutdown may still be in progress: the hard shutdown supersedes it.
  FRUIX_RETURN_IF_ERROR(hard());
  return out;
}

Result<AttachOutcome> EnsureAttached(xenapi::Session& session, const ResolvedTarget& target,
                                     std::string_view mac) {
  if (!mac.empty() && !IsMacAddress(mac)) {
    return Error::InvalidArgument("MAC \"" + std::string(mac) +
                                  "\" is not of the form aa:bb:cc:dd:ee:ff");
  }
  Api api(session);
  AttachOutcome out;
  const OpaqueRef& vm = target.vm;
  FRUIX_ASSIGN_OR_RETURN(xenapi::VmRecord vm_rec, api.GetRecord<xenapi::VmRecord>(vm));

  // ---- VBD ----
  FRUIX_ASSIGN_OR_RETURN(std::vector<std::string> free_vbd, api.VmGetAllowedVbdDevices(vm));
  const bool zero_free = std::find(free_vbd.begin(), free_vbd.end(), "0") != free_vbd.end();
  std::optional<xenapi::VbdRecord> ours;
  for (const OpaqueRef& ref : vm_rec.vbds) {
    FRUIX_ASSIGN_OR_RETURN(xenapi::VbdRecord vbd, api.GetRecord<xenapi::VbdRecord>(ref));
    if (vbd.vdi == target.vdi && !ours) {
      ours = vbd;
      out.vbd = ref;
      continue;
    }
    if (vbd.bootable && vbd.type == xenapi::VbdType::kDisk) {
      FRUIX_RETURN_IF_ERROR(
          Void(session.Call("VBD.set_bootable", {xenapi::Value(ref.str()), xenapi::Value(false)})));
      out.other_vbds_unbootable.push_back(vbd.userdevice);
    }
  }
  if (ours) {
    const std::string ref = out.vbd.str();
    if (!ours->bootable) {
      FRUIX_RETURN_IF_ERROR(
          Void(session.Call("VBD.set_bootable", {xenapi::Value(ref), xenapi::Value(true)})));
      out.vbd_changes.push_back("set bootable");
    }
    if (ours->mode != xenapi::VbdMode::kReadWrite) {
      FRUIX_RETURN_IF_ERROR(
          Void(session.Call("VBD.set_mode", {xenapi::Value(ref), xenapi::Value("RW")})));
      out.vbd_changes.push_back("set mode RW");
    }
    out.vbd_userdevice = ours->userdevice;
    if (ours->userdevice != "0" && zero_free) {
      FRUIX_RETURN_IF_ERROR(
          Void(session.Call("VBD.set_userdevice", {xenapi::Value(ref), xenapi::Value("0")})));
      out.vbd_changes.push_back("userdevice " + ours->userdevice + " -> 0");
      out.vbd_userdevice = "0";
    }
  } else {
    std::optional<std::string> device =
        zero_free ? std::optional<std::string>("0") : LowestDevice(free_vbd);
    if (!device) {
      return Error::FailedPrecondition("VM " + vm_rec.uuid.str() +
                                       " has no free disk device left for VDI " +
                                       target.vdi_record.uuid.str());
    }
    xenapi::VbdSpec spec;
    spec.vm = vm;
    spec.vdi = target.vdi;
    spec.userdevice = *device;
    spec.bootable = true;
    spec.mode = xenapi::VbdMode::kReadWrite;
    spec.type = xenapi::VbdType::kDisk;
    spec.other_config["fruix-created"] = "true";
    FRUIX_ASSIGN_OR_RETURN(out.vbd, api.VbdCreate(spec));
    out.vbd_created = true;
    out.vbd_userdevice = *device;
  }

  // ---- VIF ----
  const std::string want_mac = NormalizeMac(mac);
  std::optional<xenapi::VifRecord> mismatched;
  OpaqueRef mismatched_ref;
  for (const OpaqueRef& ref : vm_rec.vifs) {
    FRUIX_ASSIGN_OR_RETURN(xenapi::VifRecord vif, api.GetRecord<xenapi::VifRecord>(ref));
    if (vif.network != target.network) continue;
    if (want_mac.empty() || NormalizeMac(vif.mac) == want_mac) {
      out.vif = ref;
      out.vif_device = vif.device;
      out.mac = vif.mac;
      return out;
    }
    if (!mismatched) {
      mismatched = vif;
      mismatched_ref = ref;
    }
  }
  std::string device;
  if (mismatched) {
    FRUIX_RETURN_IF_ERROR(api.VifDestroy(mismatched_ref));
    device = mismatched->device;
    out.vif_changes.push_back("replaced VIF " + device + " (MAC " + mismatched->mac +
                              ") by one with MAC " + want_mac);
  } else {
    FRUIX_ASSIGN_OR_RETURN(std::vector<std::string> free_vif, AllowedVifDevices(session, vm));
    auto lowest = LowestDevice(free_vif);
    if (!lowest) {
      return Error::FailedPrecondition("VM " + vm_rec.uuid.str() +
                                       " has no free network device left");
    }
    device = *lowest;
  }
  xenapi::VifSpec vif;
  vif.device = device;
  vif.network = target.network;
  vif.vm = vm;
  vif.mac = want_mac;
  vif.mtu = target.network_record.mtu > 0 ? target.network_record.mtu : 1500;
  vif.other_config["fruix-created"] = "true";
  FRUIX_ASSIGN_OR_RETURN(out.vif, api.VifCreate(vif));
  out.vif_created = true;
  out.vif_device = device;
  FRUIX_ASSIGN_OR_RETURN(xenapi::VifRecord created, api.GetRecord<xenapi::VifRecord>(out.vif));
  out.mac = created.mac;
  return out;
}

Result<StartOutcome> StartVm(xenapi::Session& session, const OpaqueRef& vm,
                             std::string_view host_uuid, const Deadline& deadline,
                             std::stop_token cancel) {
  Api api(session);
  if (host_uuid.empty()) {
    FRUIX_RETURN_IF_ERROR(Void(
        xenapi::RunAsync(session, xenapi::calls::VmStart(vm, false, false), deadline, cancel)));
  } else {
    auto host = api.GetByUuid<xenapi::HostRecord>(host_uuid);
    if (!host.ok()) return host.error().WithContext("host " + std::string(host_uuid));
    FRUIX_RETURN_IF_ERROR(Void(xenapi::RunAsync(
        session, xenapi::calls::VmStartOn(vm, *host, false, false), deadline, cancel)));
  }
  FRUIX_ASSIGN_OR_RETURN(xenapi::VmRecord rec, api.GetRecord<xenapi::VmRecord>(vm));
  StartOutcome out;
  out.domid = rec.domid;
  out.resident_on = rec.resident_on;
  if (!rec.resident_on.is_null()) {
    FRUIX_ASSIGN_OR_RETURN(xenapi::HostRecord host,
                           api.GetRecord<xenapi::HostRecord>(rec.resident_on));
    out.host_uuid = host.uuid.str();
    out.host_address = host.address;
  }
  return out;
}

Result<void> HardShutdownIfRunning(xenapi::Session& session, const OpaqueRef& vm,
                                   const Deadline& deadline) {
  Api api(session);
  FRUIX_ASSIGN_OR_RETURN(xenapi::VmRecord rec, api.GetRecord<xenapi::VmRecord>(vm));
  if (rec.power_state == VmPowerState::kHalted) return Ok();
  FRUIX_RETURN_IF_ERROR(
      Void(xenapi::RunAsync(session, xenapi::calls::VmHardShutdown(vm), deadline)));
  return WaitHalted(session, vm, deadline, {});
}

}  // namespace fruix::job
