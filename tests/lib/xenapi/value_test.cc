#include "lib/xenapi/value.h"

#include <gtest/gtest.h>

namespace fruix::xenapi {
namespace {

// Given xapi's untyped int encoding, When read as an int, Then both forms work.
TEST(ValueTest, LenientIntReading) {
  EXPECT_EQ(*Value("12345").ToInt(), 12345);
  EXPECT_EQ(*Value("-1").ToInt(), -1);
  EXPECT_EQ(*Value(int64_t{1} << 40).ToInt(), int64_t{1} << 40);
  EXPECT_EQ(*Value::Int32(12).ToInt(), 12);
  auto bad = Value("12abc").ToInt();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("12abc"), std::string::npos);
  EXPECT_FALSE(Value("").ToInt().ok());
}

TEST(ValueTest, LenientBoolAndDouble) {
  EXPECT_TRUE(*Value(true).ToBool());
  EXPECT_FALSE(*Value("false").ToBool());
  EXPECT_FALSE(Value("maybe").ToBool().ok());
  EXPECT_DOUBLE_EQ(*Value(0.5).ToDouble(), 0.5);
  EXPECT_DOUBLE_EQ(*Value("0.25").ToDouble(), 0.25);
  EXPECT_FALSE(Value("nan").ToDouble().ok());
}

// Given a struct, When a key is set twice, Then order is kept and the value replaced.
TEST(ValueTest, StructKeepsInsertionOrder) {
  Struct s{{"Status", Value("Success")}, {"Value", Value("x")}};
  s.Set("Status", Value("Failure"));
  s.Set("Extra", Value(1));
  std::vector<std::string> keys;
  for (const auto& [k, v] : s) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"Status", "Value", "Extra"}));
  EXPECT_EQ(s.Find("Status")->string(), "Failure");
  EXPECT_TRUE(s.Erase("Value"));
  EXPECT_EQ(s.Find("Value"), nullptr);
}

TEST(ValueTest, StringMapRoundTrip) {
  std::map<std::string, std::string> m{{"a", "1"}, {"b", "2"}};
  EXPECT_EQ(*Value::StringMap(m).ToStringMap(), m);
  EXPECT_FALSE(Value(Struct{{"a", Value(Array{})}}).ToStringMap().ok());
}

}  // namespace
}  // namespace fruix::xenapi
