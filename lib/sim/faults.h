// sim::FaultInjector — rules that make the simulator misbehave on purpose, loaded from the
// fixture ("faults": [...]) or added through the admin endpoint (POST /faults).
//
// A rule names a call and fires on the `nth` matching call (1-based), or on every call from the
// nth on when `repeat` is true. Call names:
//   "VM.start", "Async.VM.start"   XenAPI calls (as canonical Class.method; the Class_method
//                                  spelling counts as the same call); "Async.*", "VM.*", "*"
//                                  match by prefix;
//   "import_raw_vdi"               each PUT /import_raw_vdi that reaches the body (after its 200
//                                  head);
//   "console"                      each CONNECT /console that reaches the proxy.
// Actions (one per rule, chosen by the JSON member present):
//   {"error": ["CODE", "param", ...]}   the call fails with that XenAPI error (after the session
//                                       check; TOO_MANY_PENDING_TASKS on "Async.*" this way). On
//                                       "import_raw_vdi": the import fails as when xapi cannot
//                                       attach the VDI to dom0 (VBD.plug raising, e.g.
//                                       ["TOO_MANY_PENDING_TASKS"] or SM's ["VDI_IN_USE"]): after
//                                       the 200 head the task fails with that error, the body is
//                                       not read and the connection is reset;
//   {"delay_ms": N}                     the response is sent N ms late;
//   {"expire_session": true}            the caller's session is destroyed before the call runs
//                                       (the call then fails SESSION_INVALID);
//   {"cut_after_bytes": N}              an import reads N body bytes, then the connection is
//                                       reset (TCP RST, as a cut cable looks to the client) and
//                                       the task fails VDI_IO_ERROR;
//   {"task_pending_ms": N}              an import's task stays pending N ms after its body ended
//                                       (xapi stuck tearing the import down); the verdict is
//                                       recorded only then. task.cancel does not shorten it
//                                       (xapi's import does not watch for cancellation); the VDI
//                                       is free as soon as the body ended. Combines with a
//                                       cut_after_bytes rule on the same import;
//   {"device_error": true}              an import reads (and writes) the whole body, then the
//                                       device reports an I/O error: the task fails VDI_IO_ERROR
//                                       ["Device I/O errors"] after a complete body and an orderly
//                                       close;
//   {"corrupt_block": N}                an import succeeds but block N (2 MiB, from 0) of the VDI
//                                       then has its first byte inverted (silent corruption, seen
//                                       only by reading the VDI back);
//   {"limit_console_sessions": true}    the CONNECT behaves as if pool.limit_console_sessions
//                                       were set (503 when the VM already has a connection).
// JSON form: {"method": "...", "nth": 1, "repeat": false, <action>}; "nth" defaults to 1.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"

namespace fruix::sim {

struct FaultRule {
  enum class Action {
    kError,
    kDelay,
    kExpireSession,
    kCutImport,
    kConsoleLimit,
    kTaskPending,
    kDeviceError,
    kCorruptBlock,
  };
  uint64_t id = 0;  // assigned by Add()
  std::string method;
  uint64_t nth = 1;
  bool repeat = false;
  Action action = Action::kError;
  std::vector<std::string> error;  // kError: [code, params...]
  int64_t delay_ms = 0;            // kDelay
  uint64_t cut_after_bytes = 0;    // kCutImport
  int64_t task_pending_ms = 0;     // kTaskPending
  uint64_t corrupt_block = 0;      // kCorruptBlock
  uint64_t seen = 0;               // matching calls so far
  uint64_t fired = 0;              // times the rule fired
};

// Parses one rule from its JSON form; kInvalidArgument says what is wrong.
Result<FaultRule> ParseFaultRule(std::string_view json);
std::string FaultRuleToJson(const FaultRule& rule);

class FaultInjector {
 public:
  struct Hit {
    std::optional<std::vector<std::string>> error;
    int64_t delay_ms = 0;
    bool expire_session = false;
    std::optional<uint64_t> cut_after_bytes;
    bool limit_console_sessions = false;
    int64_t task_pending_ms = 0;
    bool device_error = false;
    std::optional<uint64_t> corrupt_block;
  };

  uint64_t Add(FaultRule rule);
  void Clear();
  std::vector<FaultRule> List() const;
  // Counts one call of `call` against every matching rule and returns what fired.
  Hit OnCall(std::string_view call);

 private:
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::vector<FaultRule> rules_;
};

}  // namespace fruix::sim
