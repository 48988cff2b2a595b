// sim::MethodTable — the XenAPI methods the simulator answers, by wire name, with the facts the
// dispatcher needs before calling them: how many parameters (xapi counts the parameters without
// defaults; trailing defaulted ones may be omitted), whether the first parameter is a session,
// and whether an Async.* form exists. Filled once at start-up, read-only afterwards.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"
#include "lib/sim/request_context.h"
#include "lib/xenapi/value.h"

namespace fruix::sim {

struct CallContext {
  const RequestContext& request;
  std::string session;  // the validated session ("" for session-less methods)
  std::string task;     // the task an Async call runs under ("" when synchronous)
  std::string name;     // the method as called, without "Async." (for error messages)
};

// Receives the parameters after the session, padded with defaults. Returns the result value
// (void methods return "") or a XenAPI error (Error::Xapi).
using MethodFn = std::function<Result<xenapi::Value>(CallContext& ctx, const xenapi::Array& args)>;

struct MethodSpec {
  std::string name;                     // "VM.start"
  size_t required = 0;                  // parameters after the session without defaults
  std::vector<xenapi::Value> defaults;  // defaults of the trailing optional parameters
  bool session = true;
  bool async = false;
  MethodFn fn;
};

class MethodTable {
 public:
  void Add(MethodSpec spec);
  // Exact wire name, or xapi's alternative spelling "Class_method" when `allow_alternative`.
  const MethodSpec* Find(std::string_view name, bool allow_alternative) const;
  // Every "Class.method", sorted (system.listMethods).
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, MethodSpec, std::less<>> methods_;
  std::map<std::string, std::string, std::less<>> alternatives_;  // "VM_start" -> "VM.start"
};

}  // namespace fruix::sim
