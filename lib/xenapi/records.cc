#include "lib/xenapi/records.h"

#include <strings.h>

#include <optional>

namespace fruix::xenapi {
namespace {

template <typename E, size_t N>
Result<E> ParseEnum(std::string_view what, std::string_view s,
                    const std::pair<E, std::string_view> (&table)[N]) {
  for (const auto& [e, name] : table) {
    if (name.size() == s.size() && strncasecmp(name.data(), s.data(), s.size()) == 0) return e;
  }
  return Error::Protocol("unknown " + std::string(what) + " '" + std::string(s.substr(0, 80)) +
                         "'");
}

template <typename E, size_t N>
std::string_view EnumName(E e, const std::pair<E, std::string_view> (&table)[N]) {
  for (const auto& [v, name] : table) {
    if (v == e) return name;
  }
  return "?";
}

constexpr std::pair<VmPowerState, std::string_view> kPowerStates[] = {
    {VmPowerState::kHalted, "Halted"},
    {VmPowerState::kPaused, "Paused"},
    {VmPowerState::kRunning, "Running"},
    {VmPowerState::kSuspended, "Suspended"}};
constexpr std::pair<TaskStatus, std::string_view> kTaskStatuses[] = {
    {TaskStatus::kPending, "pending"},
    {TaskStatus::kSuccess, "success"},
    {TaskStatus::kFailure, "failure"},
    {TaskStatus::kCancelling, "cancelling"},
    {TaskStatus::kCancelled, "cancelled"}};
constexpr std::pair<VbdMode, std::string_view> kVbdModes[] = {{VbdMode::kReadOnly, "RO"},
                                                              {VbdMode::kReadWrite, "RW"}};
constexpr std::pair<VbdType, std::string_view> kVbdTypes[] = {
    {VbdType::kCd, "CD"}, {VbdType::kDisk, "Disk"}, {VbdType::kFloppy, "Floppy"}};
constexpr std::pair<ConsoleProtocol, std::string_view> kConsoleProtocols[] = {
    {ConsoleProtocol::kVt100, "vt100"},
    {ConsoleProtocol::kRfb, "rfb"},
    {ConsoleProtocol::kRdp, "rdp"}};

// Reads typed fields out of a record struct, remembering the first problem. Each accessor
// returns a default value after an error, so a parser reads every field and checks Finish() once.
class Reader {
 public:
  Reader(std::string_view cls, const Value& v) : cls_(cls) {
    if (!v.is_struct()) {
      Fail("", "expected a struct, got " + v.DebugString(80));
    } else {
      s_ = &v.structure();
    }
  }

  std::string Str(std::string_view f) { return Read<std::string>(f, true, {}, &Value::ToString); }
  std::string OptStr(std::string_view f) {
    return Read<std::string>(f, false, {}, &Value::ToString);
  }
  Uuid UuidField() { return Uuid(Str("uuid")); }
  int64_t Int(std::string_view f) { return Read<int64_t>(f, true, 0, &Value::ToInt); }
  int64_t OptInt(std::string_view f) { return Read<int64_t>(f, false, 0, &Value::ToInt); }
  bool Bool(std::string_view f) { return Read<bool>(f, true, false, &Value::ToBool); }
  bool OptBool(std::string_view f) { return Read<bool>(f, false, false, &Value::ToBool); }
  double Double(std::string_view f) { return Read<double>(f, true, 0.0, &Value::ToDouble); }
  OpaqueRef Ref(std::string_view f) { return OpaqueRef(Str(f)); }
  std::vector<std::string> Strings(std::string_view f) {
    return Read<std::vector<std::string>>(f, true, {}, &Value::ToStringArray);
  }
  RefList Refs(std::string_view f, bool required = true) {
    RefList out;
    for (auto& s : Read<std::vector<std::string>>(f, required, {}, &Value::ToStringArray)) {
      out.emplace_back(std::move(s));
    }
    return out;
  }
  StringMap Map(std::string_view f, bool required = true) {
    return Read<StringMap>(f, required, {}, &Value::ToStringMap);
  }
  template <typename E>
  E Enum(std::string_view f, Result<E> (*parse)(std::string_view), E dflt) {
    std::string s = Str(f);
    if (err_) return dflt;
    auto e = parse(s);
    if (!e.ok()) {
      Fail(f, e.error().message());
      return dflt;
    }
    return *e;
  }

  Result<void> Finish() {
    if (err_) return *err_;
    return Ok();
  }

 private:
  template <typename T>
  T Read(std::string_view f, bool required, T dflt, Result<T> (Value::*conv)() const) {
    if (err_ || s_ == nullptr) return dflt;
    const Value* v = s_->Find(f);
    if (v == nullptr) {
      if (required) Fail(f, "missing");
      return dflt;
    }
    auto r = (v->*conv)();
    if (!r.ok()) {
      Fail(f, r.error().message());
      return dflt;
    }
    return std::move(r).value();
  }

  void Fail(std::string_view field, std::string why) {
    if (err_) return;
    std::string where = "malformed " + std::string(cls_) + " record";
    if (!field.empty()) where += ": field '" + std::string(field) + "'";
    err_ = Error::Protocol(where + ": " + why);
  }

  std::string_view cls_;
  const Struct* s_ = nullptr;
  std::optional<Error> err_;
};

template <typename R>
Result<R> Done(Reader& r, R rec) {
  FRUIX_RETURN_IF_ERROR(r.Finish());
  return rec;
}

}  // namespace

std::string_view ToString(VmPowerState s) { return EnumName(s, kPowerStates); }
std::string_view ToString(TaskStatus s) { return EnumName(s, kTaskStatuses); }
std::string_view ToString(VbdMode m) { return EnumName(m, kVbdModes); }
std::string_view ToString(VbdType t) { return EnumName(t, kVbdTypes); }
std::string_view ToString(ConsoleProtocol p) { return EnumName(p, kConsoleProtocols); }
Result<VmPowerState> ParseVmPowerState(std::string_view s) {
  return ParseEnum("VM power_state", s, kPowerStates);
}
Result<TaskStatus> ParseTaskStatus(std::string_view s) {
  return ParseEnum("task status", s, kTaskStatuses);
}
Result<VbdMode> ParseVbdMode(std::string_view s) { return ParseEnum("VBD mode", s, kVbdModes); }
Result<VbdType> ParseVbdType(std::string_view s) { return ParseEnum("VBD type", s, kVbdTypes); }
Result<ConsoleProtocol> ParseConsoleProtocol(std::string_view s) {
  return ParseEnum("console protocol", s, kConsoleProtocols);
}

Result<VmRecord> VmRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  VmRecord x;
  x.uuid = r.UuidField();
  x.name_label = r.Str("name_label");
  x.power_state = r.Enum("power_state", &ParseVmPowerState, VmPowerState::kHalted);
  x.is_a_template = r.Bool("is_a_template");
  x.is_control_domain = r.OptBool("is_control_domain");
  x.resident_on = r.Ref("resident_on");
  x.domid = r.Int("domid");
  x.vbds = r.Refs("VBDs");
  x.vifs = r.Refs("VIFs");
  x.consoles = r.Refs("consoles");
  x.guest_metrics = r.Ref("guest_metrics");
  x.other_config = r.Map("other_config");
  x.domain_type = r.OptStr("domain_type");
  x.hvm_boot_policy = r.OptStr("HVM_boot_policy");
  x.pv_bootloader = r.OptStr("PV_bootloader");
  x.platform = r.Map("platform", false);
  return Done(r, std::move(x));
}

Result<VdiRecord> VdiRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  VdiRecord x;
  x.uuid = r.UuidField();
  x.name_label = r.Str("name_label");
  x.virtual_size = r.Int("virtual_size");
  x.sr = r.Ref("SR");
  x.vbds = r.Refs("VBDs");
  x.read_only = r.Bool("read_only");
  x.sharable = r.OptBool("sharable");
  x.type = r.Str("type");
  x.other_config = r.Map("other_config");
  return Done(r, std::move(x));
}

Result<VbdRecord> VbdRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  VbdRecord x;
  x.uuid = r.UuidField();
  x.vm = r.Ref("VM");
  x.vdi = r.Ref("VDI");
  x.userdevice = r.Str("userdevice");
  x.device = r.OptStr("device");
  x.bootable = r.Bool("bootable");
  x.mode = r.Enum("mode", &ParseVbdMode, VbdMode::kReadWrite);
  x.type = r.Enum("type", &ParseVbdType, VbdType::kDisk);
  x.empty = r.OptBool("empty");
  x.currently_attached = r.Bool("currently_attached");
  x.other_config = r.Map("other_config", false);
  return Done(r, std::move(x));
}

Result<VifRecord> VifRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  VifRecord x;
  x.uuid = r.UuidField();
  x.device = r.Str("device");
  x.network = r.Ref("network");
  x.vm = r.Ref("VM");
  x.mac = r.Str("MAC");
  x.mtu = r.Int("MTU");
  x.currently_attached = r.OptBool("currently_attached");
  return Done(r, std::move(x));
}

Result<NetworkRecord> NetworkRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  NetworkRecord x;
  x.uuid = r.UuidField();
  x.name_label = r.Str("name_label");
  x.bridge = r.Str("bridge");
  x.mtu = r.Int("MTU");
  x.other_config = r.Map("other_config", false);
  return Done(r, std::move(x));
}

Result<SrRecord> SrRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  SrRecord x;
  x.uuid = r.UuidField();
  x.name_label = r.Str("name_label");
  x.type = r.Str("type");
  x.content_type = r.OptStr("content_type");
  x.shared = r.Bool("shared");
  x.pbds = r.Refs("PBDs");
  x.vdis = r.Refs("VDIs", false);
  return Done(r, std::move(x));
}

Result<PbdRecord> PbdRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  PbdRecord x;
  x.uuid = r.UuidField();
  x.host = r.Ref("host");
  x.sr = r.Ref("SR");
  x.currently_attached = r.Bool("currently_attached");
  return Done(r, std::move(x));
}

Result<HostRecord> HostRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  HostRecord x;
  x.uuid = r.UuidField();
  x.name_label = r.Str("name_label");
  x.address = r.Str("address");
  x.enabled = r.Bool("enabled");
  x.api_version_major = r.OptInt("API_version_major");
  x.api_version_minor = r.OptInt("API_version_minor");
  return Done(r, std::move(x));
}

Result<PoolRecord> PoolRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  PoolRecord x;
  x.uuid = r.UuidField();
  x.name_label = r.Str("name_label");
  x.master = r.Ref("master");
  x.other_config = r.Map("other_config", false);
  return Done(r, std::move(x));
}

Result<TaskRecord> TaskRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  TaskRecord x;
  x.uuid = r.UuidField();
  x.name_label = r.Str("name_label");
  x.status = r.Enum("status", &ParseTaskStatus, TaskStatus::kPending);
  x.progress = r.Double("progress");
  x.result = r.Str("result");
  x.error_info = r.Strings("error_info");
  x.other_config = r.Map("other_config", false);
  return Done(r, std::move(x));
}

Result<ConsoleRecord> ConsoleRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  ConsoleRecord x;
  x.uuid = r.UuidField();
  x.protocol = r.Enum("protocol", &ParseConsoleProtocol, ConsoleProtocol::kRfb);
  x.location = r.Str("location");
  x.vm = r.Ref("VM");
  return Done(r, std::move(x));
}

Result<GuestMetricsRecord> GuestMetricsRecord::Parse(const Value& v) {
  Reader r(kClass, v);
  GuestMetricsRecord x;
  x.uuid = r.UuidField();
  x.networks = r.Map("networks");
  x.os_version = r.Map("os_version", false);
  x.live = r.OptBool("live");
  return Done(r, std::move(x));
}

}  // namespace fruix::xenapi
