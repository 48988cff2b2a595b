#include "lib/sim/faults.h"

#include <gtest/gtest.h>

namespace fruix::sim {
namespace {

// Given a rule for the 2nd call, Then only the 2nd matching call fires.
TEST(FaultsTest, NthCallFiresOnce) {
  FaultInjector f;
  auto rule =
      ParseFaultRule(R"({"method":"VM.start","nth":2,"error":["VM_BAD_POWER_STATE","a","b","c"]})");
  ASSERT_TRUE(rule.ok()) << rule.error().ToString();
  f.Add(*rule);
  EXPECT_FALSE(f.OnCall("VM.start").error.has_value());
  auto hit = f.OnCall("VM.start");
  ASSERT_TRUE(hit.error.has_value());
  EXPECT_EQ(hit.error->front(), "VM_BAD_POWER_STATE");
  EXPECT_FALSE(f.OnCall("VM.start").error.has_value());
  EXPECT_FALSE(f.OnCall("VM.get_record").error.has_value());
}

// Given a repeating prefix rule, Then every matching call from the nth on fires.
TEST(FaultsTest, RepeatingPrefixRule) {
  FaultInjector f;
  f.Add(
      *ParseFaultRule(R"({"method":"Async.*","repeat":true,"error":["TOO_MANY_PENDING_TASKS"]})"));
  EXPECT_TRUE(f.OnCall("Async.VM.start").error.has_value());
  EXPECT_TRUE(f.OnCall("Async.VBD.create").error.has_value());
  EXPECT_FALSE(f.OnCall("VM.start").error.has_value());
  EXPECT_EQ(f.List().front().fired, 2u);
}

// Given malformed rules, Then parsing says what is wrong.
TEST(FaultsTest, RejectsBadRules) {
  EXPECT_FALSE(ParseFaultRule("{}").ok());
  EXPECT_FALSE(ParseFaultRule(R"({"method":"x"})").ok());
  EXPECT_FALSE(ParseFaultRule(R"({"method":"x","delay_ms":5,"error":["A"]})").ok());
  EXPECT_FALSE(ParseFaultRule(R"({"method":"x","nth":0,"delay_ms":5})").ok());
  EXPECT_FALSE(ParseFaultRule("not json").ok());
  auto cut = ParseFaultRule(R"({"method":"import_raw_vdi","cut_after_bytes":10})");
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->action, FaultRule::Action::kCutImport);
}

}  // namespace
}  // namespace fruix::sim
