// Tasks and event.from over XML-RPC against an in-process simulator.
#include "lib/sim/tasks.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <regex>

#include "lib/sim/record_util.h"
#include "lib/xenapi/codec.h"
#include "tests/support/sim_harness.h"

namespace fruix::sim {
namespace {

using testing::SimHarness;
using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

class TasksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    auto s = sim_->Login();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    session_ = *s;
  }
  Result<Value> Call(std::string_view method, Array params) {
    params.insert(params.begin(), Value(session_));
    return sim_->CallOk(method, params);
  }
  // event.from(classes, token, timeout) -> the struct.
  Struct From(std::vector<std::string> classes, const std::string& token, double timeout) {
    auto r = Call("event.from", {Value::StringArray(classes), Value(token), Value(timeout)});
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? r->structure() : Struct{};
  }
  static const Array& Events(const Struct& batch) { return batch.Find("events")->array(); }
  static std::string Token(const Struct& batch) { return batch.Find("token")->string(); }

  std::unique_ptr<SimHarness> sim_;
  std::string session_;
};

// Given task.create, When destroyed while pending, Then it is only marked (a `mod`); once its
// status is final a second destroy removes it and event.from reports `del` (no snapshot). Tokens
// have xapi's %020d,%020d form.
TEST_F(TasksTest, CreateThenDestroyProducesDelEvent) {
  auto task = Call("task.create", {Value("label"), Value("description")});
  ASSERT_TRUE(task.ok());
  Struct first = From({"task"}, "", 5.0);
  EXPECT_TRUE(std::regex_match(Token(first), std::regex("[0-9]{20},[0-9]{20}")));
  ASSERT_EQ(Events(first).size(), 1u);
  const Struct& snap = Events(first)[0].structure().Find("snapshot")->structure();
  EXPECT_EQ(StrField(snap, "status"), "pending");
  EXPECT_EQ(StrField(snap, "name_label"), "label");
  EXPECT_EQ(FloatField(snap, "progress"), 0.0);
  ASSERT_TRUE(Call("task.destroy", {*task}).ok());
  Struct marked = From({"task"}, Token(first), 5.0);
  ASSERT_EQ(Events(marked).size(), 1u);
  EXPECT_EQ(Events(marked)[0].structure().Find("operation")->string(), "mod");
  ASSERT_TRUE(Call("task.set_status", {*task, Value("success")}).ok());
  ASSERT_TRUE(Call("task.destroy", {*task}).ok());
  Struct second = From({"task"}, Token(marked), 5.0);
  ASSERT_EQ(Events(second).size(), 1u);
  const Struct& ev = Events(second)[0].structure();
  EXPECT_EQ(ev.Find("operation")->string(), "del");
  EXPECT_EQ(ev.Find("ref")->string(), task->string());
  EXPECT_EQ(ev.Find("snapshot"), nullptr);
}

// Given no change, When event.from waits 0.3 s, Then it returns an empty batch, same token.
TEST_F(TasksTest, EventFromTimesOutEmpty) {
  Struct first = From({"vm"}, "", 5.0);
  auto start = std::chrono::steady_clock::now();
  Struct second = From({"vm"}, Token(first), 0.3);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  EXPECT_TRUE(Events(second).empty());
  EXPECT_EQ(Token(second), Token(first));
}

// Given event.from blocked on another connection, When the pool's other_config is edited, Then
// it wakes with a `mod` whose snapshot shows the new key; bad tokens fail to parse.
TEST_F(TasksTest, EventFromWakesOnChange) {
  Struct first = From({"pool"}, "", 5.0);
  auto waiter = std::async(std::launch::async, [&] {
    return sim_->CallOk("event.from", {Value(session_), Value::StringArray({"pool"}),
                                       Value(Token(first)), Value(30.0)});
  });
  std::string pool = sim_->RefOf("pool", SimHarness::kPool);
  ASSERT_TRUE(Call("pool.add_to_other_config", {Value(pool), Value("fruix"), Value("1")}).ok());
  ASSERT_EQ(waiter.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = waiter.get();
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(Events(r->structure()).size(), 1u);
  const Struct& ev = Events(r->structure())[0].structure();
  EXPECT_EQ(ev.Find("operation")->string(), "mod");
  EXPECT_EQ(MapGet(ev.Find("snapshot")->structure(), "other_config", "fruix"), "1");

  auto bad = Call("event.from", {Value::StringArray({"pool"}), Value("garbage"), Value(1.0)});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().xapi_description(),
            (std::vector<std::string>{"EVENT_FROM_TOKEN_PARSE_FAILURE", "garbage"}));
}

// Given event.from on the wire, Then valid_ref_counts are <i4> values.
TEST_F(TasksTest, ValidRefCountsAreI4OnTheWire) {
  std::string body = xenapi::EncodeCall(
      "event.from", {Value(session_), Value::StringArray({"vm"}), Value(""), Value(1.0)});
  auto r = testing::RawExchange("127.0.0.1", sim_->http_port(),
                                testing::PostRequest("/", "text/xml", body));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->body.find("<member><name>vm</name><value><i4>"), std::string::npos);
}

// Given Async.VM.start, Then a pending task comes back at once and completes with success,
// progress 1, a finished time and result "<value></value>"; the VM is running.
TEST_F(TasksTest, AsyncVmStartCompletesTask) {
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  auto task = Call("Async.VM.start", {Value(vm), Value(false), Value(false)});
  ASSERT_TRUE(task.ok()) << task.error().ToString();
  auto done = sim_->WaitForTask(session_, task->string());
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  EXPECT_EQ(StrField(*done, "status"), "success");
  EXPECT_EQ(StrField(*done, "result"), "<value></value>");
  EXPECT_EQ(FloatField(*done, "progress"), 1.0);
  EXPECT_EQ(StrField(*done, "name_label"), "Async.VM.start");
  EXPECT_NE(done->Find("finished")->datetime().iso8601, "19700101T00:00:00Z");
  EXPECT_TRUE(StrSetField(*done, "error_info").empty());
  EXPECT_EQ(*Call("VM.get_power_state", {Value(vm)}), Value("Running"));
  ASSERT_TRUE(Call("task.destroy", {*task}).ok());
}

// Given an Async constructor, Then the task result is the XML-RPC fragment of the new ref.
TEST_F(TasksTest, AsyncConstructorResultIsRefFragment) {
  Struct vif;
  vif.Set("device", Value("1"));
  vif.Set("network", Value(sim_->RefOf("network", SimHarness::kNetwork)));
  vif.Set("VM", Value(sim_->RefOf("VM", SimHarness::kPvVm)));
  vif.Set("MAC", Value(""));
  vif.Set("MTU", Value("1500"));
  vif.Set("other_config", Value(Struct{}));
  vif.Set("qos_algorithm_type", Value(""));
  vif.Set("qos_algorithm_params", Value(Struct{}));
  auto task = Call("Async.VIF.create", {Value(vif)});
  ASSERT_TRUE(task.ok());
  auto done = sim_->WaitForTask(session_, task->string());
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(StrField(*done, "status"), "success");
  auto ref = xenapi::DecodeValue(StrField(*done, "result"));
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(StrField(*done, "result"), "<value>" + ref->string() + "</value>");
  auto mac = Call("VIF.get_MAC", {*ref});
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(mac->string().size(), 17u);  // generated from the VM's mac_seed
}

// Given a slow Async start, When the task is cancelled, Then it ends `cancelled` with
// TASK_CANCELLED [task] and the VM stays halted.
TEST_F(TasksTest, CancelStopsAsyncOperation) {
  std::string vm = sim_->RefOf("VM", SimHarness::kSlowVm);
  auto task = Call("Async.VM.start", {Value(vm), Value(false), Value(false)});
  ASSERT_TRUE(task.ok());
  ASSERT_TRUE(Call("task.cancel", {*task}).ok());
  auto done = sim_->WaitForTask(session_, task->string());
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  EXPECT_EQ(StrField(*done, "status"), "cancelled");
  EXPECT_EQ(StrSetField(*done, "error_info"),
            (std::vector<std::string>{"TASK_CANCELLED", task->string()}));
  EXPECT_EQ(*Call("VM.get_power_state", {Value(vm)}), Value("Halted"));
}

// Given a pending task, When destroyed, Then it is only marked; it disappears when it completes.
TEST_F(TasksTest, DestroyOfPendingTaskOnlyMarksIt) {
  std::string vm = sim_->RefOf("VM", SimHarness::kSlowVm);
  auto task = Call("Async.VM.start", {Value(vm), Value(false), Value(false)});
  ASSERT_TRUE(task.ok());
  ASSERT_TRUE(Call("task.destroy", {*task}).ok());
  auto ops = Call("task.get_current_operations", {*task});
  ASSERT_TRUE(ops.ok()) << "a pending task must survive task.destroy";
  EXPECT_EQ(MapGet(Struct{{"current_operations", *ops}}, "current_operations", "task"), "destroy");
  auto gone = sim_->WaitForTask(session_, task->string());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
}

// Given event.from waiting on a session, When that session logs out, Then SESSION_INVALID.
TEST_F(TasksTest, EventFromFailsWhenSessionLogsOut) {
  Struct first = From({"vm"}, "", 5.0);
  auto waiter = std::async(std::launch::async, [&] {
    return sim_->CallOk("event.from", {Value(session_), Value::StringArray({"vm"}),
                                       Value(Token(first)), Value(30.0)});
  });
  // Logging out touches no VM, so the waiter can only return because its session went away.
  ASSERT_TRUE(sim_->CallOk("session.logout", {Value(session_)}).ok());
  ASSERT_EQ(waiter.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = waiter.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().xapi_description(), (std::vector<std::string>{"SESSION_INVALID", session_}));
}

// Given event.inject on the pool, Then the returned token yields that pool as `mod`.
TEST_F(TasksTest, InjectGivesTokenJustBeforeTheTouch) {
  std::string pool = sim_->RefOf("pool", SimHarness::kPool);
  auto token = Call("event.inject", {Value("pool"), Value(pool)});
  ASSERT_TRUE(token.ok());
  Struct batch = From({"pool"}, token->string(), 5.0);
  ASSERT_EQ(Events(batch).size(), 1u);
  EXPECT_EQ(Events(batch)[0].structure().Find("ref")->string(), pool);
}

}  // namespace
}  // namespace fruix::sim
