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

// Given the import rules task_pending_ms, device_error and corrupt_block on one import, Then one
// call reports all of them, they round-trip through JSON, and bad values are refused.
TEST(FaultsTest, ImportRulesCombine) {
  FaultInjector f;
  for (const char* json : {R"({"method":"import_raw_vdi","task_pending_ms":300})",
                           R"({"method":"import_raw_vdi","cut_after_bytes":10})",
                           R"({"method":"import_raw_vdi","device_error":true})",
                           R"({"method":"import_raw_vdi","corrupt_block":3})"}) {
    auto rule = ParseFaultRule(json);
    ASSERT_TRUE(rule.ok()) << json << ": " << rule.error().ToString();
    auto again = ParseFaultRule(FaultRuleToJson(*rule));
    ASSERT_TRUE(again.ok()) << FaultRuleToJson(*rule);
    EXPECT_EQ(again->action, rule->action);
    f.Add(*rule);
  }
  auto hit = f.OnCall("import_raw_vdi");
  EXPECT_EQ(hit.task_pending_ms, 300);
  EXPECT_EQ(hit.cut_after_bytes, std::optional<uint64_t>(10));
  EXPECT_TRUE(hit.device_error);
  EXPECT_EQ(hit.corrupt_block, std::optional<uint64_t>(3));
  EXPECT_FALSE(f.OnCall("import_raw_vdi").device_error);  // nth 1 only
  EXPECT_FALSE(ParseFaultRule(R"({"method":"import_raw_vdi","task_pending_ms":-1})").ok());
}

}  // namespace
}  // namespace fruix::sim
