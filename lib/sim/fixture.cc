#include "lib/sim/fixture.h"

#include <arpa/inet.h>

#include <filesystem>
#include <map>
#include <set>

#include "lib/core/ids.h"
#include "lib/sim/json_value.h"
#include "lib/sim/record_util.h"
#include "lib/sim/schema.h"
#include "lib/sim/vm_lifecycle.h"

namespace fruix::sim {
namespace {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

Value Strs(std::initializer_list<const char*> v) {
  Array a;
  for (const char* s : v) a.emplace_back(s);
  return Value(std::move(a));
}

Value Map(std::initializer_list<std::pair<const char*, std::string>> kv) {
  Struct s;
  for (const auto& [k, v] : kv) s.Set(k, Value(v));
  return Value(std::move(s));
}

bool IsLoopback(const std::string& address) {
  in_addr a4{};
  if (inet_pton(AF_INET, address.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return address == "::1";
}

class Loader {
 public:
  Loader(Database::Txn& txn, const std::string& state_dir, SimConfig& config, Storage& storage)
      : txn_(txn), state_dir_(state_dir), config_(config), storage_(storage) {}

  Result<LoadedFixture> Load(const Json& root, std::vector<FaultRule>* faults);

 private:
  // Copies schema fields of `cls` from `obj` into `out`, skipping comments and `special` keys.
  Result<void> Fields(const Json& obj, const std::string& cls, const std::set<std::string>& special,
                      const std::string& path, Struct& out);
  static Result<const Json*> Section(const Json& root, const char* key);
  Result<std::string> Lookup(const std::map<std::string, std::string>& m, const Json& obj,
                             const char* key, const std::string& path, bool required);
  Result<void> LoadHost(const Json& h, const std::string& path);
  Result<void> LoadSr(const Json& s, const std::string& path);
  Result<void> LoadVdi(const Json& v, const std::string& path);
  Result<void> LoadVm(const Json& v, const std::string& path);
  Result<GuestScript> LoadGuest(const Json& g, const std::string& path);
  void AddControlDomain(const std::string& host, const Struct& host_rec);

  Database::Txn& txn_;
  std::string state_dir_;
  SimConfig& config_;
  Storage& storage_;
  LoadedFixture out_;
  std::map<std::string, std::string> hosts_, networks_, srs_, vdis_, vms_;  // uuid -> ref
  std::string master_;
};

Result<const Json*> Loader::Section(const Json& root, const char* key) {
  if (!root.contains(key)) return static_cast<const Json*>(nullptr);
  const Json& s = root[key];
  if (!s.is_array()) return Error::InvalidArgument(std::string(key) + ": must be an array");
  return &s;
}

Result<void> Loader::Fields(const Json& obj, const std::string& cls,
                            const std::set<std::string>& special, const std::string& path,
                            Struct& out) {
  if (!obj.is_object()) return Error::InvalidArgument(path + ": must be an object");
  const ClassSpec* spec = FindClass(cls);
  for (const auto& [key, value] : obj.items()) {
    if (key.empty() || key[0] == '_' || special.count(key) != 0) continue;
    const FieldSpec* f = spec->Find(key);
    if (f == nullptr) return Error::InvalidArgument(path + "." + key + ": unknown key");
    if (f->type == FieldType::kRef || f->elem == FieldType::kRef) {
      return Error::InvalidArgument(path + "." + key +
                                    ": references are set through the fixture's own keys");
    }
    auto v = CoerceToField(*f, JsonToValue(value));
    if (!v.ok()) return Error::InvalidArgument(path + "." + key + ": " + v.error().ToString());
    out.Set(key, std::move(*v));
  }
  return Ok();
}

Result<std::string> Loader::Lookup(const std::map<std::string, std::string>& m, const Json& obj,
                                   const char* key, const std::string& path, bool required) {
  if (!obj.contains(key) || obj[key].is_null()) {
    if (required) return Error::InvalidArgument(path + "." + key + ": required");
    return std::string();
  }
  if (!obj[key].is_string()) return Error::InvalidArgument(path + "." + key + ": must be a uuid");
  auto it = m.find(obj[key].get<std::string>());
  if (it == m.end()) {
    return Error::InvalidArgument(path + "." + key + ": no object with uuid " +
                                  obj[key].get<std::string>());
  }
  return it->second;
}

Result<void> Loader::LoadHost(const Json& h, const std::string& path) {
  Struct f;
  f.Set("name_label", Value("xcp-ng-host"));
  f.Set("allowed_operations", Strs({"provision", "evacuate", "shutdown", "reboot", "vm_start",
                                    "vm_resume", "vm_migrate"}));
  f.Set("API_version_vendor_implementation", Value(Struct{}));
  f.Set("capabilities", Strs({"xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_64"}));
  f.Set("supported_bootloaders", Strs({"pygrub", "eliloader"}));
  f.Set("memory_overhead", Value(int64_t{1073741824}));
  f.Set("cpu_info", Map({{"cpu_count", "8"},
                         {"socket_count", "1"},
                         {"vendor", "GenuineIntel"},
                         {"speed", "2400.000"},
                         {"modelname", "Simulated CPU"}}));
  f.Set("sched_policy", Value("credit"));
  f.Set("iscsi_iqn", Value("iqn.2024-01.org.xcp-ng:" + NewUuidString().substr(0, 8)));
  f.Set("virtual_hardware_platform_versions",
        Value(Array{Value(int64_t{0}), Value(int64_t{1}), Value(int64_t{2})}));
  FRUIX_RETURN_IF_ERROR(Fields(h, "host", {"master", "memory_total"}, path, f));
  std::string address = StrField(f, "address");
  if (address.empty()) return Error::InvalidArgument(path + ".address: required");
  if (!IsLoopback(address)) {
    return Error::InvalidArgument(path + ".address: " + address +
                                  " is not a loopback address (127.0.0.0/8 or ::1)");
  }
  if (StrField(f, "hostname").empty()) f.Set("hostname", Value(StrField(f, "name_label")));
  std::string hostname = StrField(f, "hostname");
  f.Set("software_version", Map({{"product_version", "8.3.0"},
                                 {"product_version_text", "8.3"},
                                 {"product_version_text_short", "8.3"},
                                 {"platform_name", "XCP"},
                                 {"platform_version", "3.4.0"},
                                 {"product_brand", "XCP-ng"},
                                 {"build_number", "cloud"},
                                 {"hostname", hostname},
                                 {"xapi", "24.19"},
                                 {"xapi_build", "24.19.2"},
                                 {"xen", "4.17.5-6"},
                                 {"linux", "4.19.0+1"},
                                 {"xencenter_min", "2.21"},
                                 {"xencenter_max", "2.21"},
                                 {"network_backend", "openvswitch"}}));
  int64_t memory_total =
      h.contains("memory_total") ? h["memory_total"].get<int64_t>() : int64_t{68719476736};
  Struct m;
  m.Set("memory_total", Value(memory_total));
  m.Set("memory_free", Value(memory_total - int64_t{4294967296}));
  m.Set("last_updated", Value(NowDateTime()));
  f.Set("metrics", Value(txn_.Create("host_metrics", std::move(m))));
  std::string ref = txn_.Create("host", std::move(f));
  const ObjectRow* row = txn_.Find("host", ref);
  std::string uuid = StrField(row->record, "uuid");
  if (hosts_.count(uuid) != 0) return Error::InvalidArgument(path + ".uuid: duplicate");
  hosts_[uuid] = ref;
  bool master = h.contains("master") && h["master"].get<bool>();
  out_.hosts.push_back({ref, uuid, address, master});
  return Ok();
}

void Loader::AddControlDomain(const std::string& host, const Struct& host_rec) {
  std::string vm_ref = NewRef();
  std::string console_ref = NewRef();
  Struct c;
  c.Set("protocol", Value("vt100"));
  c.Set("location",
        Value("https://" + StrField(host_rec, "address") + "/console?ref=" + console_ref));
  c.Set("VM", Value(vm_ref));
  txn_.Create("console", std::move(c), console_ref);
  Struct m;
  m.Set("memory_actual", Value(int64_t{4294967296}));
  m.Set("VCPUs_number", Value(int64_t{8}));
  m.Set("start_time", Value(NowDateTime()));
  m.Set("current_domain_type", Value("pv"));
  std::string metrics = txn_.Create("VM_metrics", std::move(m));
  Struct v;
  v.Set("name_label", Value("Control domain on host: " + StrField(host_rec, "hostname")));
  v.Set("name_description",
        Value("The domain which manages physical devices and manages other domains"));
  v.Set("power_state", Value("Running"));
  v.Set("is_control_domain", Value(true));
  v.Set("resident_on", Value(host));
  v.Set("affinity", Value(host));
  v.Set("domid", Value(int64_t{0}));
  v.Set("memory_static_max", Value(int64_t{4294967296}));
  v.Set("memory_dynamic_max", Value(int64_t{4294967296}));
  v.Set("memory_dynamic_min", Value(int64_t{4294967296}));
  v.Set("memory_static_min", Value(int64_t{4294967296}));
  v.Set("memory_target", Value(int64_t{4294967296}));
  v.Set("VCPUs_max", Value(int64_t{8}));
  v.Set("VCPUs_at_startup", Value(int64_t{8}));
  v.Set("domain_type", Value("pv"));
  v.Set("consoles", Value(Array{Value(console_ref)}));
  v.Set("metrics", Value(metrics));
  v.Set("allowed_operations", Strs({"changing_dynamic_range", "metadata_export"}));
  txn_.Create("VM", std::move(v), vm_ref);
  (void)txn_.Set("host", host, "control_domain", Value(vm_ref));
  (void)txn_.AddToSet("host", host, "resident_VMs", Value(vm_ref));
}

Result<void> Loader::LoadSr(const Json& s, const std::string& path) {
  Struct f;
  f.Set("name_label", Value("SR"));
  f.Set("type", Value("ext"));
  f.Set("content_type", Value("user"));
  f.Set("physical_size", Value(int64_t{1099511627776}));
  f.Set("allowed_operations", Strs({"scan", "destroy", "forget", "plug", "unplug", "update",
                                    "vdi_create", "vdi_introduce", "vdi_destroy", "vdi_resize",
                                    "vdi_clone", "vdi_snapshot", "pbd_create", "pbd_destroy"}));
  FRUIX_RETURN_IF_ERROR(Fields(s, "SR", {"backing_dir", "hosts", "device_config"}, path, f));
  std::vector<std::string> hosts;
  if (s.contains("hosts")) {
    for (const auto& h : s["hosts"]) {
      auto it = hosts_.find(h.get<std::string>());
      if (it == hosts_.end()) return Error::InvalidArgument(path + ".hosts: unknown host uuid");
      hosts.push_back(it->second);
    }
  } else if (BoolField(f, "shared")) {
    for (const auto& h : out_.hosts) hosts.push_back(h.ref);
  } else {
    hosts.push_back(master_);
  }
  std::string ref = txn_.Create("SR", std::move(f));
  std::string uuid = StrField(txn_.Find("SR", ref)->record, "uuid");
  srs_[uuid] = ref;
  std::filesystem::path dir =
      s.contains("backing_dir") ? s["backing_dir"].get<std::string>() : "sr-" + uuid;
  if (dir.is_relative()) dir = std::filesystem::path(state_dir_) / dir;
  storage_.AddSr(uuid, dir.lexically_normal().string());
  Value device_config = s.contains("device_config") ? JsonToValue(s["device_config"])
                                                    : Map({{"location", dir.string()}});
  for (const auto& h : hosts) {
    Struct p;
    p.Set("host", Value(h));
    p.Set("SR", Value(ref));
    p.Set("device_config", device_config);
    p.Set("currently_attached", Value(true));
    std::string pbd = txn_.Create("PBD", std::move(p));
    (void)txn_.AddToSet("SR", ref, "PBDs", Value(pbd));
    (void)txn_.AddToSet("host", h, "PBDs", Value(pbd));
  }
  return Ok();
}

Result<void> Loader::LoadVdi(const Json& v, const std::string& path) {
  FRUIX_ASSIGN_OR_RETURN(std::string sr, Lookup(srs_, v, "sr", path, true));
  Struct f;
  f.Set("name_label", Value("disk"));
  f.Set("SR", Value(sr));
  f.Set("allowed_operations", Strs({"clone", "copy", "resize", "snapshot", "destroy", "forget",
                                    "update", "generate_config"}));
  FRUIX_RETURN_IF_ERROR(Fields(v, "VDI", {"sr", "backing_file"}, path, f));
  if (IntField(f, "virtual_size") <= 0) {
    return Error::InvalidArgument(path + ".virtual_size: required and > 0");
  }
  std::string ref = txn_.Create("VDI", std::move(f));
  const Struct& rec = txn_.Find("VDI", ref)->record;
  std::string uuid = StrField(rec, "uuid");
  if (StrField(rec, "location").empty()) (void)txn_.Set("VDI", ref, "location", Value(uuid));
  vdis_[uuid] = ref;
  (void)txn_.AddToSet("SR", sr, "VDIs", Value(ref));
  std::string sr_uuid = StrField(txn_.Find("SR", sr)->record, "uuid");
  if (v.contains("backing_file")) {
    std::filesystem::path file = v["backing_file"].get<std::string>();
    if (file.is_relative()) {
      FRUIX_ASSIGN_OR_RETURN(std::string def, storage_.VdiFile(sr_uuid, uuid));
      file = std::filesystem::path(def).parent_path() / file;
    }
    storage_.SetVdiFile(uuid, file.lexically_normal().string());
  }
  FRUIX_ASSIGN_OR_RETURN(std::string file, storage_.VdiFile(sr_uuid, uuid));
  auto made = storage_.EnsureVdiFile(file, static_cast<uint64_t>(IntField(rec, "virtual_size")));
  if (!made.ok()) return made.error().WithContext(path);
  return Ok();
}

Result<GuestScript> Loader::LoadGuest(const Json& g, const std::string& path) {
  GuestScript s;
  if (!g.is_object()) return Error::InvalidArgument(path + ": must be an object");
  try {
    for (const auto& [key, value] : g.items()) {
      if (!key.empty() && key[0] == '_') continue;
      if (key == "console") {
        for (const auto& line : value) {
          if (line.is_string()) {
            s.console.push_back({0, line.get<std::string>()});
          } else {
            s.console.push_back(
                {line.value("delay_ms", int64_t{0}), line.at("line").get<std::string>()});
          }
        }
      } else if (key == "ip") {
        s.ip = value.get<std::string>();
      } else if (key == "ip_after_ms") {
        s.ip_after_ms = value.get<int64_t>();
      } else if (key == "pv_drivers") {
        s.pv_drivers = value.get<bool>();
      } else if (key == "ssh") {
        s.ssh = value.get<std::string>();
      } else if (key == "action") {
        std::string a = value.get<std::string>();
        if (a == "crash")
          s.action = GuestScript::Action::kCrash;
        else if (a == "halt")
          s.action = GuestScript::Action::kHalt;
        else if (a == "reboot")
          s.action = GuestScript::Action::kReboot;
        else if (a == "none")
          s.action = GuestScript::Action::kNone;
        else
          return Error::InvalidArgument(path + ".action: crash, halt, reboot or none");
      } else if (key == "action_after_ms") {
        s.action_after_ms = value.get<int64_t>();
      } else if (key == "power_op_ms") {
        s.power_op_ms = value.get<int64_t>();
      } else if (key == "console_scrollback_bytes") {
        s.console_scrollback_bytes = value.get<size_t>();
      } else {
        return Error::InvalidArgument(path + "." + key + ": unknown key");
      }
    }
  } catch (const Json::exception& e) {
    return Error::InvalidArgument(path + ": " + e.what());
  }
  if (!s.ip.empty() && !s.ip_after_ms) s.ip_after_ms = 0;
  return s;
}

Result<void> Loader::LoadVm(const Json& v, const std::string& path) {
  std::string type = v.contains("domain_type") && v["domain_type"].is_string()
                         ? v["domain_type"].get<std::string>()
                         : "hvm";
  Struct f;
  f.Set("name_label", Value("VM"));
  f.Set("memory_static_max", Value(int64_t{2147483648}));
  f.Set("memory_dynamic_max", Value(int64_t{2147483648}));
  f.Set("memory_dynamic_min", Value(int64_t{2147483648}));
  f.Set("memory_static_min", Value(int64_t{1073741824}));
  f.Set("memory_target", Value(int64_t{2147483648}));
  f.Set("VCPUs_max", Value(int64_t{2}));
  f.Set("VCPUs_at_startup", Value(int64_t{2}));
  f.Set("domain_type", Value(type));
  if (type == "hvm") {
    f.Set("HVM_boot_policy", Value("BIOS order"));
    f.Set("HVM_boot_params", Map({{"order", "cd"}, {"firmware", "bios"}}));
    f.Set("platform", Map({{"timeoffset", "0"},
                           {"device-model", "qemu-upstream-compat"},
                           {"viridian", "false"},
                           {"acpi", "1"},
                           {"apic", "true"},
                           {"pae", "true"},
                           {"nx", "true"},
                           {"hpet", "true"}}));
  } else {
    f.Set("PV_bootloader", Value("pygrub"));
    f.Set("platform", Map({{"timeoffset", "0"}}));
  }
  f.Set("other_config", Map({{"mac_seed", NewUuidString()}}));
  f.Set("generation_id", Value(""));
  FRUIX_RETURN_IF_ERROR(
      Fields(v, "VM", {"resident_on", "vbds", "vifs", "guest", "power_state"}, path, f));
  std::string power = v.value("power_state", std::string("Halted"));
  if (power != "Halted" && power != "Running") {
    return Error::InvalidArgument(path + ".power_state: Halted or Running");
  }
  f.Set("allowed_operations",
        Value(VmLifecycle::AllowedOperations("Halted", BoolField(f, "is_a_template"), false)));
  Struct m;
  m.Set("memory_actual", Value(int64_t{0}));
  m.Set("VCPUs_number", Value(IntField(f, "VCPUs_at_startup")));
  m.Set("install_time", Value(NowDateTime()));
  f.Set("metrics", Value(txn_.Create("VM_metrics", std::move(m))));
  std::string ref = txn_.Create("VM", std::move(f));
  std::string uuid = StrField(txn_.Find("VM", ref)->record, "uuid");
  vms_[uuid] = ref;
  if (v.contains("vbds")) {
    size_t i = 0;
    for (const auto& b : v["vbds"]) {
      std::string bpath = path + ".vbds[" + std::to_string(i++) + "]";
      FRUIX_ASSIGN_OR_RETURN(std::string vdi, Lookup(vdis_, b, "vdi", bpath, false));
      Struct bf;
      bf.Set("VM", Value(ref));
      bf.Set("VDI", Value(vdi.empty() ? std::string(kNullRef) : vdi));
      bf.Set("empty", Value(vdi.empty()));
      bf.Set("userdevice", Value(std::to_string(i - 1)));
      if (vdi.empty()) {
        bf.Set("type", Value("CD"));
        bf.Set("mode", Value("RO"));
      }
      FRUIX_RETURN_IF_ERROR(Fields(b, "VBD", {"vdi"}, bpath, bf));
      std::string vbd = txn_.Create("VBD", std::move(bf));
      (void)txn_.AddToSet("VM", ref, "VBDs", Value(vbd));
      if (!vdi.empty()) (void)txn_.AddToSet("VDI", vdi, "VBDs", Value(vbd));
    }
  }
  if (v.contains("vifs")) {
    size_t i = 0;
    for (const auto& n : v["vifs"]) {
      std::string npath = path + ".vifs[" + std::to_string(i++) + "]";
      FRUIX_ASSIGN_OR_RETURN(std::string net, Lookup(networks_, n, "network", npath, true));
      Struct nf;
      nf.Set("VM", Value(ref));
      nf.Set("network", Value(net));
      nf.Set("device", Value(std::to_string(i - 1)));
      nf.Set("MTU", Value(IntField(txn_.Find("network", net)->record, "MTU")));
      std::string mac = NewUuidString();
      nf.Set("MAC", Value("aa:" + mac.substr(0, 2) + ":" + mac.substr(2, 2) + ":" +
                          mac.substr(4, 2) + ":" + mac.substr(6, 2) + ":" + mac.substr(9, 2)));
      nf.Set("MAC_autogenerated", Value(true));
      FRUIX_RETURN_IF_ERROR(Fields(n, "VIF", {"network"}, npath, nf));
      std::string vif = txn_.Create("VIF", std::move(nf));
      (void)txn_.AddToSet("VM", ref, "VIFs", Value(vif));
      (void)txn_.AddToSet("network", net, "VIFs", Value(vif));
    }
  }
  if (v.contains("guest")) {
    FRUIX_ASSIGN_OR_RETURN(GuestScript g, LoadGuest(v["guest"], path + ".guest"));
    config_.guests[uuid] = std::move(g);
  }
  if (power == "Running") {
    FRUIX_ASSIGN_OR_RETURN(std::string host, Lookup(hosts_, v, "resident_on", path, false));
    out_.running.emplace_back(ref, host.empty() ? master_ : host);
  }
  return Ok();
}

Result<LoadedFixture> Loader::Load(const Json& root, std::vector<FaultRule>* faults) {
  if (!root.is_object()) return Error::InvalidArgument("fixture: must be a JSON object");
  static const std::set<std::string> kTop = {"credentials", "pool", "hosts", "networks",
                                             "srs",         "vdis", "vms",   "faults"};
  for (const auto& [key, value] : root.items()) {
    if (!key.empty() && key[0] != '_' && kTop.count(key) == 0) {
      return Error::InvalidArgument(key + ": unknown top-level key");
    }
  }
  if (root.contains("credentials")) {
    const Json& c = root["credentials"];
    config_.credentials.username = c.value("username", std::string("root"));
    config_.credentials.password = c.value("password", std::string());
  }
  FRUIX_ASSIGN_OR_RETURN(const Json* hosts, Section(root, "hosts"));
  if (hosts == nullptr || hosts->empty()) return Error::InvalidArgument("hosts: at least one host");
  for (size_t i = 0; i < hosts->size(); ++i) {
    FRUIX_RETURN_IF_ERROR(LoadHost((*hosts)[i], "hosts[" + std::to_string(i) + "]"));
  }
  // The pool and its master.
  Json pool = root.contains("pool") ? root["pool"] : Json::object();
  FRUIX_ASSIGN_OR_RETURN(master_, Lookup(hosts_, pool, "master", "pool", false));
  if (master_.empty()) {
    for (const auto& h : out_.hosts) {
      if (h.master && master_.empty()) master_ = h.ref;
    }
  }
  if (master_.empty()) master_ = out_.hosts.front().ref;
  for (auto& h : out_.hosts) h.master = h.ref == master_;
  Struct pf;
  pf.Set("name_label", Value("xcp-ng-pool"));
  pf.Set("master", Value(master_));
  pf.Set("ha_cluster_stack", Value("xhad"));
  pf.Set("restrictions",
         Map({{"restrict_vswitch_controller", "false"}, {"restrict_lab", "false"}}));
  pf.Set("cpu_info", Map({{"cpu_count", "8"}, {"socket_count", "1"}, {"vendor", "GenuineIntel"}}));
  pf.Set("allowed_operations", Strs({"ha_enable", "cluster_create", "designate_new_master"}));
  FRUIX_RETURN_IF_ERROR(Fields(pool, "pool", {"master"}, "pool", pf));
  txn_.Create("pool", std::move(pf));
  for (const auto& h : out_.hosts) AddControlDomain(h.ref, txn_.Find("host", h.ref)->record);

  FRUIX_ASSIGN_OR_RETURN(const Json* networks, Section(root, "networks"));
  for (size_t i = 0; networks != nullptr && i < networks->size(); ++i) {
    Struct f;
    f.Set("name_label", Value("Pool-wide network"));
    f.Set("bridge", Value("xenbr" + std::to_string(i)));
    f.Set("other_config", Map({{"automatic", "true"}}));
    FRUIX_RETURN_IF_ERROR(
        Fields((*networks)[i], "network", {}, "networks[" + std::to_string(i) + "]", f));
    std::string ref = txn_.Create("network", std::move(f));
    networks_[StrField(txn_.Find("network", ref)->record, "uuid")] = ref;
  }
  FRUIX_ASSIGN_OR_RETURN(const Json* srs, Section(root, "srs"));
  for (size_t i = 0; srs != nullptr && i < srs->size(); ++i) {
    FRUIX_RETURN_IF_ERROR(LoadSr((*srs)[i], "srs[" + std::to_string(i) + "]"));
  }
  FRUIX_ASSIGN_OR_RETURN(const Json* vdis, Section(root, "vdis"));
  for (size_t i = 0; vdis != nullptr && i < vdis->size(); ++i) {
    FRUIX_RETURN_IF_ERROR(LoadVdi((*vdis)[i], "vdis[" + std::to_string(i) + "]"));
  }
  FRUIX_ASSIGN_OR_RETURN(const Json* vms, Section(root, "vms"));
  for (size_t i = 0; vms != nullptr && i < vms->size(); ++i) {
    FRUIX_RETURN_IF_ERROR(LoadVm((*vms)[i], "vms[" + std::to_string(i) + "]"));
  }
  FRUIX_ASSIGN_OR_RETURN(const Json* rules, Section(root, "faults"));
  for (size_t i = 0; rules != nullptr && i < rules->size(); ++i) {
    auto rule = ParseFaultRule((*rules)[i].dump());
    if (!rule.ok()) return rule.error().WithContext("faults[" + std::to_string(i) + "]");
    faults->push_back(std::move(*rule));
  }
  return out_;
}

}  // namespace

Result<LoadedFixture> LoadFixture(std::string_view json, const std::string& state_dir, Database& db,
                                  SimConfig& config, Storage& storage, FaultInjector& faults) {
  Json root;
  try {
    root = Json::parse(json);
  } catch (const Json::exception& e) {
    return Error::InvalidArgument(std::string("fixture is not valid JSON: ") + e.what());
  }
  std::vector<FaultRule> rules;
  Result<LoadedFixture> loaded = db.Write([&](Database::Txn& txn) -> Result<LoadedFixture> {
    try {
      Loader loader(txn, state_dir, config, storage);
      return loader.Load(root, &rules);
    } catch (const Json::exception& e) {
      return Error::InvalidArgument(std::string("fixture: ") + e.what());
    }
  });
  if (!loaded.ok()) return loaded;
  for (auto& r : rules) faults.Add(std::move(r));
  return loaded;
}

}  // namespace fruix::sim
