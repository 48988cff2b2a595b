// FakeXapi — a scripted, in-memory stand-in for xapi's XML-RPC surface, for unit tests of the
// XenAPI client (session, tasks, events). Installs itself as the handler of a FakeHttpClient.
// It is NOT the simulator (lib/sim): it only knows what these tests need.
//
// Built in:
//   session.login_with_password  -> "OpaqueRef:session-<n>" (password must match, else
//                                   SESSION_AUTHENTICATION_FAILED); session.logout
//   every other call checks the session: unknown/expired ref -> SESSION_INVALID [ref]
//   <Class>.get_record           -> the stored record, or HANDLE_INVALID [Class, ref]
//   event.from(classes, token, timeout)  with xapi's semantics: token "" returns every stored
//     object of the subscribed classes as "add"; otherwise the changes after the token, blocking
//     (on a condition variable, up to `timeout` seconds, or until the HTTP request is cancelled,
//     which returns kCancelled like CurlHttpClient) until there is one. Subscriptions: "*",
//     "<class>", "<class>/<ref>" (lower-case class names).
//   task.destroy removes the task (a "del" event); task.cancel is recorded only.
// Anything else goes to handlers registered with On(); unknown methods -> MESSAGE_METHOD_UNKNOWN.
//
// Threads: all members are safe from any thread; handlers run without the fake's lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "lib/core/result.h"
#include "lib/xenapi/codec.h"
#include "lib/xenapi/value.h"
#include "tests/support/fake_http_client.h"

namespace fruix::testing {

class FakeXapi {
 public:
  using MethodHandler = std::function<Result<xenapi::Value>(const xenapi::Array& params)>;

  explicit FakeXapi(std::string password = "secret") : password_(std::move(password)) {}

  // Routes every request of `http` to this fake.
  void Install(FakeHttpClient& http);

  // Object store. `cls` is the wire class name ("VM", "task"); Put adds or modifies (an event).
  void Put(const std::string& cls, const std::string& ref, xenapi::Struct record);
  void Delete(const std::string& cls, const std::string& ref);
  std::optional<xenapi::Struct> Get(const std::string& cls, const std::string& ref) const;

  // Registers the handler for `method` (params exclude the session ref).
  void On(const std::string& method, MethodHandler handler);
  // The next event.from calls fail with `description` (one per entry pushed).
  void FailNextEventFrom(std::vector<std::string> description);
  // Forgets every session: further calls get SESSION_INVALID.
  void ExpireSessions();

  int logins() const;
  std::vector<std::string> calls() const;  // every method received, in order
  int CountCalls(const std::string& method) const;
  // Blocks until `method` has been received at least `n` times, or `limit` passes.
  bool WaitForCalls(const std::string& method, int n,
                    std::chrono::milliseconds limit = std::chrono::seconds(10)) const;

  // Test helpers: a task record as xapi shapes it.
  static xenapi::Struct TaskRecord(const std::string& uuid, const std::string& status,
                                   const std::string& result = "",
                                   std::vector<std::string> error_info = {});

 private:
  struct Change {
    uint64_t generation;
    std::string cls;  // lower-case
    std::string op;
    std::string ref;
    std::optional<xenapi::Struct> snapshot;
  };
  Result<xenapi::Value> Dispatch(const xenapi::MethodCall& call, const std::stop_token& cancel);
  Result<xenapi::Value> EventFrom(const xenapi::Array& params, const std::stop_token& cancel);
  void RecordChange(const std::string& cls, const std::string& op, const std::string& ref,
                    std::optional<xenapi::Struct> snapshot);  // requires mu_

  std::string password_;
  mutable std::mutex mu_;
  std::condition_variable_any changed_;
  mutable std::condition_variable called_;
  std::map<std::string, std::map<std::string, xenapi::Struct>> objects_;  // cls -> ref -> record
  std::vector<Change> changes_;
  uint64_t generation_ = 0;
  std::map<std::string, MethodHandler> handlers_;
  std::vector<std::vector<std::string>> event_from_failures_;
  std::vector<std::string> sessions_;
  int logins_ = 0;
  std::vector<std::string> calls_;
};

}  // namespace fruix::testing
