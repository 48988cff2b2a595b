// xenapi::Api — typed XenAPI calls over a Session. Stateless apart from the borrowed Session, so it
// is as thread-safe as the Session (safe from any thread); cheap to construct where needed.
//
// Two layers, both regular:
//   - Invocation builders in namespace `calls` describe one xapi call (method + args). Run them
//     synchronously with Session::Call, or as `Async.<method>` + task wait with RunAsync (tasks.h).
//   - Api methods run an invocation synchronously and decode its result. Per-class reads are
//     templates over the record types of records.h: GetByUuid<VmRecord>(uuid), GetRecord<R>(ref),
//     GetAllRecords<R>(), AddToOtherConfig<R>(ref, k, v), RemoveFromOtherConfig<R>(ref, k).
// Errors: xapi failures as Error::Xapi (e.g. UUID_INVALID, HANDLE_INVALID, VM_BAD_POWER_STATE),
// kProtocol when a result has the wrong shape, plus transport errors from the Session.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/ids.h"
#include "lib/core/result.h"
#include "lib/xenapi/records.h"
#include "lib/xenapi/session.h"
#include "lib/xenapi/value.h"

namespace fruix::xenapi {

// VBD.create's struct, exactly the member set of xenapi-spec.md §3.3 (what XO sends); `device`
// and `currently_attached` are omitted (ignored by xapi unless the VM is suspended).
struct VbdSpec {
  OpaqueRef vm;
  OpaqueRef vdi;           // OpaqueRef::Null() for an empty CD drive (then type kCd, empty true)
  std::string userdevice;  // "0", "1", ... or "autodetect"
  bool bootable = false;
  VbdMode mode = VbdMode::kReadWrite;
  VbdType type = VbdType::kDisk;
  bool empty = false;
  bool unpluggable = true;
  StringMap other_config;
};

// VIF.create's struct: the required members of xenapi-spec.md §3.4, plus locking_mode if set.
struct VifSpec {
  std::string device;  // "0", "1", ...
  OpaqueRef network;
  OpaqueRef vm;
  std::string mac;  // "aa:bb:cc:dd:ee:ff", or "" if the VM has other_config:mac_seed
  int64_t mtu = 1500;
  StringMap other_config;
  std::optional<std::string> locking_mode;  // "network_default", "locked", ...
};

namespace calls {
Invocation VmStart(const OpaqueRef& vm, bool start_paused, bool force);
Invocation VmStartOn(const OpaqueRef& vm, const OpaqueRef& host, bool start_paused, bool force);
Invocation VmCleanShutdown(const OpaqueRef& vm);
Invocation VmHardShutdown(const OpaqueRef& vm);
Invocation VbdCreate(const VbdSpec& spec);
Invocation VbdDestroy(const OpaqueRef& vbd);
Invocation VifCreate(const VifSpec& spec);
Invocation VifDestroy(const OpaqueRef& vif);
}  // namespace calls

class Api {
 public:
  explicit Api(Session& session) : session_(session) {}

  Session& session() const { return session_; }

  // ---- Any class (R is a record type from records.h) ----
  // UUID_INVALID [class, uuid] for an unknown uuid.
  template <typename R>
  Result<OpaqueRef> GetByUuid(std::string_view uuid) const {
    FRUIX_ASSIGN_OR_RETURN(Value v, session_.Call(Method<R>("get_by_uuid"), {Value(uuid)}));
    return ToRef(v, Method<R>("get_by_uuid"));
  }
  // HANDLE_INVALID [class, ref] for an unknown reference.
  template <typename R>
  Result<R> GetRecord(const OpaqueRef& ref) const {
    FRUIX_ASSIGN_OR_RETURN(Value v, session_.Call(Method<R>("get_record"), {Value(ref.str())}));
    return R::Parse(v);
  }
  template <typename R>
  Result<std::map<OpaqueRef, R>> GetAllRecords() const {
    FRUIX_ASSIGN_OR_RETURN(Value v, session_.Call(Method<R>("get_all_records"), {}));
    if (!v.is_struct()) {
      return Error::Protocol(Method<R>("get_all_records") + " returned " + v.DebugString(80));
    }
    std::map<OpaqueRef, R> out;
    for (const auto& [ref, rec] : v.structure()) {
      auto parsed = R::Parse(rec);
      if (!parsed.ok()) return parsed.error().WithContext(ref);
      out.emplace(OpaqueRef(ref), std::move(parsed).value());
    }
    return out;
  }
  // MAP_DUPLICATE_KEY if `key` is already present.
  template <typename R>
  Result<void> AddToOtherConfig(const OpaqueRef& ref, std::string_view key,
                                std::string_view value) const {
    return Void(session_.Call(Method<R>("add_to_other_config"),
                              {Value(ref.str()), Value(key), Value(value)}));
  }
  // Removing an absent key succeeds (as in xapi).
  template <typename R>
  Result<void> RemoveFromOtherConfig(const OpaqueRef& ref, std::string_view key) const {
    return Void(
        session_.Call(Method<R>("remove_from_other_config"), {Value(ref.str()), Value(key)}));
  }

  // ---- VM ----
  Result<void> VmStart(const OpaqueRef& vm, bool start_paused = false, bool force = false) const;
  Result<void> VmStartOn(const OpaqueRef& vm, const OpaqueRef& host, bool start_paused = false,
                         bool force = false) const;
  Result<void> VmCleanShutdown(const OpaqueRef& vm) const;
  Result<void> VmHardShutdown(const OpaqueRef& vm) const;
  // The userdevice numbers still free on the VM ("0", "1", ...).
  Result<std::vector<std::string>> VmGetAllowedVbdDevices(const OpaqueRef& vm) const;

  // ---- VBD / VIF ----
  Result<OpaqueRef> VbdCreate(const VbdSpec& spec) const;
  Result<void> VbdDestroy(const OpaqueRef& vbd) const;
  Result<OpaqueRef> VifCreate(const VifSpec& spec) const;
  Result<void> VifDestroy(const OpaqueRef& vif) const;

  // ---- task ----
  Result<OpaqueRef> TaskCreate(std::string_view label, std::string_view description) const;
  Result<void> TaskCancel(const OpaqueRef& task) const;
  Result<void> TaskDestroy(const OpaqueRef& task) const;

  // ---- pool ----
  // The pool's coordinator host (pool.get_master of the only pool).
  Result<OpaqueRef> PoolMaster() const;

 private:
  template <typename R>
  static std::string Method(std::string_view verb) {
    return std::string(R::kClass) + "." + std::string(verb);
  }
  static Result<void> Void(Result<Value> r) {
    if (!r.ok()) return std::move(r).error();
    return Ok();
  }
  static Result<OpaqueRef> ToRef(const Value& v, std::string_view what);

  Session& session_;
};

}  // namespace fruix::xenapi
