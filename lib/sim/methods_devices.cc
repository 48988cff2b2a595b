// VBD / VIF / VDI constructors, destructors and hot-plug, PBD plug/unplug (xen-api xapi_vbd.ml,
// xapi_vbd_helpers.ml, xapi_vif_helpers.ml, xapi_vdi.ml, xapi_pbd.ml). Constructors take one
// struct; members are looked up by name like xapi's my_assoc (extra members are ignored).
#include <algorithm>
#include <cstdio>
#include <functional>

#include "lib/core/ids.h"
#include "lib/sim/device_names.h"
#include "lib/sim/methods.h"
#include "lib/sim/record_util.h"
#include "lib/sim/schema.h"

namespace fruix::sim {
namespace {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

// Reads constructor member `name` of class `cls`, coerced to the field's type; `fallback` is the
// default of an optional member (nullptr = required).
Result<Value> Member(const Struct& args, const std::string& cls, const std::string& name,
                     const Value* fallback) {
  const FieldSpec* f = FindClass(cls)->Find(name);
  Value raw;
  if (fallback != nullptr) {
    raw = CtorOptional(args, name, *fallback);
  } else {
    FRUIX_ASSIGN_OR_RETURN(raw, CtorMember(args, name));
  }
  return CoerceToField(*f, raw);
}

Value Str(std::string s) { return Value(std::move(s)); }

Array VbdAllowedOps(const std::string& vm_power, bool attached) {
  if (vm_power != "Running") return {};
  if (attached) return {Value("unplug"), Value("unplug_force")};
  return {Value("plug")};
}

bool ValidUnsigned(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool ValidMac(const std::string& mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i % 3 == 2) {
      if (mac[i] != ':') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(mac[i]))) {
      return false;
    }
  }
  return true;
}

// A locally administered unicast MAC derived from the VM's mac_seed and the device number.
std::string GenMac(const std::string& seed, const std::string& device) {
  uint64_t h = std::hash<std::string>()(seed + "/" + device);
  unsigned char b[6];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(h >> (8 * i));
  b[0] = static_cast<unsigned char>((b[0] & 0xfc) | 0x02);
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                b[5]);
  return buf;
}

// Rounds a VDI size the way SM does for VHD-based SRs (2 MiB blocks).
int64_t RoundVdiSize(const std::string& sr_type, int64_t size) {
  constexpr int64_t kBlock = 2 * 1024 * 1024;
  if (sr_type == "ext" || sr_type == "nfs" || sr_type == "file" || sr_type == "lvm" ||
      sr_type == "lvmoiscsi" || sr_type == "lvmohba" || sr_type == "smb") {
    return (size + kBlock - 1) / kBlock * kBlock;
  }
  return size;
}

Result<Value> VbdCreate(ServiceEnv& env, const Struct& a) {
  static const Value kEmptyStr(""), kTrue(true), kFalse(false);
  FRUIX_ASSIGN_OR_RETURN(Value vm, Member(a, "VBD", "VM", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value vdi, Member(a, "VBD", "VDI", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value device, Member(a, "VBD", "device", &kEmptyStr));
  FRUIX_ASSIGN_OR_RETURN(Value userdevice, Member(a, "VBD", "userdevice", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value bootable, Member(a, "VBD", "bootable", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value mode, Member(a, "VBD", "mode", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value type, Member(a, "VBD", "type", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value unpluggable, Member(a, "VBD", "unpluggable", &kTrue));
  FRUIX_ASSIGN_OR_RETURN(Value empty, Member(a, "VBD", "empty", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value other_config, Member(a, "VBD", "other_config", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value attached, Member(a, "VBD", "currently_attached", &kFalse));
  FRUIX_ASSIGN_OR_RETURN(Value qos_type, Member(a, "VBD", "qos_algorithm_type", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value qos_params, Member(a, "VBD", "qos_algorithm_params", nullptr));
  const std::string& vm_ref = vm.string();
  const std::string& vdi_ref = vdi.string();
  return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
    FRUIX_ASSIGN_OR_RETURN(const ObjectRow* vmrow, txn.Get("VM", vm_ref));
    const std::string power = StrField(vmrow->record, "power_state");
    bool suspended = power == "Suspended";
    if (!empty.boolean()) {
      FRUIX_ASSIGN_OR_RETURN(const ObjectRow* vdirow, txn.Get("VDI", vdi_ref));
      const std::string& vtype = StrField(vdirow->record, "type");
      static const std::vector<std::string> kOk = {
          "system", "user", "ephemeral", "suspend", "crashdump", "metadata", "rrd", "pvs_cache"};
      if (std::find(kOk.begin(), kOk.end(), vtype) == kOk.end()) {
        return Error::Xapi("VDI_INCOMPATIBLE_TYPE", {vdi_ref, vtype});
      }
    }
    if (type.string() == "CD" && mode.string() != "RO") {
      return Error::Xapi("VBD_CDS_MUST_BE_READONLY", {});
    }
    if (type.string() != "CD" && empty.boolean()) {
      return Error::Xapi("VBD_NOT_REMOVABLE_MEDIA", {"in constructor"});
    }
    if (mode.string() == "RW") {
      FRUIX_ASSIGN_OR_RETURN(const ObjectRow* vdirow, txn.Get("VDI", vdi_ref));
      if (BoolField(vdirow->record, "read_only")) return Error::Xapi("VDI_READONLY", {vdi_ref});
    }
    std::string udev = userdevice.string();
    if (!ValidVbdDevice(udev)) return Error::Xapi("INVALID_DEVICE", {udev});
    std::set<int64_t> used = UsedDiskNumbers(txn, vmrow->record);
    if (udev == "autodetect") {
      int64_t n = 0;
      while (n <= 254 && used.count(n) != 0) ++n;
      if (n > 254) return Error::Xapi("INVALID_DEVICE", {udev});
      udev = std::to_string(n);
    }
    if (auto n = DiskNumber(udev); n && used.count(*n) != 0) {
      return Error::Xapi("DEVICE_ALREADY_EXISTS", {udev});
    }
    bool is_attached = suspended && attached.boolean();
    Struct f;
    f.Set("VM", vm);
    f.Set("VDI", empty.boolean() && txn.Find("VDI", vdi_ref) == nullptr
                     ? Value(std::string(kNullRef))
                     : vdi);
    f.Set("device", suspended ? device : Value(std::string()));
    f.Set("userdevice", Value(udev));
    f.Set("bootable", bootable);
    f.Set("mode", mode);
    f.Set("type", type);
    f.Set("unpluggable", unpluggable);
    f.Set("empty", empty);
    f.Set("other_config", other_config);
    f.Set("currently_attached", Value(is_attached));
    f.Set("qos_algorithm_type", qos_type);
    f.Set("qos_algorithm_params", qos_params);
    f.Set("allowed_operations", Value(VbdAllowedOps(power, is_attached)));
    std::string ref = txn.Create("VBD", std::move(f));
    (void)txn.AddToSet("VM", vm_ref, "VBDs", Value(ref));
    if (txn.Find("VDI", vdi_ref) != nullptr) (void)txn.AddToSet("VDI", vdi_ref, "VBDs", Value(ref));
    return Value(ref);
  });
}

Result<Value> VifCreate(ServiceEnv& env, const Struct& a) {
  static const Value kFalse(false), kLocking("network_default"), kNone{Array{}};
  FRUIX_ASSIGN_OR_RETURN(Value device, Member(a, "VIF", "device", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value network, Member(a, "VIF", "network", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value vm, Member(a, "VIF", "VM", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value mac, Member(a, "VIF", "MAC", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value mtu, Member(a, "VIF", "MTU", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value other_config, Member(a, "VIF", "other_config", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value attached, Member(a, "VIF", "currently_attached", &kFalse));
  FRUIX_ASSIGN_OR_RETURN(Value qos_type, Member(a, "VIF", "qos_algorithm_type", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value qos_params, Member(a, "VIF", "qos_algorithm_params", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value locking, Member(a, "VIF", "locking_mode", &kLocking));
  FRUIX_ASSIGN_OR_RETURN(Value ipv4, Member(a, "VIF", "ipv4_allowed", &kNone));
  FRUIX_ASSIGN_OR_RETURN(Value ipv6, Member(a, "VIF", "ipv6_allowed", &kNone));
  (void)attached;
  const std::string& vm_ref = vm.string();
  const std::string& net_ref = network.string();
  return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
    FRUIX_RETURN_IF_ERROR(txn.Get("network", net_ref));
    const ObjectRow* vmrow = txn.Find("VM", vm_ref);
    std::string seed = vmrow == nullptr ? "" : MapGet(vmrow->record, "other_config", "mac_seed");
    const std::string& dev = device.string();
    if (!ValidUnsigned(dev)) return Error::Xapi("INVALID_DEVICE", {dev});
    std::string mac_str = mac.string();
    bool autogenerated = false;
    if (!seed.empty() && mac_str.empty()) {
      mac_str = GenMac(seed, dev);
      autogenerated = true;
    }
    if (!ValidMac(mac_str)) return Error::Xapi("MAC_INVALID", {mac_str});
    FRUIX_ASSIGN_OR_RETURN(vmrow, txn.Get("VM", vm_ref));
    for (const auto& vif : StrSetField(vmrow->record, "VIFs")) {
      const ObjectRow* v = txn.Find("VIF", vif);
      if (v != nullptr && DiskNumber(StrField(v->record, "device")) == DiskNumber(dev)) {
        return Error::Xapi("DEVICE_ALREADY_EXISTS", {dev});
      }
    }
    Struct f;
    f.Set("device", device);
    f.Set("network", network);
    f.Set("VM", vm);
    f.Set("MAC", Value(mac_str));
    f.Set("MTU", mtu);
    f.Set("other_config", other_config);
    f.Set("qos_algorithm_type", qos_type);
    f.Set("qos_algorithm_params", qos_params);
    f.Set("MAC_autogenerated", Value(autogenerated));
    f.Set("locking_mode", locking);
    f.Set("ipv4_allowed", ipv4);
    f.Set("ipv6_allowed", ipv6);
    f.Set("allowed_operations",
          Value(VbdAllowedOps(StrField(vmrow->record, "power_state"), false)));
    std::string ref = txn.Create("VIF", std::move(f));
    (void)txn.AddToSet("VM", vm_ref, "VIFs", Value(ref));
    (void)txn.AddToSet("network", net_ref, "VIFs", Value(ref));
    return Value(ref);
  });
}

Result<Value> VdiCreate(ServiceEnv& env, const Struct& a) {
  static const Value kEmptyMap{Struct{}}, kEmptySet{Array{}};
  FRUIX_ASSIGN_OR_RETURN(Value name_label, Member(a, "VDI", "name_label", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value name_description, Member(a, "VDI", "name_description", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value sr, Member(a, "VDI", "SR", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value virtual_size, Member(a, "VDI", "virtual_size", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value type, Member(a, "VDI", "type", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value sharable, Member(a, "VDI", "sharable", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value read_only, Member(a, "VDI", "read_only", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value other_config, Member(a, "VDI", "other_config", nullptr));
  FRUIX_ASSIGN_OR_RETURN(Value xenstore_data, Member(a, "VDI", "xenstore_data", &kEmptyMap));
  FRUIX_ASSIGN_OR_RETURN(Value sm_config, Member(a, "VDI", "sm_config", &kEmptyMap));
  FRUIX_ASSIGN_OR_RETURN(Value tags, Member(a, "VDI", "tags", &kEmptySet));
  const std::string& sr_ref = sr.string();
  std::string sr_uuid, sr_type;
  FRUIX_RETURN_IF_ERROR(env.db.Read([&](const Database::Txn& txn) -> Result<void> {
    FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("SR", sr_ref));
    sr_uuid = StrField(row->record, "uuid");
    sr_type = StrField(row->record, "type");
    return Ok();
  }));
  int64_t size = virtual_size.int64();
  if (size < 0) return Error::Xapi("INVALID_VALUE", {"virtual_size", std::to_string(size)});
  size = RoundVdiSize(sr_type, size);
  std::string uuid = NewUuidString();
  auto path = env.storage.VdiFile(sr_uuid, uuid);
  if (!path.ok()) return Error::Xapi("SR_BACKEND_FAILURE", {"", "", path.error().message()});
  if (auto r = env.storage.EnsureVdiFile(*path, static_cast<uint64_t>(size)); !r.ok()) {
    return Error::Xapi("SR_BACKEND_FAILURE", {"", "", r.error().message()});
  }
  return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
    FRUIX_RETURN_IF_ERROR(txn.Get("SR", sr_ref));
    Struct f;
    f.Set("uuid", Value(uuid));
    f.Set("name_label", name_label);
    f.Set("name_description", name_description);
    f.Set("SR", sr);
    f.Set("virtual_size", Value(size));
    f.Set("type", type);
    f.Set("sharable", sharable);
    f.Set("read_only", read_only);
    f.Set("other_config", other_config);
    f.Set("xenstore_data", xenstore_data);
    f.Set("sm_config", sm_config);
    f.Set("tags", tags);
    f.Set("location", Value(uuid));
    f.Set("allowed_operations",
          Value(Array{Str("clone"), Str("copy"), Str("resize"), Str("snapshot"), Str("destroy"),
                      Str("forget"), Str("update"), Str("generate_config")}));
    std::string ref = txn.Create("VDI", std::move(f));
    (void)txn.AddToSet("SR", sr_ref, "VDIs", Value(ref));
    return Value(ref);
  });
}

void AddPlug(MethodTable& t, ServiceEnv& env, const std::string& cls, bool plug) {
  t.Add({cls + (plug ? ".plug" : ".unplug"),
         1,
         {},
         true,
         true,
         [&env, cls, plug](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
           return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get(cls, self));
             std::string vm = StrField(row->record, "VM");
             FRUIX_ASSIGN_OR_RETURN(const ObjectRow* vmrow, txn.Get("VM", vm));
             const std::string& power = StrField(vmrow->record, "power_state");
             if (power != "Running") {
               return Error::Xapi("VM_BAD_POWER_STATE", {vm, "running", AsciiLower(power)});
             }
             bool attached = BoolField(row->record, "currently_attached");
             if (plug && attached) return Error::Xapi("DEVICE_ALREADY_ATTACHED", {self});
             if (!plug && !attached) return Error::Xapi("DEVICE_ALREADY_DETACHED", {self});
             Struct f;
             f.Set("currently_attached", Value(plug));
             f.Set("allowed_operations", Value(VbdAllowedOps(power, plug)));
             FRUIX_RETURN_IF_ERROR(txn.SetMany(cls, self, f));
             return Value(std::string());
           });
         }});
}

}  // namespace

void RegisterDeviceMethods(MethodTable& t, ServiceEnv& env) {
  t.Add({"VBD.create", 1, {}, true, true, [&env](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(Struct a, ArgStruct(args, 0));
           return VbdCreate(env, a);
         }});
  t.Add(
      {"VBD.destroy", 1, {}, true, true, [&env](CallContext&, const Array& args) -> Result<Value> {
         FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
         return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("VBD", self));
           std::string vm = StrField(row->record, "VM");
           std::string vdi = StrField(row->record, "VDI");
           if (BoolField(row->record, "currently_attached")) {
             const ObjectRow* vmrow = txn.Find("VM", vm);
             return Error::Xapi("OPERATION_NOT_ALLOWED",
                                {"VBD '" + StrField(row->record, "uuid") + "' still attached to '" +
                                 (vmrow == nullptr ? "" : StrField(vmrow->record, "uuid")) + "'"});
           }
           FRUIX_RETURN_IF_ERROR(txn.Destroy("VBD", self));
           if (txn.Find("VM", vm) != nullptr)
             (void)txn.RemoveFromSet("VM", vm, "VBDs", Value(self));
           if (txn.Find("VDI", vdi) != nullptr) {
             (void)txn.RemoveFromSet("VDI", vdi, "VBDs", Value(self));
           }
           return Value(std::string());
         });
       }});
  AddPlug(t, env, "VBD", true);
  AddPlug(t, env, "VBD", false);
  t.Add({"VIF.create", 1, {}, true, true, [&env](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(Struct a, ArgStruct(args, 0));
           return VifCreate(env, a);
         }});
  t.Add(
      {"VIF.destroy", 1, {}, true, true, [&env](CallContext&, const Array& args) -> Result<Value> {
         FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
         return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("VIF", self));
           std::string vm = StrField(row->record, "VM");
           std::string net = StrField(row->record, "network");
           if (BoolField(row->record, "currently_attached")) {
             return Error::Xapi("OPERATION_NOT_ALLOWED", {"VIF currently attached"});
           }
           FRUIX_RETURN_IF_ERROR(txn.Destroy("VIF", self));
           if (txn.Find("VM", vm) != nullptr)
             (void)txn.RemoveFromSet("VM", vm, "VIFs", Value(self));
           if (txn.Find("network", net) != nullptr) {
             (void)txn.RemoveFromSet("network", net, "VIFs", Value(self));
           }
           return Value(std::string());
         });
       }});
  AddPlug(t, env, "VIF", true);
  AddPlug(t, env, "VIF", false);
  t.Add({"VDI.create", 1, {}, true, true, [&env](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(Struct a, ArgStruct(args, 0));
           return VdiCreate(env, a);
         }});
  t.Add(
      {"VDI.destroy", 1, {}, true, true, [&env](CallContext&, const Array& args) -> Result<Value> {
         FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
         if (env.storage.Importing(self)) return Error::Xapi("VDI_IN_USE", {self, "destroy"});
         std::string uuid, sr_uuid;
         auto r = env.db.Write([&](Database::Txn& txn) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("VDI", self));
           std::vector<std::string> vbds = StrSetField(row->record, "VBDs");
           for (const auto& vbd : vbds) {
             const ObjectRow* b = txn.Find("VBD", vbd);
             if (b != nullptr && BoolField(b->record, "currently_attached")) {
               return Error::Xapi("VDI_IN_USE", {self, "destroy"});
             }
           }
           std::string sr = StrField(row->record, "SR");
           uuid = StrField(row->record, "uuid");
           const ObjectRow* srrow = txn.Find("SR", sr);
           sr_uuid = srrow == nullptr ? "" : StrField(srrow->record, "uuid");
           for (const auto& vbd : vbds) {
             const ObjectRow* b = txn.Find("VBD", vbd);
             if (b == nullptr) continue;
             std::string vm = StrField(b->record, "VM");
             (void)txn.Destroy("VBD", vbd);
             if (txn.Find("VM", vm) != nullptr)
               (void)txn.RemoveFromSet("VM", vm, "VBDs", Value(vbd));
           }
           FRUIX_RETURN_IF_ERROR(txn.Destroy("VDI", self));
           if (txn.Find("SR", sr) != nullptr)
             (void)txn.RemoveFromSet("SR", sr, "VDIs", Value(self));
           return Value(std::string());
         });
         if (r.ok()) {
           if (auto path = env.storage.VdiFile(sr_uuid, uuid); path.ok()) {
             env.storage.RemoveVdiFile(uuid, *path);
           }
         }
         return r;
       }});
  // PBD.plug (xapi_pbd.ml plug): attaching a non-shared SR's PBD while another host's PBD of
  // it is attached is SR_NOT_SHARABLE [sr, that host]; plugging an attached PBD does nothing.
  t.Add({"PBD.plug", 1, {}, true, true, [&env](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
           return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("PBD", self));
             if (BoolField(row->record, "currently_attached")) return Value(std::string());
             const std::string sr = StrField(row->record, "SR");
             const ObjectRow* s = txn.Find("SR", sr);
             if (s != nullptr && !BoolField(s->record, "shared")) {
               for (const auto& other : StrSetField(s->record, "PBDs")) {
                 const ObjectRow* o = txn.Find("PBD", other);
                 if (other == self || o == nullptr) continue;
                 if (BoolField(o->record, "currently_attached")) {
                   return Error::Xapi("SR_NOT_SHARABLE", {sr, StrField(o->record, "host")});
                 }
               }
             }
             FRUIX_RETURN_IF_ERROR(txn.Set("PBD", self, "currently_attached", Value(true)));
             return Value(std::string());
           });
         }});
  // PBD.unplug (xapi_pbd.ml unplug): refused with VDI_IN_USE [vdi, ...] while VDIs of the SR are
  // attached on the PBD's host (VBDs of VMs resident there, and imports running there, which
  // xapi attaches to dom0); unplugging a detached PBD does nothing.
  t.Add({"PBD.unplug", 1, {}, true, true, [&env](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
           return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("PBD", self));
             if (!BoolField(row->record, "currently_attached")) return Value(std::string());
             const std::string sr = StrField(row->record, "SR");
             const std::string host = StrField(row->record, "host");
             std::vector<std::string> active;
             auto in_sr = [&](const std::string& vdi) {
               const ObjectRow* v = txn.Find("VDI", vdi);
               return v != nullptr && StrField(v->record, "SR") == sr &&
                      StrField(v->record, "type") != "metadata" &&
                      std::find(active.begin(), active.end(), vdi) == active.end();
             };
             for (const ObjectRow* m : txn.All("VM")) {
               if (StrField(m->record, "resident_on") != host) continue;
               for (const auto& vbd : StrSetField(m->record, "VBDs")) {
                 const ObjectRow* b = txn.Find("VBD", vbd);
                 if (b == nullptr || BoolField(b->record, "empty") ||
                     !BoolField(b->record, "currently_attached")) {
                   continue;
                 }
                 const std::string vdi = StrField(b->record, "VDI");
                 if (in_sr(vdi)) active.push_back(vdi);
               }
             }
             for (const auto& vdi : env.storage.ImportsOnHost(host)) {
               if (in_sr(vdi)) active.push_back(vdi);
             }
             if (!active.empty()) return Error::Xapi("VDI_IN_USE", active);
             FRUIX_RETURN_IF_ERROR(txn.Set("PBD", self, "currently_attached", Value(false)));
             return Value(std::string());
           });
         }});
}

}  // namespace fruix::sim
