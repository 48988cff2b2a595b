#include "lib/xenapi/tasks.h"

#include <gtest/gtest.h>

#include <thread>

#include "lib/xenapi/api.h"
#include "tests/support/fake_http_client.h"
#include "tests/support/fake_xapi.h"

namespace fruix::xenapi {
namespace {

using fruix::testing::FakeHttpClient;
using fruix::testing::FakeXapi;
using namespace std::chrono_literals;

class TasksTest : public ::testing::Test {
 protected:
  TasksTest() {
    xapi_.Install(http_);
    SessionOptions o;
    o.url = "https://10.0.0.1/";
    o.username = "root";
    o.password = "secret";
    session_ = std::make_unique<Session>(http_, o);
    options_.poll_timeout = 30s;
  }
  // Async.VM.start creates a pending task "OpaqueRef:task1".
  void AsyncStartCreatesPendingTask() {
    xapi_.On("Async.VM.start", [this](const Array& p) -> Result<Value> {
      EXPECT_EQ(p.size(), 3u);
      xapi_.Put("task", "OpaqueRef:task1", FakeXapi::TaskRecord("task1-uuid", "pending"));
      return Value("OpaqueRef:task1");
    });
  }
  // From another thread: once the waiter is blocked in its second event.from, finish the task.
  std::thread FinishLater(std::string status, std::string result,
                          std::vector<std::string> error_info = {}) {
    return std::thread([=, this] {
      ASSERT_TRUE(xapi_.WaitForCalls("event.from", 2));
      xapi_.Put("task", "OpaqueRef:task1",
                FakeXapi::TaskRecord("task1-uuid", status, result, error_info));
    });
  }

  FakeHttpClient http_;
  FakeXapi xapi_;
  std::unique_ptr<Session> session_;
  EventWatcherOptions options_;
};

// Given Async.VM.start whose task succeeds later, When run with RunAsync, Then the caller wakes on
// the task's event, gets the decoded result, and the task is destroyed.
TEST_F(TasksTest, RunAsyncSuccessDecodesResultAndDestroysTask) {
  AsyncStartCreatesPendingTask();
  std::thread finisher = FinishLater("success", "<value>OpaqueRef:result</value>");
  auto start = std::chrono::steady_clock::now();
  auto r = RunAsync(*session_, calls::VmStart(OpaqueRef("OpaqueRef:vm"), false, false),
                    Deadline(RealClock(), 20s), {}, options_);
  finisher.join();
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->string(), "OpaqueRef:result");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(xapi_.CountCalls("task.destroy"), 1);
  EXPECT_FALSE(xapi_.Get("task", "OpaqueRef:task1").has_value());
  EXPECT_EQ(xapi_.CountCalls("task.get_record"), 0);  // event-driven: snapshots, no polling
}

// Given a task that fails, Then RunAsync returns Error::Xapi built from error_info and still
// destroys the task.
TEST_F(TasksTest, RunAsyncFailureUsesErrorInfo) {
  AsyncStartCreatesPendingTask();
  std::thread finisher =
      FinishLater("failure", "", {"VM_BAD_POWER_STATE", "OpaqueRef:vm", "halted", "running"});
  auto r = RunAsync(*session_, calls::VmStart(OpaqueRef("OpaqueRef:vm"), false, false),
                    Deadline(RealClock(), 20s), {}, options_);
  finisher.join();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsXapi("VM_BAD_POWER_STATE")) << r.error().ToString();
  EXPECT_EQ(r.error().xapi_params(),
            (std::vector<std::string>{"OpaqueRef:vm", "halted", "running"}));
  EXPECT_EQ(xapi_.CountCalls("task.destroy"), 1);
}

// Given a void call whose task has already finished with result "<value></value>", Then RunAsync
// returns an empty string at once.
TEST_F(TasksTest, RunAsyncAlreadyFinishedVoidResult) {
  xapi_.On("Async.VM.hard_shutdown", [this](const Array&) -> Result<Value> {
    xapi_.Put("task", "OpaqueRef:task1",
              FakeXapi::TaskRecord("task1-uuid", "success", "<value></value>"));
    return Value("OpaqueRef:task1");
  });
  auto r = RunAsync(*session_, calls::VmHardShutdown(OpaqueRef("OpaqueRef:vm")),
                    Deadline(RealClock(), 20s), {}, options_);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(*r, Value(""));
  EXPECT_EQ(xapi_.CountCalls("event.from"), 1);
  EXPECT_EQ(xapi_.CountCalls("task.destroy"), 1);
}

// Given a task that never finishes, When the deadline passes, Then RunAsync returns kTimeout after
// cancelling and destroying the task.
TEST_F(TasksTest, RunAsyncTimeoutCancelsAndDestroys) {
  AsyncStartCreatesPendingTask();
  auto start = std::chrono::steady_clock::now();
  auto r = RunAsync(*session_, calls::VmStart(OpaqueRef("OpaqueRef:vm"), false, false),
                    Deadline(RealClock(), 400ms), {}, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout) << r.error().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto calls = xapi_.calls();
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls[calls.size() - 2], "task.cancel");
  EXPECT_EQ(calls.back(), "task.destroy");
}

// Given a wait in progress, When the caller's stop token fires, Then RunAsync returns kCancelled
// after cancelling and destroying the task.
TEST_F(TasksTest, RunAsyncCancelCancelsAndDestroys) {
  AsyncStartCreatesPendingTask();
  std::stop_source stop;
  std::thread canceller([&] {
    ASSERT_TRUE(xapi_.WaitForCalls("event.from", 2));
    stop.request_stop();
  });
  auto start = std::chrono::steady_clock::now();
  auto r = RunAsync(*session_, calls::VmStart(OpaqueRef("OpaqueRef:vm"), false, false),
                    Deadline(RealClock(), 20s), stop.get_token(), options_);
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled) << r.error().ToString();
  EXPECT_EQ(xapi_.CountCalls("task.cancel"), 1);
  EXPECT_EQ(xapi_.CountCalls("task.destroy"), 1);
}

// Given an Async call that fails synchronously, Then its error is returned and no task is touched.
TEST_F(TasksTest, RunAsyncSynchronousFailure) {
  xapi_.On("Async.VM.start", [](const Array&) -> Result<Value> {
    return Error::Xapi("Fault", {"No async mode for this operation (rpc: VM.start)"});
  });
  auto r = RunAsync(*session_, calls::VmStart(OpaqueRef("OpaqueRef:vm"), false, false),
                    Deadline(RealClock(), 20s), {}, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsXapi("Fault"));
  EXPECT_EQ(xapi_.CountCalls("event.from"), 0);
  EXPECT_EQ(xapi_.CountCalls("task.destroy"), 0);
}

// Given a task destroyed by someone else while waited on, Then WaitForTask returns kNotFound.
TEST_F(TasksTest, WaitForTaskSeesDestruction) {
  xapi_.Put("task", "OpaqueRef:task1", FakeXapi::TaskRecord("task1-uuid", "pending"));
  std::thread destroyer([&] {
    ASSERT_TRUE(xapi_.WaitForCalls("event.from", 2));
    xapi_.Delete("task", "OpaqueRef:task1");
  });
  auto r = WaitForTask(*session_, OpaqueRef("OpaqueRef:task1"), Deadline(RealClock(), 20s), {},
                       options_);
  destroyer.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound) << r.error().ToString();
}

// Given task records in each state, Then TaskOutcome maps them to value or typed error.
TEST(TaskOutcomeTest, MapsEachState) {
  TaskRecord t;
  t.uuid = Uuid("t");
  t.status = TaskStatus::kPending;
  EXPECT_EQ(TaskOutcome(t).error().code(), ErrorCode::kFailedPrecondition);
  t.status = TaskStatus::kSuccess;
  t.result = "<value>OpaqueRef:vdi</value>";
  EXPECT_EQ(*TaskOutcome(t), Value("OpaqueRef:vdi"));
  t.result = "";
  EXPECT_EQ(*TaskOutcome(t), Value(""));
  t.result = "<value><struct>";
  EXPECT_EQ(TaskOutcome(t).error().code(), ErrorCode::kProtocol);
  t.status = TaskStatus::kCancelled;
  t.error_info = {"TASK_CANCELLED", "OpaqueRef:t"};
  EXPECT_TRUE(TaskOutcome(t).error().IsXapi("TASK_CANCELLED"));
  t.status = TaskStatus::kFailure;
  t.error_info = {"VDI_IO_ERROR", "Device I/O errors"};
  auto e = TaskOutcome(t);
  EXPECT_TRUE(e.error().IsXapi("VDI_IO_ERROR"));
  EXPECT_EQ(e.error().xapi_params(), std::vector<std::string>{"Device I/O errors"});
}

// Given a ScopedTask, When it leaves scope (or is destroyed explicitly), Then task.destroy is sent
// exactly once.
TEST_F(TasksTest, ScopedTaskDestroysOnce) {
  xapi_.Put("task", "OpaqueRef:a", FakeXapi::TaskRecord("a", "pending"));
  xapi_.Put("task", "OpaqueRef:b", FakeXapi::TaskRecord("b", "pending"));
  { ScopedTask a(*session_, OpaqueRef("OpaqueRef:a")); }
  EXPECT_FALSE(xapi_.Get("task", "OpaqueRef:a").has_value());
  {
    ScopedTask b(*session_, OpaqueRef("OpaqueRef:b"));
    ScopedTask moved(std::move(b));
    ASSERT_TRUE(moved.Destroy().ok());
  }
  EXPECT_EQ(xapi_.CountCalls("task.destroy"), 2);
}

}  // namespace
}  // namespace fruix::xenapi
