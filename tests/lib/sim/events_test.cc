#include "lib/sim/events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "lib/sim/record_util.h"

namespace fruix::sim {
namespace {

using xenapi::Struct;
using xenapi::Value;

struct Fixture {
  Database db;
  std::string session = db.Write([](Database::Txn& t) { return t.Create("session", {}); });
};

const xenapi::Array& Events(const Value& v) { return v.structure().Find("events")->array(); }
std::string Token(const Value& v) { return v.structure().Find("token")->string(); }

// Given tokens, Then the %020d,%020d form round-trips and garbage is a parse failure.
TEST(EventsTest, TokenFormat) {
  EXPECT_EQ(FormatEventToken({12, 0}), "00000000000000000012,00000000000000000000");
  EXPECT_EQ(ParseEventToken("00000000000000000012,00000000000000000003")->generation, 12u);
  EXPECT_EQ(ParseEventToken("")->generation, 0u);
  auto bad = ParseEventToken("not-a-token");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().xapi_description(),
            (std::vector<std::string>{"EVENT_FROM_TOKEN_PARSE_FAILURE", "not-a-token"}));
}

// Given objects, When event.from("") is called, Then every object comes back as `add` with a
// snapshot, and valid_ref_counts has <i4> counts per table.
TEST(EventsTest, EmptyTokenDumpsEverythingAsAdd) {
  Fixture f;
  std::string vm = f.db.Write([](Database::Txn& t) { return t.Create("VM", {}); });
  auto r = EventFrom(f.db, {"vm"}, "", 1.0, f.session);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(Events(*r).size(), 1u);
  const Struct& ev = Events(*r)[0].structure();
  EXPECT_EQ(ev.Find("class")->string(), "vm");
  EXPECT_EQ(ev.Find("operation")->string(), "add");
  EXPECT_EQ(ev.Find("ref")->string(), vm);
  EXPECT_EQ(ev.Find("timestamp")->string(), "0.0");
  EXPECT_TRUE(ev.Find("snapshot")->is_struct());
  EXPECT_EQ(r->structure().Find("valid_ref_counts")->structure().Find("vm")->kind(),
            Value::Kind::kInt32);
}

// Given a token, When an object is modified then another created and deleted, Then the batch
// has the `mod` only (create+delete inside the window is invisible, as in xapi).
TEST(EventsTest, ModAndInvisibleCreateDelete) {
  Fixture f;
  std::string vm = f.db.Write([](Database::Txn& t) { return t.Create("VM", {}); });
  auto first = EventFrom(f.db, {"*"}, "", 1.0, f.session);
  ASSERT_TRUE(first.ok());
  f.db.Write([&](Database::Txn& t) {
    ASSERT_TRUE(t.Set("VM", vm, "name_label", Value("x")).ok());
    std::string tmp = t.Create("VM", {});
    ASSERT_TRUE(t.Destroy("VM", tmp).ok());
  });
  auto r = EventFrom(f.db, {"VM"}, Token(*first), 1.0, f.session);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Events(*r).size(), 1u);
  EXPECT_EQ(Events(*r)[0].structure().Find("operation")->string(), "mod");
}

// Given an object existing before the token, When it is deleted, Then `del` has no snapshot.
TEST(EventsTest, DeleteHasNoSnapshot) {
  Fixture f;
  std::string task = f.db.Write([](Database::Txn& t) { return t.Create("task", {}); });
  auto first = EventFrom(f.db, {"task"}, "", 1.0, f.session);
  f.db.Write([&](Database::Txn& t) { ASSERT_TRUE(t.Destroy("task", task).ok()); });
  auto r = EventFrom(f.db, {"task/" + task}, Token(*first), 1.0, f.session);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Events(*r).size(), 1u);
  EXPECT_EQ(Events(*r)[0].structure().Find("operation")->string(), "del");
  EXPECT_EQ(Events(*r)[0].structure().Find("snapshot"), nullptr);
}

// Given no change, When waiting 100 ms, Then an empty batch with the same token comes back
// after the timeout.
TEST(EventsTest, TimesOutEmptyWithSameToken) {
  Fixture f;
  f.db.Write([](Database::Txn& t) { t.Create("VM", {}); });
  auto first = EventFrom(f.db, {"vm"}, "", 1.0, f.session);
  auto start = std::chrono::steady_clock::now();
  auto r = EventFrom(f.db, {"vm"}, Token(*first), 0.1, f.session);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Events(*r).empty());
  EXPECT_EQ(Token(*r), Token(*first));
  EXPECT_GE(elapsed, std::chrono::milliseconds(90));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

// Given a waiting event.from, When a matching object changes, Then it returns at once; when
// its session is destroyed, Then it fails SESSION_INVALID.
TEST(EventsTest, WakesOnChangeAndOnSessionLoss) {
  Fixture f;
  std::string vm = f.db.Write([](Database::Txn& t) { return t.Create("VM", {}); });
  auto first = EventFrom(f.db, {"vm"}, "", 1.0, f.session);
  auto waiter = std::async(std::launch::async,
                           [&] { return EventFrom(f.db, {"vm"}, Token(*first), 30.0, f.session); });
  f.db.Write(
      [&](Database::Txn& t) { ASSERT_TRUE(t.Set("VM", vm, "name_label", Value("y")).ok()); });
  ASSERT_EQ(waiter.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto r = waiter.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Events(*r).size(), 1u);

  auto waiter2 = std::async(std::launch::async,
                            [&] { return EventFrom(f.db, {"vm"}, Token(*r), 30.0, f.session); });
  f.db.Write([&](Database::Txn& t) { ASSERT_TRUE(t.Destroy("session", f.session).ok()); });
  ASSERT_EQ(waiter2.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto r2 = waiter2.get();
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().xapi_description(),
            (std::vector<std::string>{"SESSION_INVALID", f.session}));
}

}  // namespace
}  // namespace fruix::sim
