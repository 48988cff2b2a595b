#include "lib/core/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace fruix {
namespace {

TEST(IdsTest, UuidShape) {
  EXPECT_TRUE(IsUuidString("3f2c1a7e-0b1d-4c2e-9f00-123456789abc"));
  EXPECT_FALSE(IsUuidString("3f2c1a7e-0b1d-4c2e-9f00-123456789ab"));
  EXPECT_FALSE(IsUuidString("3f2c1a7e_0b1d-4c2e-9f00-123456789abc"));
  EXPECT_FALSE(IsUuidString("zf2c1a7e-0b1d-4c2e-9f00-123456789abc"));
}

// Given many fresh uuids, Then each is well-formed, version 4, and unique.
TEST(IdsTest, NewUuidsAreV4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string u = NewUuidString();
    ASSERT_TRUE(IsUuidString(u)) << u;
    EXPECT_EQ(u[14], '4');
    EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b') << u;
    EXPECT_TRUE(seen.insert(u).second);
  }
}

TEST(IdsTest, NullRef) {
  EXPECT_TRUE(OpaqueRef::Null().is_null());
  EXPECT_TRUE(OpaqueRef().is_null());
  EXPECT_FALSE(OpaqueRef("OpaqueRef:abc").is_null());
}

}  // namespace
}  // namespace fruix
