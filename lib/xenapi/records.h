// Typed XenAPI records: the fields fruixd reads from each xapi class, parsed from get_record,
// get_all_records and event.from snapshots. Plain value types (no thread affinity).
//
// Every record type R has:
//   static constexpr std::string_view kClass;   the class's wire name ("VM", "VM_guest_metrics")
//   static Result<R> Parse(const Value& v);     from a record struct
// Parsing is lenient about encoding (ints and bools as strings, enum case) and strict about shape:
// a missing required field or one of the wrong type is a kProtocol error naming class and field.
// Fields marked "optional" are absent on some xapi versions and default as stated.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/ids.h"
#include "lib/core/result.h"
#include "lib/xenapi/value.h"

namespace fruix::xenapi {

using StringMap = std::map<std::string, std::string>;
using RefList = std::vector<OpaqueRef>;

// ---- Enums (wire spelling in comments; parsing is case-insensitive) ----
enum class VmPowerState { kHalted, kPaused, kRunning, kSuspended };  // Halted Paused ...
enum class TaskStatus { kPending, kSuccess, kFailure, kCancelling, kCancelled };  // pending ...
enum class VbdMode { kReadOnly, kReadWrite };                                     // RO RW
enum class VbdType { kCd, kDisk, kFloppy };                                       // CD Disk Floppy
enum class ConsoleProtocol { kVt100, kRfb, kRdp };                                // vt100 rfb rdp

std::string_view ToString(VmPowerState s);
std::string_view ToString(TaskStatus s);
std::string_view ToString(VbdMode m);
std::string_view ToString(VbdType t);
std::string_view ToString(ConsoleProtocol p);
// kProtocol for a value outside the enum.
Result<VmPowerState> ParseVmPowerState(std::string_view s);
Result<TaskStatus> ParseTaskStatus(std::string_view s);
Result<VbdMode> ParseVbdMode(std::string_view s);
Result<VbdType> ParseVbdType(std::string_view s);
Result<ConsoleProtocol> ParseConsoleProtocol(std::string_view s);

// True for success, failure and cancelled.
inline bool IsFinished(TaskStatus s) {
  return s == TaskStatus::kSuccess || s == TaskStatus::kFailure || s == TaskStatus::kCancelled;
}

// ---- Records ----
struct VmRecord {
  static constexpr std::string_view kClass = "VM";
  Uuid uuid;
  std::string name_label;
  VmPowerState power_state = VmPowerState::kHalted;
  bool is_a_template = false;
  bool is_control_domain = false;
  OpaqueRef resident_on;  // null when not running
  int64_t domid = -1;     // -1 when halted
  RefList vbds;
  RefList vifs;
  RefList consoles;
  OpaqueRef guest_metrics;  // null without a guest agent
  StringMap other_config;
  // HVM hints. domain_type: "hvm", "pv", "pvh", "pv_in_pvh", "unspecified"; optional, "".
  std::string domain_type;
  std::string hvm_boot_policy;  // HVM_boot_policy; optional, ""; non-empty means HVM
  std::string pv_bootloader;    // PV_bootloader; optional, ""
  StringMap platform;           // optional, {}
  static Result<VmRecord> Parse(const Value& v);
};

struct VdiRecord {
  static constexpr std::string_view kClass = "VDI";
  Uuid uuid;
  std::string name_label;
  int64_t virtual_size = 0;  // bytes
  OpaqueRef sr;
  RefList vbds;
  bool read_only = false;
  bool sharable = false;  // optional, false
  std::string type;       // "user", "system", ... (kept as text: the enum grows across versions)
  StringMap other_config;
  static Result<VdiRecord> Parse(const Value& v);
};

struct VbdRecord {
  static constexpr std::string_view kClass = "VBD";
  Uuid uuid;
  OpaqueRef vm;
  OpaqueRef vdi;  // null for an empty CD drive
  std::string userdevice;
  std::string device;  // "xvda" once attached; optional, ""
  bool bootable = false;
  VbdMode mode = VbdMode::kReadWrite;
  VbdType type = VbdType::kDisk;
  bool empty = false;
  bool currently_attached = false;
  StringMap other_config;  // optional, {}
  static Result<VbdRecord> Parse(const Value& v);
};

struct VifRecord {
  static constexpr std::string_view kClass = "VIF";
  Uuid uuid;
  std::string device;  // "0", "1", ...
  OpaqueRef network;
  OpaqueRef vm;
  std::string mac;
  int64_t mtu = 0;
  bool currently_attached = false;
  static Result<VifRecord> Parse(const Value& v);
};

struct NetworkRecord {
  static constexpr std::string_view kClass = "network";
  Uuid uuid;
  std::string name_label;
  std::string bridge;
  int64_t mtu = 0;
  StringMap other_config;  // optional, {}
  static Result<NetworkRecord> Parse(const Value& v);
};

struct SrRecord {
  static constexpr std::string_view kClass = "SR";
  Uuid uuid;
  std::string name_label;
  std::string type;          // "ext", "lvm", "nfs", ...
  std::string content_type;  // optional, ""
  bool shared = false;
  RefList pbds;
  RefList vdis;  // optional, {}
  static Result<SrRecord> Parse(const Value& v);
};

struct PbdRecord {
  static constexpr std::string_view kClass = "PBD";
  Uuid uuid;
  OpaqueRef host;
  OpaqueRef sr;
  bool currently_attached = false;
  static Result<PbdRecord> Parse(const Value& v);
};

struct HostRecord {
  static constexpr std::string_view kClass = "host";
  Uuid uuid;
  std::string name_label;
  std::string address;  // may be a bare IPv6 address
  bool enabled = false;
  int64_t api_version_major = 0;  // optional, 0
  int64_t api_version_minor = 0;  // optional, 0
  static Result<HostRecord> Parse(const Value& v);
};

struct PoolRecord {
  static constexpr std::string_view kClass = "pool";
  Uuid uuid;
  std::string name_label;
  OpaqueRef master;
  StringMap other_config;  // optional, {}
  static Result<PoolRecord> Parse(const Value& v);
};

struct TaskRecord {
  static constexpr std::string_view kClass = "task";
  Uuid uuid;
  std::string name_label;
  TaskStatus status = TaskStatus::kPending;
  double progress = 0.0;                // 0.0 .. 1.0
  std::string result;                   // XML-RPC fragment ("<value>OpaqueRef:x</value>") or ""
  std::vector<std::string> error_info;  // [code, params...] on failure
  StringMap other_config;               // optional, {}
  static Result<TaskRecord> Parse(const Value& v);
};

struct ConsoleRecord {
  static constexpr std::string_view kClass = "console";
  Uuid uuid;
  ConsoleProtocol protocol = ConsoleProtocol::kRfb;
  std::string location;  // "https://<host>/console?uuid=<uuid>"
  OpaqueRef vm;
  static Result<ConsoleRecord> Parse(const Value& v);
};

struct GuestMetricsRecord {
  static constexpr std::string_view kClass = "VM_guest_metrics";
  Uuid uuid;
  // "<vif device>/ip", "<device>/ipv4/<n>", "<device>/ipv6/<n>" -> address (xenapi-spec.md §3.7).
  StringMap networks;
  StringMap os_version;  // optional, {}
  bool live = false;     // optional, false
  static Result<GuestMetricsRecord> Parse(const Value& v);
};

}  // namespace fruix::xenapi
