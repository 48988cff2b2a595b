#include "proto/fields.h"

#include <gtest/gtest.h>

namespace fruix::proto {
namespace {

using nlohmann::json;

TEST(FieldsTest, ReadsBoundedValues) {
  // Given an object with every kind of member, When read with bounds, Then values come through.
  json j = {{"s", "abc"},     {"b", true}, {"u", 5}, {"i", -3}, {"t", "2026-11-23T20:21:16Z"},
            {"l", {"x", "y"}}};
  Fields f(j, "params");
  std::string s;
  bool b = false;
  uint64_t u = 0;
  int64_t i = 0;
  std::optional<WallTime> t;
  std::vector<std::string> l;
  f.String("s", &s, 3);
  f.Bool("b", &b);
  f.Uint("u", &u, 5);
  f.Int("i", &i, -5, 5);
  f.Time("t", &t);
  f.StringList("l", &l, 2, 1);
  f.NoOthers();
  ASSERT_TRUE(f.Finish().ok()) << f.Finish().error().ToString();
  EXPECT_EQ(s, "abc");
  EXPECT_TRUE(b);
  EXPECT_EQ(u, 5u);
  EXPECT_EQ(i, -3);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(ToUnixMillis(*t), 1795465276000);
  EXPECT_EQ(l.size(), 2u);
}

struct BadCase {
  json value;
  const char* expect;  // substring of the error
};

TEST(FieldsTest, NamesThePathAndTheBadValue) {
  // Given values that break their bounds, When read, Then the error names path and value.
  const std::vector<BadCase> cases = {
      {{{"s", "abcd"}}, "params.s: expected a string of at most 3 bytes, got \"abcd\""},
      {{{"s", 12}}, "params.s: expected a string"},
      {{{"u", -1}}, "params.u: expected a non-negative integer, got -1"},
      {{{"u", 6}}, "params.u: expected an integer of at most 5, got 6"},
      {{{"t", "yesterday"}}, "params.t: \"yesterday\" is not an RFC 3339 time"},
      {{{"l", {"x", "yy"}}}, "params.l: expected a list of at most 2 strings"},
      {{{"zz", 1}}, "params.zz: unknown parameter"},
  };
  for (const auto& c : cases) {
    Fields f(c.value, "params");
    std::string s;
    uint64_t u = 0;
    std::optional<WallTime> t;
    std::vector<std::string> l;
    f.String("s", &s, 3);
    f.Uint("u", &u, 5);
    f.Time("t", &t);
    f.StringList("l", &l, 2, 1);
    f.NoOthers();
    auto r = f.Finish();
    ASSERT_FALSE(r.ok()) << c.value.dump();
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << r.error().message();
  }
}

TEST(FieldsTest, RequiredMembersAndNonObjects) {
  // Given a missing required member or a non-object, When read, Then the error says so.
  json empty = json::object();
  Fields f(empty, "params");
  std::string s;
  f.String("job_id", &s, 10, true);
  EXPECT_EQ(f.Finish().error().message(), "params.job_id: missing (required)");
  json arr = json::array();
  Fields g(arr, "params.image");
  EXPECT_NE(g.Finish().error().message().find("params.image: expected an object"),
            std::string::npos);
}

}  // namespace
}  // namespace fruix::proto
