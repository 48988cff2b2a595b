// VM power operations and device-slot queries (xen-api datamodel_vm.ml, xapi_vm.ml).
#include <set>

#include "lib/sim/device_names.h"
#include "lib/sim/methods.h"
#include "lib/sim/record_util.h"

namespace fruix::sim {
namespace {

using xenapi::Array;
using xenapi::Value;

using PowerOp = Result<void> (VmLifecycle::*)(const VmLifecycle::Op&, const std::string&);

void AddPowerOp(MethodTable& t, ServiceEnv& env, const std::string& name, PowerOp op) {
  t.Add({"VM." + name,
         1,
         {},
         true,
         true,
         [&env, op](CallContext& ctx, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string vm, ArgString(args, 0));
           FRUIX_RETURN_IF_ERROR((env.vms.*op)({ctx.task}, vm));
           return Value(std::string());
         }});
}

}  // namespace

void RegisterVmMethods(MethodTable& t, ServiceEnv& env) {
  // VM.start(vm, start_paused, force)
  t.Add(
      {"VM.start", 3, {}, true, true, [&env](CallContext& ctx, const Array& args) -> Result<Value> {
         FRUIX_ASSIGN_OR_RETURN(std::string vm, ArgString(args, 0));
         FRUIX_ASSIGN_OR_RETURN(bool paused, ArgBool(args, 1));
         FRUIX_ASSIGN_OR_RETURN(bool force, ArgBool(args, 2));
         (void)force;
         FRUIX_RETURN_IF_ERROR(env.vms.Start({ctx.task}, vm, "", paused));
         return Value(std::string());
       }});
  // VM.start_on(vm, host, start_paused, force)
  t.Add({"VM.start_on",
         4,
         {},
         true,
         true,
         [&env](CallContext& ctx, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string vm, ArgString(args, 0));
           FRUIX_ASSIGN_OR_RETURN(std::string host, ArgString(args, 1));
           FRUIX_ASSIGN_OR_RETURN(bool paused, ArgBool(args, 2));
           FRUIX_ASSIGN_OR_RETURN(bool force, ArgBool(args, 3));
           (void)force;
           FRUIX_RETURN_IF_ERROR(env.vms.Start({ctx.task}, vm, host, paused));
           return Value(std::string());
         }});
  AddPowerOp(t, env, "clean_shutdown", &VmLifecycle::CleanShutdown);
  AddPowerOp(t, env, "hard_shutdown", &VmLifecycle::HardShutdown);
  AddPowerOp(t, env, "shutdown", &VmLifecycle::Shutdown);
  AddPowerOp(t, env, "clean_reboot", &VmLifecycle::CleanReboot);
  AddPowerOp(t, env, "hard_reboot", &VmLifecycle::HardReboot);
  AddPowerOp(t, env, "pause", &VmLifecycle::Pause);
  AddPowerOp(t, env, "unpause", &VmLifecycle::Unpause);

  // Disk slots 0..254 not used by the VM's VBDs (userdevice or device), as decimal strings.
  t.Add({"VM.get_allowed_VBD_devices",
         1,
         {},
         true,
         false,
         [&env](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string vm, ArgString(args, 0));
           return env.db.Read([&](const Database::Txn& txn) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("VM", vm));
             std::set<int64_t> used = UsedDiskNumbers(txn, row->record);
             Array out;
             for (int64_t n = 0; n <= 254; ++n) {
               if (used.count(n) == 0) out.emplace_back(std::to_string(n));
             }
             return Value(std::move(out));
           });
         }});
  // NIC slots 0..15 not used by the VM's VIFs.
  t.Add({"VM.get_allowed_VIF_devices",
         1,
         {},
         true,
         false,
         [&env](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string vm, ArgString(args, 0));
           return env.db.Read([&](const Database::Txn& txn) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("VM", vm));
             std::set<std::string> used;
             for (const auto& vif : StrSetField(row->record, "VIFs")) {
               const ObjectRow* v = txn.Find("VIF", vif);
               if (v != nullptr) used.insert(StrField(v->record, "device"));
             }
             Array out;
             for (int n = 0; n <= 15; ++n) {
               if (used.count(std::to_string(n)) == 0) out.emplace_back(std::to_string(n));
             }
             return Value(std::move(out));
           });
         }});
}

}  // namespace fruix::sim
