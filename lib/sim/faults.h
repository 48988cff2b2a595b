// sim::FaultInjector — rules that make the simulator misbehave on purpose, loaded from the
// fixture ("faults": [...]) or added through the admin endpoint (POST /faults).
//
// A rule names a call and fires on the `nth` matching call (1-based), or on every call from the
// nth on when `repeat` is true. Call names:
//   "VM.start", "Async.VM.start"   XenAPI calls (as canonical Class.method; the Class_method
//                                  spelling counts as the same call); "Async.*", "VM.*", "*"
//                                  match by prefix;
//   "import_raw_vdi"               each PUT /import_raw_vdi that reaches the body;
//   "console"                      each CONNECT /console that reaches the proxy.
// Actions (one per rule, chosen by the JSON member present):
//   {"error": ["CODE", "param", ...]}   the call fails with that XenAPI error (after the session
//                                       check; TOO_MANY_PENDING_TASKS on "Async.*" this way);
//   {"delay_ms": N}                     the response is sent N ms late;
//   {"expire_session": true}            the caller's session is destroyed before the call runs
//                                       (the call then fails SESSION_INVALID);
//   {"cut_after_bytes": N}              an import reads N body bytes, then the connection is
//                                       closed and the task fails VDI_IO_ERROR;
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
  enum class Action { kError, kDelay, kExpireSession, kCutImport, kConsoleLimit };
  uint64_t id = 0;  // assigned by Add()
  std::string method;
  uint64_t nth = 1;
  bool repeat = false;
  Action action = Action::kError;
  std::vector<std::string> error;  // kError: [code, params...]
  int64_t delay_ms = 0;            // kDelay
  uint64_t cut_after_bytes = 0;    // kCutImport
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
