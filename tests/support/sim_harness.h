// testing::SimHarness — an in-process fruix-xapi-sim for tests.
//
//   auto sim = SimHarness::Start();                    // default fixture (below), ephemeral ports
//   ASSERT_NE(sim, nullptr);
//   std::string url = sim->HttpUrl();                  // "http://127.0.0.1:<port>/"
//   auto session = sim->Login();                       // Result<std::string>
//   auto vm = sim->CallOk("VM.get_by_uuid", {*session, SimHarness::kPvVm});
//   sim->AdminPost("/faults", R"({"method":"VM.start","error":["X"]})");
//
// It starts a sim::Simulator on the fixture's loopback host addresses (127.0.0.1 = master,
// 127.0.0.2 = pool member in the default fixture) with ephemeral HTTP, HTTPS and admin ports,
// and a fresh state directory that is deleted again by the destructor. Call()/CallOk() speak
// XML-RPC over plain HTTP with a raw socket client (no dependency on lib/xenapi's transport).
//
// The default fixture is a small pool with fast scripted guests (delays of a few ms), exposed
// as the k* uuid constants. Tests that need other shapes pass their own fixture JSON.
// A harness is used from one test thread; the Simulator itself is thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lib/core/result.h"
#include "lib/sim/simulator.h"
#include "lib/xenapi/value.h"
#include "tests/support/sim_raw_http.h"

namespace fruix::testing {

class SimHarness {
 public:
  // Default fixture uuids.
  static constexpr const char* kPool = "aaaaaaaa-0000-4000-8000-000000000001";
  static constexpr const char* kMaster = "aaaaaaaa-0000-4000-8000-000000000011";    // 127.0.0.1
  static constexpr const char* kMember = "aaaaaaaa-0000-4000-8000-000000000012";    // 127.0.0.2
  static constexpr const char* kNetwork = "aaaaaaaa-0000-4000-8000-000000000021";   // MTU 1500
  static constexpr const char* kSharedSr = "aaaaaaaa-0000-4000-8000-000000000031";  // all hosts
  static constexpr const char* kLocalSr = "aaaaaaaa-0000-4000-8000-000000000032";   // member only
  static constexpr const char* kVdi = "aaaaaaaa-0000-4000-8000-000000000041";       // 8 MiB, shared
  static constexpr const char* kLocalVdi = "aaaaaaaa-0000-4000-8000-000000000042";  // 8 MiB, local
  static constexpr const char* kReadOnlyVdi = "aaaaaaaa-0000-4000-8000-000000000043";
  static constexpr const char* kSpareVdi = "aaaaaaaa-0000-4000-8000-000000000044";  // 4 MiB, unused
  // PV-style guest: vt100 console printing kPvConsoleLines 5 ms apart, no guest tools.
  static constexpr const char* kPvVm = "aaaaaaaa-0000-4000-8000-000000000051";
  // HVM guest with tools: guest metrics IP 127.0.0.6 20 ms after boot; rfb console only.
  static constexpr const char* kHvmVm = "aaaaaaaa-0000-4000-8000-000000000052";
  // HVM guest without tools that crashes 30 ms after boot (actions_after_crash = destroy).
  static constexpr const char* kCrashVm = "aaaaaaaa-0000-4000-8000-000000000053";
  // Guest whose power operations take 300 ms (for OTHER_OPERATION_IN_PROGRESS / cancel tests).
  static constexpr const char* kSlowVm = "aaaaaaaa-0000-4000-8000-000000000054";
  static constexpr const char* kTemplate = "aaaaaaaa-0000-4000-8000-000000000055";
  static constexpr const char* kUsername = "root";
  static constexpr const char* kPassword = "password";
  static constexpr const char* kPvFinalLine = "bound to 127.0.0.5 -- renewal in 600 seconds.";

  static std::string DefaultFixture();

  // Starts the simulator; on failure reports a gtest failure and returns nullptr.
  static std::unique_ptr<SimHarness> Start(std::string fixture_json = DefaultFixture());
  ~SimHarness();

  sim::Simulator& sim() { return *sim_; }
  sim::Database& db() { return sim_->db(); }
  uint16_t http_port() const { return sim_->http_port(); }
  uint16_t https_port() const { return sim_->https_port(); }
  uint16_t admin_port() const { return sim_->admin_port(); }
  const std::string& tls_fingerprint() const { return sim_->tls_fingerprint_sha256(); }
  const std::string& state_dir() const { return state_dir_; }
  // Base URLs of a host by address (default: the master, 127.0.0.1).
  std::string HttpUrl(const std::string& address = "127.0.0.1") const;
  std::string HttpsUrl(const std::string& address = "127.0.0.1") const;

  // XML-RPC over plain HTTP to `address`: the decoded methodResponse value (the Status envelope,
  // or the bare array of system.listMethods).
  Result<xenapi::Value> Call(std::string_view method, const xenapi::Array& params,
                             const std::string& address = "127.0.0.1");
  // Call() + unwrap: the Value on Success, Error::Xapi on Failure.
  Result<xenapi::Value> CallOk(std::string_view method, const xenapi::Array& params,
                               const std::string& address = "127.0.0.1");
  // session.login_with_password(root, password, "2.21", "fruix-test") on the master.
  Result<std::string> Login();
  // The ref of an object by uuid (aborts the test on failure).
  std::string RefOf(std::string_view cls, std::string_view uuid);
  // Waits, driven by event.from over XML-RPC (never by polling), until the record of `ref`
  // (class `cls`, e.g. "VM", "task") satisfies `pred`; returns that record. kTimeout after
  // `timeout`; kNotFound when the object is deleted while waiting.
  Result<xenapi::Struct> WaitFor(const std::string& session, std::string_view cls,
                                 const std::string& ref,
                                 const std::function<bool(const xenapi::Struct&)>& pred,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits until a task is no longer pending; returns its record.
  Result<xenapi::Struct> WaitForTask(const std::string& session, const std::string& task,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Admin endpoint: the response body; kUnavailable with the body on a non-2xx status.
  Result<std::string> AdminGet(std::string_view path);
  Result<std::string> AdminPost(std::string_view path, std::string_view json_body);
  Result<std::string> AdminDelete(std::string_view path);

 private:
  SimHarness() = default;
  Result<std::string> Admin(std::string_view method, std::string_view path, std::string_view body);
  std::string state_dir_;
  std::unique_ptr<sim::Simulator> sim_;
};

}  // namespace fruix::testing
