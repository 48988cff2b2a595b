#include "lib/xenapi/api.h"

namespace fruix::xenapi {
namespace calls {

Invocation VmStart(const OpaqueRef& vm, bool start_paused, bool force) {
  return {"VM.start", {Value(vm.str()), Value(start_paused), Value(force)}};
}

Invocation VmStartOn(const OpaqueRef& vm, const OpaqueRef& host, bool start_paused, bool force) {
  return {"VM.start_on", {Value(vm.str()), Value(host.str()), Value(start_paused), Value(force)}};
}

Invocation VmCleanShutdown(const OpaqueRef& vm) { return {"VM.clean_shutdown", {Value(vm.str())}}; }

Invocation VmHardShutdown(const OpaqueRef& vm) { return {"VM.hard_shutdown", {Value(vm.str())}}; }

Invocation VbdCreate(const VbdSpec& spec) {
  Struct s{{"VM", Value(spec.vm.str())},
           {"VDI", Value(spec.vdi.is_null() ? OpaqueRef::Null().str() : spec.vdi.str())},
           {"userdevice", Value(spec.userdevice)},
           {"bootable", Value(spec.bootable)},
           {"mode", Value(ToString(spec.mode))},
           {"type", Value(ToString(spec.type))},
           {"empty", Value(spec.empty)},
           {"unpluggable", Value(spec.unpluggable)},
           {"other_config", Value::StringMap(spec.other_config)},
           {"qos_algorithm_type", Value("")},
           {"qos_algorithm_params", Value(Struct{})}};
  return {"VBD.create", {Value(std::move(s))}};
}

Invocation VbdDestroy(const OpaqueRef& vbd) { return {"VBD.destroy", {Value(vbd.str())}}; }

Invocation VifCreate(const VifSpec& spec) {
  Struct s{{"device", Value(spec.device)},    {"network", Value(spec.network.str())},
           {"VM", Value(spec.vm.str())},      {"MAC", Value(spec.mac)},
           {"MTU", Value(spec.mtu)},          {"other_config", Value::StringMap(spec.other_config)},
           {"qos_algorithm_type", Value("")}, {"qos_algorithm_params", Value(Struct{})}};
  if (spec.locking_mode) s.Set("locking_mode", Value(*spec.locking_mode));
  return {"VIF.create", {Value(std::move(s))}};
}

Invocation VifDestroy(const OpaqueRef& vif) { return {"VIF.destroy", {Value(vif.str())}}; }

}  // namespace calls

Result<OpaqueRef> Api::ToRef(const Value& v, std::string_view what) {
  if (!v.is_string() || v.string().empty()) {
    return Error::Protocol(std::string(what) + " returned " + v.DebugString(80) +
                           " instead of a reference");
  }
  return OpaqueRef(v.string());
}

Result<void> Api::VmStart(const OpaqueRef& vm, bool start_paused, bool force) const {
  return Void(session_.Call(calls::VmStart(vm, start_paused, force)));
}

Result<void> Api::VmStartOn(const OpaqueRef& vm, const OpaqueRef& host, bool start_paused,
                            bool force) const {
  return Void(session_.Call(calls::VmStartOn(vm, host, start_paused, force)));
}

Result<void> Api::VmCleanShutdown(const OpaqueRef& vm) const {
  return Void(session_.Call(calls::VmCleanShutdown(vm)));
}

Result<void> Api::VmHardShutdown(const OpaqueRef& vm) const {
  return Void(session_.Call(calls::VmHardShutdown(vm)));
}

Result<std::vector<std::string>> Api::VmGetAllowedVbdDevices(const OpaqueRef& vm) const {
  FRUIX_ASSIGN_OR_RETURN(Value v, session_.Call("VM.get_allowed_VBD_devices", {Value(vm.str())}));
  auto devices = v.ToStringArray();
  if (!devices.ok()) return devices.error().WithContext("VM.get_allowed_VBD_devices");
  return devices;
}

Result<OpaqueRef> Api::VbdCreate(const VbdSpec& spec) const {
  FRUIX_ASSIGN_OR_RETURN(Value v, session_.Call(calls::VbdCreate(spec)));
  return ToRef(v, "VBD.create");
}

Result<void> Api::VbdDestroy(const OpaqueRef& vbd) const {
  return Void(session_.Call(calls::VbdDestroy(vbd)));
}

Result<OpaqueRef> Api::VifCreate(const VifSpec& spec) const {
  FRUIX_ASSIGN_OR_RETURN(Value v, session_.Call(calls::VifCreate(spec)));
  return ToRef(v, "VIF.create");
}

Result<void> Api::VifDestroy(const OpaqueRef& vif) const {
  return Void(session_.Call(calls::VifDestroy(vif)));
}

Result<OpaqueRef> Api::TaskCreate(std::string_view label, std::string_view description) const {
  FRUIX_ASSIGN_OR_RETURN(Value v, session_.Call("task.create", {Value(label), Value(description)}));
  return ToRef(v, "task.create");
}

Result<void> Api::TaskCancel(const OpaqueRef& task) const {
  return Void(session_.Call("task.cancel", {Value(task.str())}));
}

Result<void> Api::TaskDestroy(const OpaqueRef& task) const {
  return Void(session_.Call("task.destroy", {Value(task.str())}));
}

Result<OpaqueRef> Api::PoolMaster() const {
  FRUIX_ASSIGN_OR_RETURN(Value pools, session_.Call("pool.get_all", {}));
  auto refs = pools.ToStringArray();
  if (!refs.ok() || refs->size() != 1) {
    return Error::Protocol("pool.get_all returned " + pools.DebugString(80) +
                           " instead of exactly one pool");
  }
  FRUIX_ASSIGN_OR_RETURN(Value master, session_.Call("pool.get_master", {Value(refs->front())}));
  return ToRef(master, "pool.get_master");
}

}  // namespace fruix::xenapi
