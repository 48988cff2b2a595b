// The admin endpoint and the faults it injects, seen through XenAPI.
#include "lib/sim/admin_handler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "tests/support/sim_harness.h"

namespace fruix::sim {
namespace {

using testing::SimHarness;
using xenapi::Value;

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    session_ = *sim_->Login();
  }
  nlohmann::json Counters() { return nlohmann::json::parse(*sim_->AdminGet("/counters")); }
  std::unique_ptr<SimHarness> sim_;
  std::string session_;
};

// Given logins, tasks and a logout, Then /counters tracks open sessions and live tasks.
TEST_F(AdminTest, CountersTrackSessionsAndTasks) {
  EXPECT_EQ(Counters()["sessions"], 1);
  auto s2 = sim_->Login();
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(Counters()["sessions"], 2);
  auto task = sim_->CallOk("task.create", {Value(session_), Value("t"), Value("")});
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(Counters()["tasks"], 1);
  EXPECT_EQ(Counters()["pending_tasks"], 1);
  ASSERT_TRUE(sim_->CallOk("session.logout", {Value(*s2)}).ok());
  EXPECT_EQ(Counters()["sessions"], 1);
}

// Given an error fault on the 2nd VM.get_all_records, Then exactly that call fails with the
// configured code and params; DELETE /faults removes it.
TEST_F(AdminTest, ErrorFaultOnNthCall) {
  ASSERT_TRUE(
      sim_->AdminPost(
              "/faults",
              R"({"method":"VM.get_all_records","nth":2,"error":["HOST_OFFLINE","OpaqueRef:h"]})")
          .ok());
  EXPECT_TRUE(sim_->CallOk("VM.get_all_records", {Value(session_)}).ok());
  auto second = sim_->CallOk("VM.get_all_records", {Value(session_)});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().xapi_description(),
            (std::vector<std::string>{"HOST_OFFLINE", "OpaqueRef:h"}));
  EXPECT_TRUE(sim_->CallOk("VM.get_all_records", {Value(session_)}).ok());
  auto rules = nlohmann::json::parse(*sim_->AdminGet("/faults"));
  EXPECT_EQ(rules[0]["fired"], 1);
  ASSERT_TRUE(sim_->AdminDelete("/faults").ok());
  EXPECT_TRUE(nlohmann::json::parse(*sim_->AdminGet("/faults")).empty());
  EXPECT_FALSE(sim_->AdminPost("/faults", R"({"method":"x"})").ok());  // no action: 400
}

// Given TOO_MANY_PENDING_TASKS on Async.*, Then Async calls fail synchronously, sync ones work.
TEST_F(AdminTest, TooManyPendingTasks) {
  ASSERT_TRUE(
      sim_->AdminPost("/faults",
                      R"({"method":"Async.*","repeat":true,"error":["TOO_MANY_PENDING_TASKS"]})")
          .ok());
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  auto r = sim_->CallOk("Async.VM.start", {Value(session_), Value(vm), Value(false), Value(false)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().xapi_description(), (std::vector<std::string>{"TOO_MANY_PENDING_TASKS"}));
  EXPECT_TRUE(
      sim_->CallOk("VM.start", {Value(session_), Value(vm), Value(false), Value(false)}).ok());
}

// Given a delay fault, Then the call's response comes that much later; an expire_session fault
// makes the call fail SESSION_INVALID.
TEST_F(AdminTest, DelayAndExpireSessionFaults) {
  ASSERT_TRUE(sim_->AdminPost("/faults", R"({"method":"pool.get_all","delay_ms":200})").ok());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(sim_->CallOk("pool.get_all", {Value(session_)}).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
  ASSERT_TRUE(
      sim_->AdminPost("/faults", R"({"method":"host.get_all","expire_session":true})").ok());
  auto r = sim_->CallOk("host.get_all", {Value(session_)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().xapi_description(), (std::vector<std::string>{"SESSION_INVALID", session_}));
}

// Given a master change, Then the old master answers HOST_IS_SLAVE with the new address.
TEST_F(AdminTest, MasterChange) {
  ASSERT_TRUE(sim_->AdminPost("/master", R"({"host":"127.0.0.2"})").ok());
  auto r = sim_->CallOk("session.login_with_password", {Value("root"), Value("password")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().xapi_description(), (std::vector<std::string>{"HOST_IS_SLAVE", "127.0.0.2"}));
  EXPECT_TRUE(
      sim_->CallOk("session.login_with_password", {Value("root"), Value("password")}, "127.0.0.2")
          .ok());
  EXPECT_FALSE(sim_->AdminPost("/master", R"({"host":"127.0.0.9"})").ok());
}

// Given a booted PV guest, Then /vms/<uuid>/console returns its transcript and /guest its
// scripted metadata.
TEST_F(AdminTest, ConsoleTranscriptAndGuestInfo) {
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  ASSERT_TRUE(
      sim_->CallOk("VM.start", {Value(session_), Value(vm), Value(false), Value(false)}).ok());
  auto guest =
      nlohmann::json::parse(*sim_->AdminGet(std::string("/vms/") + SimHarness::kPvVm + "/guest"));
  EXPECT_EQ(guest["ssh"], "127.0.0.5:2222");
  EXPECT_EQ(guest["power_state"], "Running");
  // The transcript grows as the script runs: wait for new console output through the hub
  // (event-driven) until the last scripted line is in the transcript.
  auto sub = sim_->sim().consoles().Subscribe(vm);
  ASSERT_NE(sub, nullptr);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string text = *sim_->AdminGet(std::string("/vms/") + SimHarness::kPvVm + "/console");
  while (text.find(SimHarness::kPvFinalLine) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    bool ended = false;
    (void)sub->Next(deadline, &ended);
    if (ended) break;
    text = *sim_->AdminGet(std::string("/vms/") + SimHarness::kPvVm + "/console");
  }
  sub->Cancel();
  EXPECT_NE(text.find(SimHarness::kPvFinalLine), std::string::npos) << text;
  EXPECT_FALSE(sim_->AdminGet("/vms/nope/console").ok());
}

}  // namespace
}  // namespace fruix::sim
