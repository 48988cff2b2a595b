#include "lib/core/wall_time.h"

#include <gtest/gtest.h>

namespace fruix {
namespace {

using std::chrono::milliseconds;

TEST(WallTimeTest, FormatsUtcWithMilliseconds) {
  // Given a time 1234 ms after the epoch, When formatted, Then it is RFC 3339 UTC with millis.
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(1234)), "1970-01-01T00:00:01.234Z");
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(1795465276042)), "2026-11-23T20:21:16.042Z");
}

TEST(WallTimeTest, ParsesWhatItFormatsAndOffsets) {
  // Given formatted times and times with offsets, When parsed, Then the instants are exact.
  for (int64_t ms : {int64_t{0}, int64_t{1234}, int64_t{1795465276042}}) {
    auto t = ParseRfc3339(FormatRfc3339(FromUnixMillis(ms)));
    ASSERT_TRUE(t.ok()) << t.error().ToString();
    EXPECT_EQ(ToUnixMillis(*t), ms);
  }
  auto plus = ParseRfc3339("2026-11-23T22:21:16+02:00");
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(ToUnixMillis(*plus), 1795465276000);
  auto frac = ParseRfc3339("2026-11-23T20:21:16.0429999Z");
  ASSERT_TRUE(frac.ok());
  EXPECT_EQ(ToUnixMillis(*frac), 1795465276042);
}

TEST(WallTimeTest, RefusesMalformedTimesQuotingThem) {
  // Given malformed or impossible times, When parsed, Then kInvalidArgument quotes the text.
  for (const char* bad : {"", "2026-11-23", "2026-11-23T20:21:16", "2026-02-30T00:00:00Z",
                          "2026-11-23T24:00:00Z", "2026-11-23T20:21:16Zjunk", "yesterday",
                          "2026-11-23T20:21:16.Z", "2026-11-23T20:21:16+2:00"}) {
    auto t = ParseRfc3339(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(t.error().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << t.error().message();
  }
}

}  // namespace
}  // namespace fruix
