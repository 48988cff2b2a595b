// fruixctl's text forms: durations, sizes, rates, times, tables, and typed durations.
#include "client/format.h"

#include <gtest/gtest.h>

namespace fruix::client {
namespace {

using std::chrono::milliseconds;

// Given durations across the ranges, When formatted, Then short ones keep a decimal and longer
// ones read like "1m02s" / "2h03m04s".
TEST(FormatTest, Durations) {
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0.0s");
  EXPECT_EQ(FormatDuration(milliseconds(420)), "0.4s");
  EXPECT_EQ(FormatDuration(milliseconds(9999)), "9.9s");
  EXPECT_EQ(FormatDuration(milliseconds(41'000)), "41s");
  EXPECT_EQ(FormatDuration(milliseconds(62'000)), "1m02s");
  EXPECT_EQ(FormatDuration(milliseconds(3'599'999)), "59m59s");
  EXPECT_EQ(FormatDuration(milliseconds(7'384'000)), "2h03m04s");
  EXPECT_EQ(FormatDuration(milliseconds(-5)), "0.0s");
}

// Given byte counts, When formatted, Then binary units with one decimal.
TEST(FormatTest, Sizes) {
  EXPECT_EQ(FormatSize(0), "0 B");
  EXPECT_EQ(FormatSize(1023), "1023 B");
  EXPECT_EQ(FormatSize(1536), "1.5 KiB");
  EXPECT_EQ(FormatSize(uint64_t{2} << 30), "2.0 GiB");
  EXPECT_EQ(FormatSize(uint64_t{920} << 20), "920.0 MiB");
  EXPECT_EQ(FormatRate(112'340'000.0), "112.3 MB/s");
  EXPECT_EQ(FormatTime(ParseRfc3339("2026-11-23T20:21:16.042Z").value()), "2026-11-23 20:21:16Z");
}

// Given what users type, When parsed, Then units add up; anything else is refused quoting it.
TEST(FormatTest, ParseDuration) {
  EXPECT_EQ(ParseDuration("90s").value(), milliseconds(90'000));
  EXPECT_EQ(ParseDuration("5m").value(), milliseconds(300'000));
  EXPECT_EQ(ParseDuration("1h30m").value(), milliseconds(5'400'000));
  EXPECT_EQ(ParseDuration("500ms").value(), milliseconds(500));
  EXPECT_EQ(ParseDuration("2d").value(), milliseconds(172'800'000));
  EXPECT_EQ(ParseDuration("24h").value(), milliseconds(86'400'000));
  EXPECT_EQ(ParseDuration("45").value(), milliseconds(45'000));
  for (const char* bad : {"", "0s", "s", "5x", "1h30", "-5s", "1.5h", "99999999999999d"}) {
    auto r = ParseDuration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find(std::string("\"") + bad + "\""), std::string::npos);
  }
}

// Given rows of different widths, When tabled, Then columns align two spaces apart and lines
// carry no trailing spaces.
TEST(FormatTest, Table) {
  EXPECT_EQ(FormatTable({"A", "BB", "C"}, {{"long-a", "b", "c"}, {"x", "", "zz"}}),
            "A       BB  C\n"
            "long-a  b   c\n"
            "x           zz\n");
}

}  // namespace
}  // namespace fruix::client
