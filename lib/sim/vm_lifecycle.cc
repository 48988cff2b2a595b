#include "lib/sim/vm_lifecycle.h"

#include <algorithm>
#include <vector>

#include "lib/core/ids.h"
#include "lib/sim/record_util.h"

namespace fruix::sim {
namespace {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

// xapi_vm_lifecycle.ml allowed_power_states, in xapi's order.
std::vector<std::string> PowerStatesFor(const std::string& op) {
  if (op == "start" || op == "start_on") return {"Halted"};
  if (op == "unpause") return {"Paused"};
  if (op == "hard_reboot") return {"Paused", "Running"};
  if (op == "shutdown" || op == "hard_shutdown") return {"Paused", "Suspended", "Running"};
  return {"Running"};  // clean_shutdown, clean_reboot, pause
}

std::string JoinLower(const std::vector<std::string>& states) {
  std::string out;
  for (const auto& s : states) {
    if (!out.empty()) out += ", ";
    out += AsciiLower(s);
  }
  return out;
}

bool AllowedConcurrently(const std::string& op, const std::vector<std::string>& current) {
  auto has = [&](const char* o) {
    return std::find(current.begin(), current.end(), o) != current.end();
  };
  if (op == "hard_shutdown") return !has("hard_shutdown");
  if (op == "hard_reboot") return !has("hard_shutdown") && !has("hard_reboot");
  return false;
}

// The domain type the VM boots with.
std::string EffectiveDomainType(const Struct& vm) {
  const std::string& t = StrField(vm, "domain_type");
  if (t != "unspecified" && !t.empty()) return t;
  return StrField(vm, "HVM_boot_policy").empty() ? "pv" : "hvm";
}

bool HasPvDrivers(const Database::Txn& txn, const Struct& vm) {
  const ObjectRow* gm = txn.Find("VM_guest_metrics", StrField(vm, "guest_metrics"));
  return gm != nullptr && !MapField(gm->record, "PV_drivers_version").empty();
}

Value AsArray(std::vector<std::string> v) { return Value::StringArray(v); }

}  // namespace

VmLifecycle::VmLifecycle(Database& db, TaskRunner& runner, Scheduler& scheduler,
                         ConsoleHub& consoles, const SimConfig& config)
    : db_(db), runner_(runner), scheduler_(scheduler), consoles_(consoles), config_(config) {}

Array VmLifecycle::AllowedOperations(const std::string& power_state, bool is_template, bool busy) {
  std::vector<std::string> ops;
  if (busy) {
    if (power_state == "Running" || power_state == "Paused") ops = {"hard_reboot", "hard_shutdown"};
  } else if (is_template) {
    ops = {"changing_dynamic_range",
           "changing_static_range",
           "changing_memory_limits",
           "changing_shadow_memory",
           "changing_VCPUs",
           "changing_NVRAM",
           "clone",
           "copy",
           "export",
           "metadata_export",
           "provision",
           "destroy"};
  } else if (power_state == "Halted") {
    ops = {"changing_dynamic_range",
           "changing_static_range",
           "changing_memory_limits",
           "changing_shadow_memory",
           "changing_VCPUs",
           "changing_NVRAM",
           "clone",
           "copy",
           "create_template",
           "destroy",
           "export",
           "make_into_template",
           "metadata_export",
           "migrate_send",
           "snapshot",
           "start",
           "start_on"};
  } else if (power_state == "Running") {
    ops = {"changing_dynamic_range",
           "checkpoint",
           "clean_reboot",
           "clean_shutdown",
           "hard_reboot",
           "hard_shutdown",
           "metadata_export",
           "pause",
           "pool_migrate",
           "shutdown",
           "snapshot",
           "suspend",
           "migrate_send"};
  } else if (power_state == "Paused") {
    ops = {"checkpoint", "hard_reboot", "hard_shutdown", "metadata_export",
           "shutdown",   "snapshot",    "unpause"};
  }
  Array out;
  for (auto& o : ops) out.emplace_back(std::move(o));
  return out;
}

Result<std::string> VmLifecycle::Begin(const Op& op, const std::string& vm,
                                       const std::string& opname) {
  return db_.Write([&](Database::Txn& txn) -> Result<std::string> {
    FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("VM", vm));
    const Struct& rec = row->record;
    const std::string& power = StrField(rec, "power_state");
    std::vector<std::string> states = PowerStatesFor(opname);
    if (std::find(states.begin(), states.end(), power) == states.end()) {
      return Error::Xapi("VM_BAD_POWER_STATE", {vm, JoinLower(states), AsciiLower(power)});
    }
    const Struct& current = MapField(rec, "current_operations");
    if (!current.empty()) {
      std::vector<std::string> ops;
      for (const auto& [k, v] : current) ops.push_back(v.is_string() ? v.string() : "");
      if (!AllowedConcurrently(opname, ops)) {
        if (current.size() == 1) {
          return Error::Xapi("OTHER_OPERATION_IN_PROGRESS",
                             {"VM", vm, ops.front(), current.begin()->first});
        }
        std::string refs = "{", names = "{";
        for (const auto& [k, v] : current) {
          refs += (refs.size() > 1 ? "," : "") + k;
          names += (names.size() > 1 ? "," : "") + (v.is_string() ? v.string() : "");
        }
        return Error::Xapi("OTHER_OPERATION_IN_PROGRESS", {"VM", vm, names + "}", refs + "}"});
      }
    }
    if (BoolField(rec, "is_a_template") && !BoolField(rec, "is_a_snapshot")) {
      return Error::Xapi("VM_IS_TEMPLATE", {vm, opname});
    }
    if ((opname == "clean_shutdown" || opname == "clean_reboot") &&
        EffectiveDomainType(rec) == "hvm" && !HasPvDrivers(txn, rec)) {
      return Error::Xapi("VM_LACKS_FEATURE", {vm});
    }
    std::string op_ref = op.task.empty() ? NewRef() : op.task;
    Struct ops = current;
    ops.Set(op_ref, Value(opname));
    Struct f;
    f.Set("current_operations", Value(std::move(ops)));
    f.Set("allowed_operations",
          Value(AllowedOperations(power, BoolField(rec, "is_a_template"), true)));
    (void)txn.SetMany("VM", vm, f);
    if (!op.task.empty() && txn.Find("task", op.task) != nullptr) {
      (void)txn.Set("task", op.task, "allowed_operations", AsArray({"cancel"}));
    }
    return op_ref;
  });
}

void VmLifecycle::End(const std::string& vm, const std::string& op_ref) {
  db_.Write([&](Database::Txn& txn) {
    const ObjectRow* row = txn.Find("VM", vm);
    if (row == nullptr) return;
    Struct ops = MapField(row->record, "current_operations");
    ops.Erase(op_ref);
    Struct f;
    bool busy = !ops.empty();
    f.Set("current_operations", Value(std::move(ops)));
    f.Set("allowed_operations",
          Value(AllowedOperations(StrField(row->record, "power_state"),
                                  BoolField(row->record, "is_a_template"), busy)));
    (void)txn.SetMany("VM", vm, f);
  });
}

Result<void> VmLifecycle::Wait(const Op& op, const std::string& vm) {
  std::string uuid = db_.Read([&](const Database::Txn& txn) {
    const ObjectRow* row = txn.Find("VM", vm);
    return row == nullptr ? std::string() : StrField(row->record, "uuid");
  });
  const GuestScript* g = config_.GuestFor(uuid);
  int64_t ms = g != nullptr ? g->power_op_ms : 0;
  if (ms <= 0) {
    if (!op.task.empty() && TaskCancelRequested(db_, op.task)) {
      return Error::Xapi("TASK_CANCELLED", {op.task});
    }
    return Ok();
  }
  return runner_.Sleep(op.task, std::chrono::milliseconds(ms));
}

Result<std::string> VmLifecycle::ChooseHost(const Database::Txn& txn, const std::string& vm,
                                            const std::string& wanted) {
  FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("VM", vm));
  // SRs the VM's disks live on.
  std::vector<std::string> srs;
  for (const auto& vbd : StrSetField(row->record, "VBDs")) {
    const ObjectRow* b = txn.Find("VBD", vbd);
    if (b == nullptr || BoolField(b->record, "empty")) continue;
    const ObjectRow* vdi = txn.Find("VDI", StrField(b->record, "VDI"));
    if (vdi != nullptr) srs.push_back(StrField(vdi->record, "SR"));
  }
  auto missing_sr = [&](const std::string& host) -> std::string {
    for (const auto& sr : srs) {
      bool seen = false;
      const ObjectRow* s = txn.Find("SR", sr);
      for (const auto& pbd :
           s == nullptr ? std::vector<std::string>{} : StrSetField(s->record, "PBDs")) {
        const ObjectRow* p = txn.Find("PBD", pbd);
        if (p != nullptr && StrField(p->record, "host") == host &&
            BoolField(p->record, "currently_attached")) {
          seen = true;
        }
      }
      if (!seen) return sr;
    }
    return "";
  };
  if (!wanted.empty()) {
    FRUIX_ASSIGN_OR_RETURN(const ObjectRow* h, txn.Get("host", wanted));
    (void)h;
    std::string sr = missing_sr(wanted);
    if (!sr.empty()) return Error::Xapi("VM_REQUIRES_SR", {vm, sr});
    return wanted;
  }
  std::vector<std::string> candidates;
  const std::string& affinity = StrField(row->record, "affinity");
  if (txn.Find("host", affinity) != nullptr) candidates.push_back(affinity);
  for (const ObjectRow* pool : txn.All("pool"))
    candidates.push_back(StrField(pool->record, "master"));
  std::vector<const ObjectRow*> hosts = txn.All("host");
  std::sort(hosts.begin(), hosts.end(), [](const ObjectRow* a, const ObjectRow* b) {
    return StrField(a->record, "address") < StrField(b->record, "address");
  });
  for (const ObjectRow* h : hosts) candidates.push_back(h->ref);
  for (const auto& h : candidates) {
    const ObjectRow* host = txn.Find("host", h);
    if (host != nullptr && BoolField(host->record, "enabled") && missing_sr(h).empty()) return h;
  }
  return Error::Xapi("NO_HOSTS_AVAILABLE", {});
}

int64_t VmLifecycle::NextDomid(const std::string& host) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& next = next_domid_[host];
  if (next == 0) next = 1;
  return next++;
}

namespace {

// Creates the console objects of a domain booted on `host`; returns their refs.
Array CreateConsoles(Database::Txn& txn, const std::string& vm, const Struct& rec,
                     const std::string& host_address) {
  Array refs;
  std::vector<std::string> protocols = {"rfb"};
  std::string type = EffectiveDomainType(rec);
  if (type == "pv" || type == "pv_in_pvh") protocols.push_back("vt100");
  for (const auto& proto : protocols) {
    std::string uuid = NewUuidString();
    Struct f;
    f.Set("uuid", Value(uuid));
    f.Set("protocol", Value(proto));
    f.Set("location", Value("https://" + host_address + "/console?uuid=" + uuid));
    f.Set("VM", Value(vm));
    refs.emplace_back(txn.Create("console", std::move(f)));
  }
  return refs;
}

// Marks the VM's VBDs and VIFs attached (domain up) or detached (domain gone).
void SetDevicesAttached(Database::Txn& txn, const Struct& rec, bool attached) {
  for (const char* cls : {"VBD", "VIF"}) {
    for (const auto& dev : StrSetField(rec, std::string(cls) + "s")) {
      if (txn.Find(cls, dev) == nullptr) continue;
      Struct f;
      f.Set("currently_attached", Value(attached));
      Array ops;
      if (attached) {
        ops = {Value("unplug"), Value("unplug_force")};
      }
      f.Set("allowed_operations", Value(std::move(ops)));
      (void)txn.SetMany(cls, dev, f);
    }
  }
}

// Destroys what belongs to a running domain (consoles, guest metrics).
void TearDown(Database::Txn& txn, const Struct& rec) {
  for (const auto& c : StrSetField(rec, "consoles")) (void)txn.Destroy("console", c);
  const std::string& gm = StrField(rec, "guest_metrics");
  if (txn.Find("VM_guest_metrics", gm) != nullptr) (void)txn.Destroy("VM_guest_metrics", gm);
}

}  // namespace

void VmLifecycle::BootDomain(const std::string& vm, const std::string& host, bool paused) {
  int64_t domid = -1;
  size_t scrollback = 0;
  db_.Write([&](Database::Txn& txn) {
    const ObjectRow* row = txn.Find("VM", vm);
    const ObjectRow* h = txn.Find("host", host);
    if (row == nullptr || h == nullptr || StrField(row->record, "power_state") != "Halted") return;
    Struct rec = row->record;
    domid = NextDomid(host);
    Struct f;
    f.Set("power_state", Value(paused ? "Paused" : "Running"));
    f.Set("resident_on", Value(host));
    f.Set("domid", Value(domid));
    f.Set("consoles", Value(CreateConsoles(txn, vm, rec, StrField(h->record, "address"))));
    f.Set("allowed_operations",
          Value(AllowedOperations(paused ? "Paused" : "Running", false,
                                  !MapField(rec, "current_operations").empty())));
    (void)txn.SetMany("VM", vm, f);
    (void)txn.AddToSet("host", host, "resident_VMs", Value(vm));
    SetDevicesAttached(txn, rec, true);
    const std::string& metrics = StrField(rec, "metrics");
    if (txn.Find("VM_metrics", metrics) != nullptr) {
      Struct m;
      m.Set("start_time", Value(NowDateTime()));
      m.Set("last_updated", Value(NowDateTime()));
      m.Set("current_domain_type", Value(EffectiveDomainType(rec)));
      m.Set("VCPUs_number", Value(IntField(rec, "VCPUs_at_startup")));
      m.Set("memory_actual", Value(IntField(rec, "memory_dynamic_max")));
      m.Set("hvm", Value(EffectiveDomainType(rec) == "hvm"));
      (void)txn.SetMany("VM_metrics", metrics, m);
    }
    const GuestScript* g = config_.GuestFor(StrField(rec, "uuid"));
    scrollback = g != nullptr ? g->console_scrollback_bytes : 0;
  });
  if (domid < 0) return;
  consoles_.Open(vm, scrollback);
  if (!paused) RunScript(vm, domid);
}

void VmLifecycle::DestroyDomain(const std::string& vm) {
  scheduler_.CancelGroup(vm);
  bool changed = db_.Write([&](Database::Txn& txn) {
    const ObjectRow* row = txn.Find("VM", vm);
    if (row == nullptr || StrField(row->record, "power_state") == "Halted") return false;
    Struct rec = row->record;
    TearDown(txn, rec);
    std::string host = StrField(rec, "resident_on");
    Struct f;
    f.Set("power_state", Value("Halted"));
    f.Set("resident_on", Value(std::string(kNullRef)));
    f.Set("domid", Value(int64_t{-1}));
    f.Set("consoles", Value(Array{}));
    f.Set("guest_metrics", Value(std::string(kNullRef)));
    f.Set("allowed_operations",
          Value(AllowedOperations("Halted", BoolField(rec, "is_a_template"),
                                  !MapField(rec, "current_operations").empty())));
    (void)txn.SetMany("VM", vm, f);
    SetDevicesAttached(txn, rec, false);
    if (txn.Find("host", host) != nullptr) {
      (void)txn.RemoveFromSet("host", host, "resident_VMs", Value(vm));
    }
    const std::string& metrics = StrField(rec, "metrics");
    if (txn.Find("VM_metrics", metrics) != nullptr) {
      Struct m;
      m.Set("current_domain_type", Value("unspecified"));
      m.Set("memory_actual", Value(int64_t{0}));
      m.Set("last_updated", Value(NowDateTime()));
      (void)txn.SetMany("VM_metrics", metrics, m);
    }
    return true;
  });
  if (changed) consoles_.Close(vm);
}

void VmLifecycle::RebootDomain(const std::string& vm) {
  scheduler_.CancelGroup(vm);
  int64_t domid = -1;
  size_t scrollback = 0;
  db_.Write([&](Database::Txn& txn) {
    const ObjectRow* row = txn.Find("VM", vm);
    if (row == nullptr) return;
    const std::string& power = StrField(row->record, "power_state");
    if (power != "Running" && power != "Paused") return;
    Struct rec = row->record;
    std::string host = StrField(rec, "resident_on");
    const ObjectRow* h = txn.Find("host", host);
    if (h == nullptr) return;
    std::string address = StrField(h->record, "address");
    TearDown(txn, rec);
    domid = NextDomid(host);
    Struct f;
    f.Set("power_state", Value("Running"));
    f.Set("domid", Value(domid));
    f.Set("guest_metrics", Value(std::string(kNullRef)));
    f.Set("consoles", Value(CreateConsoles(txn, vm, rec, address)));
    f.Set("allowed_operations",
          Value(AllowedOperations("Running", false, !MapField(rec, "current_operations").empty())));
    (void)txn.SetMany("VM", vm, f);
    const std::string& metrics = StrField(rec, "metrics");
    if (txn.Find("VM_metrics", metrics) != nullptr) {
      (void)txn.Set("VM_metrics", metrics, "start_time", Value(NowDateTime()));
    }
    const GuestScript* g = config_.GuestFor(StrField(rec, "uuid"));
    scrollback = g != nullptr ? g->console_scrollback_bytes : 0;
  });
  if (domid < 0) return;
  consoles_.Open(vm, scrollback);
  RunScript(vm, domid);
}

void VmLifecycle::RunScript(const std::string& vm, int64_t domid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    script_started_[vm] = domid;
  }
  std::string uuid = db_.Read([&](const Database::Txn& txn) {
    const ObjectRow* row = txn.Find("VM", vm);
    return row == nullptr ? std::string() : StrField(row->record, "uuid");
  });
  const GuestScript* g = config_.GuestFor(uuid);
  if (g == nullptr) return;
  // Runs `fn` only while the same domain is still up.
  auto same_boot = [this, vm, domid] {
    return db_.Read([&](const Database::Txn& txn) {
      const ObjectRow* row = txn.Find("VM", vm);
      return row != nullptr && IntField(row->record, "domid") == domid &&
             StrField(row->record, "power_state") != "Halted";
    });
  };
  int64_t at = 0;
  for (const auto& line : g->console) {
    at += std::max<int64_t>(0, line.delay_ms);
    std::string text = line.text + "\r\n";
    scheduler_.Schedule(std::chrono::milliseconds(at), vm, [this, vm, text, same_boot] {
      if (same_boot()) consoles_.Write(vm, text);
    });
  }
  if (g->ip_after_ms.has_value()) {
    std::string ip = g->ip;
    bool pv = g->pv_drivers;
    scheduler_.Schedule(std::chrono::milliseconds(*g->ip_after_ms), vm, [this, vm, domid, ip, pv] {
      db_.Write([&](Database::Txn& txn) {
        const ObjectRow* row = txn.Find("VM", vm);
        if (row == nullptr || IntField(row->record, "domid") != domid ||
            StrField(row->record, "power_state") != "Running") {
          return;
        }
        Struct f;
        Struct networks;
        networks.Set("0/ip", Value(ip));
        networks.Set("0/ipv4/0", Value(ip));
        f.Set("networks", Value(std::move(networks)));
        f.Set("last_updated", Value(NowDateTime()));
        f.Set("live", Value(true));
        f.Set("PV_drivers_detected", Value(pv));
        if (pv) {
          Struct version;
          version.Set("major", Value("9"));
          version.Set("minor", Value("1"));
          version.Set("micro", Value("0"));
          version.Set("build", Value("0"));
          f.Set("PV_drivers_version", Value(std::move(version)));
          f.Set("PV_drivers_up_to_date", Value(true));
          Struct other;
          other.Set("feature-shutdown", Value("1"));
          other.Set("feature-poweroff", Value("1"));
          other.Set("feature-reboot", Value("1"));
          other.Set("has-vendor-device", Value("0"));
          f.Set("other", Value(std::move(other)));
        }
        std::string gm = txn.Create("VM_guest_metrics", std::move(f));
        (void)txn.Set("VM", vm, "guest_metrics", Value(gm));
      });
    });
  }
  if (g->action != GuestScript::Action::kNone) {
    Guest what = g->action == GuestScript::Action::kCrash  ? Guest::kCrash
                 : g->action == GuestScript::Action::kHalt ? Guest::kHalt
                                                           : Guest::kReboot;
    scheduler_.Schedule(std::chrono::milliseconds(g->action_after_ms), vm,
                        [this, vm, domid, what] { OnGuest(vm, domid, what); });
  }
}

void VmLifecycle::OnGuest(const std::string& vm, int64_t domid, Guest what) {
  std::string action = db_.Read([&](const Database::Txn& txn) -> std::string {
    const ObjectRow* row = txn.Find("VM", vm);
    if (row == nullptr || IntField(row->record, "domid") != domid ||
        StrField(row->record, "power_state") != "Running") {
      return "";
    }
    switch (what) {
      case Guest::kCrash:
        return StrField(row->record, "actions_after_crash");
      case Guest::kHalt:
        return StrField(row->record, "actions_after_shutdown");
      case Guest::kReboot:
        return StrField(row->record, "actions_after_reboot");
    }
    return "";
  });
  if (action.empty() || action == "preserve") {
    if (action == "preserve") {
      scheduler_.CancelGroup(vm);
      db_.Write(
          [&](Database::Txn& txn) { (void)txn.Set("VM", vm, "power_state", Value("Paused")); });
    }
    return;
  }
  if (action == "destroy" || action == "coredump_and_destroy") {
    DestroyDomain(vm);
  } else {
    RebootDomain(vm);  // restart, coredump_and_restart, rename_restart
  }
}

Result<void> VmLifecycle::Start(const Op& op, const std::string& vm, const std::string& host,
                                bool paused) {
  FRUIX_ASSIGN_OR_RETURN(std::string op_ref, Begin(op, vm, host.empty() ? "start" : "start_on"));
  auto chosen = db_.Read([&](const Database::Txn& txn) { return ChooseHost(txn, vm, host); });
  if (!chosen.ok()) {
    End(vm, op_ref);
    return chosen.error();
  }
  if (auto w = Wait(op, vm); !w.ok()) {
    End(vm, op_ref);
    return w;
  }
  BootDomain(vm, *chosen, paused);
  End(vm, op_ref);
  return Ok();
}

Result<void> VmLifecycle::CleanShutdown(const Op& op, const std::string& vm) {
  FRUIX_ASSIGN_OR_RETURN(std::string op_ref, Begin(op, vm, "clean_shutdown"));
  if (auto w = Wait(op, vm); !w.ok()) {
    End(vm, op_ref);
    return w;
  }
  DestroyDomain(vm);
  End(vm, op_ref);
  return Ok();
}

Result<void> VmLifecycle::HardShutdown(const Op& op, const std::string& vm) {
  FRUIX_ASSIGN_OR_RETURN(std::string op_ref, Begin(op, vm, "hard_shutdown"));
  DestroyDomain(vm);
  End(vm, op_ref);
  return Ok();
}

Result<void> VmLifecycle::Shutdown(const Op& op, const std::string& vm) {
  auto clean = db_.Read([&](const Database::Txn& txn) -> bool {
    const ObjectRow* row = txn.Find("VM", vm);
    return row != nullptr && StrField(row->record, "power_state") == "Running" &&
           (EffectiveDomainType(row->record) != "hvm" || HasPvDrivers(txn, row->record));
  });
  FRUIX_ASSIGN_OR_RETURN(std::string op_ref, Begin(op, vm, "shutdown"));
  if (clean) {
    if (auto w = Wait(op, vm); !w.ok()) {
      End(vm, op_ref);
      return w;
    }
  }
  DestroyDomain(vm);
  End(vm, op_ref);
  return Ok();
}

Result<void> VmLifecycle::CleanReboot(const Op& op, const std::string& vm) {
  FRUIX_ASSIGN_OR_RETURN(std::string op_ref, Begin(op, vm, "clean_reboot"));
  if (auto w = Wait(op, vm); !w.ok()) {
    End(vm, op_ref);
    return w;
  }
  RebootDomain(vm);
  End(vm, op_ref);
  return Ok();
}

Result<void> VmLifecycle::HardReboot(const Op& op, const std::string& vm) {
  FRUIX_ASSIGN_OR_RETURN(std::string op_ref, Begin(op, vm, "hard_reboot"));
  RebootDomain(vm);
  End(vm, op_ref);
  return Ok();
}

Result<void> VmLifecycle::Pause(const Op& op, const std::string& vm) {
  FRUIX_ASSIGN_OR_RETURN(std::string op_ref, Begin(op, vm, "pause"));
  db_.Write([&](Database::Txn& txn) { (void)txn.Set("VM", vm, "power_state", Value("Paused")); });
  End(vm, op_ref);
  return Ok();
}

Result<void> VmLifecycle::Unpause(const Op& op, const std::string& vm) {
  FRUIX_ASSIGN_OR_RETURN(std::string op_ref, Begin(op, vm, "unpause"));
  int64_t domid = db_.Write([&](Database::Txn& txn) -> int64_t {
    const ObjectRow* row = txn.Find("VM", vm);
    if (row == nullptr || StrField(row->record, "power_state") != "Paused") return -1;
    (void)txn.Set("VM", vm, "power_state", Value("Running"));
    return IntField(row->record, "domid");
  });
  End(vm, op_ref);
  // A domain that never ran (start_paused) starts its script now; a paused-after-running one
  // resumes without replaying it.
  bool started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = script_started_.find(vm);
    started = it != script_started_.end() && it->second == domid;
  }
  if (domid >= 0 && !started) RunScript(vm, domid);
  return Ok();
}

void VmLifecycle::AdoptRunning(const std::string& vm, const std::string& host) {
  db_.Write([&](Database::Txn& txn) { (void)txn.Set("VM", vm, "power_state", Value("Halted")); });
  int64_t domid = -1;
  size_t scrollback = 0;
  db_.Write([&](Database::Txn& txn) {
    const ObjectRow* row = txn.Find("VM", vm);
    const ObjectRow* h = txn.Find("host", host);
    if (row == nullptr || h == nullptr) return;
    Struct rec = row->record;
    domid = NextDomid(host);
    Struct f;
    f.Set("power_state", Value("Running"));
    f.Set("resident_on", Value(host));
    f.Set("domid", Value(domid));
    f.Set("consoles", Value(CreateConsoles(txn, vm, rec, StrField(h->record, "address"))));
    f.Set("allowed_operations", Value(AllowedOperations("Running", false, false)));
    (void)txn.SetMany("VM", vm, f);
    (void)txn.AddToSet("host", host, "resident_VMs", Value(vm));
    SetDevicesAttached(txn, rec, true);
    const GuestScript* g = config_.GuestFor(StrField(rec, "uuid"));
    scrollback = g != nullptr ? g->console_scrollback_bytes : 0;
  });
  if (domid >= 0) consoles_.Open(vm, scrollback);
}

}  // namespace fruix::sim
