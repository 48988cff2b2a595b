#include "lib/sim/database.h"

#include <gtest/gtest.h>

#include "lib/sim/record_util.h"

namespace fruix::sim {
namespace {

using xenapi::Struct;
using xenapi::Value;

// Given a new object, Then it has every schema field with defaults, a uuid, and a generation.
TEST(DatabaseTest, CreateFillsDefaultsAndIndexesUuid) {
  Database db;
  std::string ref = db.Write([](Database::Txn& t) {
    Struct f;
    f.Set("name_label", Value("vm1"));
    return t.Create("VM", std::move(f));
  });
  EXPECT_EQ(ref.rfind("OpaqueRef:", 0), 0u);
  db.Read([&](const Database::Txn& t) {
    const ObjectRow* row = t.Find("VM", ref);
    ASSERT_NE(row, nullptr);
    EXPECT_EQ(StrField(row->record, "name_label"), "vm1");
    EXPECT_EQ(IntField(row->record, "domid"), -1);
    EXPECT_EQ(row->record.size(), FindClass("VM")->fields.size());
    EXPECT_EQ(*t.RefOfUuid("VM", StrField(row->record, "uuid")), ref);
    EXPECT_EQ(t.ClassOf(ref), "VM");
    EXPECT_EQ(row->created, t.generation());
  });
}

// Given lookups of missing objects, Then xapi's errors come back with their parameters.
TEST(DatabaseTest, MissingObjectsGiveHandleAndUuidInvalid) {
  Database db;
  db.Read([](const Database::Txn& t) {
    auto h = t.Get("VM", "OpaqueRef:nope");
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error().xapi_description(),
              (std::vector<std::string>{"HANDLE_INVALID", "VM", "OpaqueRef:nope"}));
    auto u = t.RefOfUuid("SR", "1234");
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.error().xapi_description(),
              (std::vector<std::string>{"UUID_INVALID", "SR", "1234"}));
  });
}

// Given writes and a delete, Then each takes a new generation and the delete is remembered.
TEST(DatabaseTest, WritesAndDeletesAdvanceGenerations) {
  Database db;
  std::string ref = db.Write([](Database::Txn& t) { return t.Create("task", {}); });
  uint64_t g0 = db.Read([](const Database::Txn& t) { return t.generation(); });
  db.Write([&](Database::Txn& t) { ASSERT_TRUE(t.Set("task", ref, "progress", Value(0.5)).ok()); });
  uint64_t g1 = db.Read([&](const Database::Txn& t) { return t.Find("task", ref)->modified; });
  EXPECT_EQ(g1, g0 + 1);
  db.Write([&](Database::Txn& t) { ASSERT_TRUE(t.Destroy("task", ref).ok()); });
  db.Read([&](const Database::Txn& t) {
    EXPECT_EQ(t.Find("task", ref), nullptr);
    ASSERT_EQ(t.deleted().size(), 1u);
    EXPECT_EQ(t.deleted().back().ref, ref);
    EXPECT_EQ(t.deleted().back().deleted, g1 + 1);
  });
}

// Given a set field, Then AddToSet does not duplicate and RemoveFromSet removes.
TEST(DatabaseTest, SetHelpers) {
  Database db;
  std::string ref = db.Write([](Database::Txn& t) { return t.Create("VM", {}); });
  db.Write([&](Database::Txn& t) {
    ASSERT_TRUE(t.AddToSet("VM", ref, "VBDs", Value("OpaqueRef:a")).ok());
    ASSERT_TRUE(t.AddToSet("VM", ref, "VBDs", Value("OpaqueRef:a")).ok());
    EXPECT_EQ(StrSetField(t.Find("VM", ref)->record, "VBDs").size(), 1u);
    ASSERT_TRUE(t.RemoveFromSet("VM", ref, "VBDs", Value("OpaqueRef:a")).ok());
    EXPECT_TRUE(StrSetField(t.Find("VM", ref)->record, "VBDs").empty());
  });
}

}  // namespace
}  // namespace fruix::sim
