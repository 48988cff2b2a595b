#include "lib/xenapi/events.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/fake_http_client.h"
#include "tests/support/fake_xapi.h"

namespace fruix::xenapi {
namespace {

using fruix::testing::FakeHttpClient;
using fruix::testing::FakeXapi;
using namespace std::chrono_literals;

Struct VmStruct(const std::string& uuid, const std::string& power_state) {
  return Struct{
      {"uuid", Value(uuid)},
      {"name_label", Value("vm-" + uuid)},
      {"power_state", Value(power_state)},
      {"is_a_template", Value(false)},
      {"resident_on", Value(power_state == "Running" ? "OpaqueRef:h1" : "OpaqueRef:NULL")},
      {"domid", Value(power_state == "Running" ? "3" : "-1")},
      {"VBDs", Value(Array{})},
      {"VIFs", Value(Array{})},
      {"consoles", Value(Array{})},
      {"guest_metrics", Value("OpaqueRef:NULL")},
      {"other_config", Value(Struct{})}};
}

class EventWatcherTest : public ::testing::Test {
 protected:
  EventWatcherTest() {
    xapi_.Install(http_);
    SessionOptions o;
    o.url = "https://10.0.0.1/";
    o.username = "root";
    o.password = "secret";
    session_ = std::make_unique<Session>(http_, o);
    xapi_.Put("VM", "OpaqueRef:vm1", VmStruct("u1", "Halted"));
    xapi_.Put("VM", "OpaqueRef:vm2", VmStruct("u2", "Halted"));
    options_.poll_timeout = 5s;
    options_.http_margin = 1s;
  }
  // Every event.from call's params (without session), in order.
  std::vector<Array> EventFromCalls() {
    std::vector<Array> out;
    for (const auto& c : http_.calls()) {
      if (c.method == "event.from") out.emplace_back(c.params.begin() + 1, c.params.end());
    }
    return out;
  }

  FakeHttpClient http_;
  FakeXapi xapi_;
  std::unique_ptr<Session> session_;
  EventWatcherOptions options_;
};

// Given a watcher on class "vm", When it runs twice around a change, Then the first batch is a
// restarted full snapshot (token ""), the second call sends the returned token and gets the
// change; the timeout travels as a <double> and the HTTP deadline is 1.1x it plus the margin.
TEST_F(EventWatcherTest, ThreadsTheToken) {
  EventWatcher watcher(*session_, {"vm"}, options_);
  Deadline deadline(RealClock(), 20s);
  auto first = watcher.Next(deadline);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_TRUE(first->restarted);
  ASSERT_EQ(first->events.size(), 2u);
  EXPECT_EQ(first->events[0].op, EventOp::kAdd);
  EXPECT_EQ(first->events[0].class_name, "vm");
  ASSERT_TRUE(first->events[0].snapshot.has_value());
  std::string token = first->token;
  EXPECT_FALSE(token.empty());

  xapi_.Put("VM", "OpaqueRef:vm2", VmStruct("u2", "Running"));
  auto second = watcher.Next(deadline);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_FALSE(second->restarted);
  ASSERT_EQ(second->events.size(), 1u);
  EXPECT_EQ(second->events[0].op, EventOp::kMod);
  EXPECT_EQ(second->events[0].ref.str(), "OpaqueRef:vm2");
  EXPECT_NE(second->token, token);

  auto calls = EventFromCalls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0][0], Value::StringArray({"vm"}));
  EXPECT_EQ(calls[0][1].string(), "");
  EXPECT_EQ(calls[1][1].string(), token);
  ASSERT_EQ(calls[0][2].kind(), Value::Kind::kDouble);
  EXPECT_DOUBLE_EQ(calls[0][2].dbl(), 5.0);
  for (const auto& r : http_.requests()) {
    if (r.body.find("event.from") != std::string::npos) {
      EXPECT_EQ(r.timeout, 6500ms);
    }
  }
}

// Given no change, When the poll timeout (capped by the deadline) passes, Then Next returns an
// empty batch with a token, and the poll sent was the deadline's remaining time.
TEST_F(EventWatcherTest, EmptyBatchWhenNothingChanges) {
  EventWatcher watcher(*session_, {"vm"}, options_);
  Deadline deadline(RealClock(), 20s);
  ASSERT_TRUE(watcher.Next(deadline).ok());
  Deadline short_deadline(RealClock(), 300ms);
  auto idle = watcher.Next(short_deadline);
  ASSERT_TRUE(idle.ok()) << idle.error().ToString();
  EXPECT_TRUE(idle->events.empty());
  EXPECT_FALSE(idle->token.empty());
  EXPECT_LE(EventFromCalls()[1][2].dbl(), 0.3 + 1e-9);
  auto expired = watcher.Next(short_deadline);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code(), ErrorCode::kTimeout);
}

// Given EVENTS_LOST from xapi, When the watcher continues, Then it restarts from token "" and
// marks the batch restarted.
TEST_F(EventWatcherTest, RestartsOnEventsLost) {
  EventWatcher watcher(*session_, {"vm"}, options_);
  Deadline deadline(RealClock(), 20s);
  ASSERT_TRUE(watcher.Next(deadline).ok());
  xapi_.FailNextEventFrom({"EVENTS_LOST"});
  auto batch = watcher.Next(deadline);
  ASSERT_TRUE(batch.ok()) << batch.error().ToString();
  EXPECT_TRUE(batch->restarted);
  EXPECT_EQ(batch->events.size(), 2u);
  auto calls = EventFromCalls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_NE(calls[1][1].string(), "");
  EXPECT_EQ(calls[2][1].string(), "");
}

// Given the session expiring between two rounds, When the watcher continues, Then the session is
// renewed (one more login) and the watcher restarts from scratch rather than reusing the token.
TEST_F(EventWatcherTest, RestartsOnSessionInvalid) {
  EventWatcher watcher(*session_, {"vm"}, options_);
  Deadline deadline(RealClock(), 20s);
  ASSERT_TRUE(watcher.Next(deadline).ok());
  xapi_.ExpireSessions();
  auto batch = watcher.Next(deadline);
  ASSERT_TRUE(batch.ok()) << batch.error().ToString();
  EXPECT_TRUE(batch->restarted);
  EXPECT_EQ(xapi_.logins(), 2);
  auto calls = EventFromCalls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[2][1].string(), "");
}

// Given an EVENTS_LOST storm, Then the watcher gives up after a few restarts instead of looping.
TEST_F(EventWatcherTest, RestartsAreBounded) {
  EventWatcher watcher(*session_, {"vm"}, options_);
  for (int i = 0; i < 10; ++i) xapi_.FailNextEventFrom({"EVENTS_LOST"});
  auto batch = watcher.Next(Deadline(RealClock(), 20s));
  ASSERT_FALSE(batch.ok());
  EXPECT_TRUE(batch.error().IsXapi("EVENTS_LOST"));
  EXPECT_EQ(EventFromCalls().size(), 4u);
}

// Given a hung connection (the HTTP deadline fires), Then the watcher retries on a fresh request
// within its own deadline.
TEST_F(EventWatcherTest, RetriesAfterHttpTimeout) {
  ASSERT_TRUE(session_->Login().ok());
  http_.Push(Error::Timeout("HTTP request to https://10.0.0.1/: Operation timed out"));
  EventWatcher watcher(*session_, {"vm"}, options_);
  auto batch = watcher.Next(Deadline(RealClock(), 20s));
  ASSERT_TRUE(batch.ok()) << batch.error().ToString();
  EXPECT_EQ(batch->events.size(), 2u);
}

// Given a halted VM, When another thread starts it while WaitForRecord is blocked in event.from,
// Then the wait wakes on that event (long before its poll timeout) with the Running record.
TEST_F(EventWatcherTest, WaitForRecordWakesOnChange) {
  options_.poll_timeout = 30s;
  std::thread starter([&] {
    ASSERT_TRUE(xapi_.WaitForCalls("event.from", 2));  // snapshot seen, now blocked
    xapi_.Put("VM", "OpaqueRef:vm1", VmStruct("u1", "Running"));
  });
  auto start = std::chrono::steady_clock::now();
  auto vm = WaitForRecord<VmRecord>(
      *session_, OpaqueRef("OpaqueRef:vm1"),
      [](const VmRecord& r) { return r.power_state == VmPowerState::kRunning; },
      Deadline(RealClock(), 20s), {}, options_);
  starter.join();
  ASSERT_TRUE(vm.ok()) << vm.error().ToString();
  EXPECT_EQ(vm->power_state, VmPowerState::kRunning);
  EXPECT_EQ(vm->domid, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(EventFromCalls()[0][0], Value::StringArray({"vm/OpaqueRef:vm1"}));
}

// Given a condition that already holds, Then WaitForRecord returns from the first snapshot.
TEST_F(EventWatcherTest, WaitForRecordAlreadyTrue) {
  auto vm = WaitForRecord<VmRecord>(
      *session_, OpaqueRef("OpaqueRef:vm2"),
      [](const VmRecord& r) { return r.power_state == VmPowerState::kHalted; },
      Deadline(RealClock(), 20s), {}, options_);
  ASSERT_TRUE(vm.ok()) << vm.error().ToString();
  EXPECT_EQ(EventFromCalls().size(), 1u);
}

// Given a condition that never holds, Then the wait ends with kTimeout at its deadline.
TEST_F(EventWatcherTest, WaitForRecordTimesOut) {
  auto start = std::chrono::steady_clock::now();
  auto vm = WaitForRecord<VmRecord>(
      *session_, OpaqueRef("OpaqueRef:vm1"),
      [](const VmRecord& r) { return r.power_state == VmPowerState::kRunning; },
      Deadline(RealClock(), 400ms), {}, options_);
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.error().code(), ErrorCode::kTimeout) << vm.error().ToString();
  EXPECT_NE(vm.error().message().find("OpaqueRef:vm1"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

// Given a wait blocked in event.from, When its stop token is triggered, Then it ends promptly with
// kCancelled.
TEST_F(EventWatcherTest, WaitForRecordCancels) {
  options_.poll_timeout = 30s;
  std::stop_source stop;
  std::thread canceller([&] {
    ASSERT_TRUE(xapi_.WaitForCalls("event.from", 2));
    stop.request_stop();
  });
  auto start = std::chrono::steady_clock::now();
  auto vm = WaitForRecord<VmRecord>(
      *session_, OpaqueRef("OpaqueRef:vm1"),
      [](const VmRecord& r) { return r.power_state == VmPowerState::kRunning; },
      Deadline(RealClock(), 20s), stop.get_token(), options_);
  canceller.join();
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.error().code(), ErrorCode::kCancelled) << vm.error().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// Given an object destroyed while waited on, Then the wait ends with kNotFound.
TEST_F(EventWatcherTest, WaitForRecordSeesDeletion) {
  std::thread destroyer([&] {
    ASSERT_TRUE(xapi_.WaitForCalls("event.from", 2));
    xapi_.Delete("VM", "OpaqueRef:vm1");
  });
  auto vm = WaitForRecord<VmRecord>(
      *session_, OpaqueRef("OpaqueRef:vm1"),
      [](const VmRecord& r) { return r.power_state == VmPowerState::kRunning; },
      Deadline(RealClock(), 20s), {}, options_);
  destroyer.join();
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.error().code(), ErrorCode::kNotFound) << vm.error().ToString();
}

// Given event.from results of the wrong shape, Then parsing fails with kProtocol.
TEST(EventBatchTest, MalformedIsProtocolError) {
  EXPECT_EQ(ParseEventBatch(Value("x")).error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(ParseEventBatch(Value(Struct{{"token", Value("t")}})).error().code(),
            ErrorCode::kProtocol);
  Struct bad_op{{"class", Value("vm")}, {"operation", Value("upsert")}, {"ref", Value("r")}};
  auto r = ParseEventBatch(
      Value(Struct{{"events", Value(Array{Value(bad_op)})}, {"token", Value("t")}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("upsert"), std::string::npos);
  Struct del{{"id", Value(int64_t{12})},
             {"class", Value("VM")},
             {"operation", Value("del")},
             {"ref", Value("OpaqueRef:x")}};
  auto ok =
      ParseEventBatch(Value(Struct{{"events", Value(Array{Value(del)})},
                                   {"valid_ref_counts", Value(Struct{{"vm", Value::Int32(3)}})},
                                   {"token", Value("00000000000000000012,00000000000000000000")}}));
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->events[0].class_name, "vm");
  EXPECT_EQ(ok->events[0].id, "12");
  EXPECT_FALSE(ok->events[0].snapshot.has_value());
}

// Subscriptions use lower-case class names.
TEST(EventBatchTest, SubscriptionStrings) {
  EXPECT_EQ(ObjectSubscription("VM_guest_metrics", OpaqueRef("OpaqueRef:g")),
            "vm_guest_metrics/OpaqueRef:g");
  EXPECT_EQ(ClassSubscription("VM"), "vm");
  EventWatcherOptions o;
  EXPECT_EQ(EventFromHttpTimeout(60s, o), 68s);
}

}  // namespace
}  // namespace fruix::xenapi
