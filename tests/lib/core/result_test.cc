#include "lib/core/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace fruix {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Error::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  FRUIX_ASSIGN_OR_RETURN(int h, Half(x));
  FRUIX_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Result<void> CheckEven(int x) {
  FRUIX_RETURN_IF_ERROR(Half(x));
  return Ok();
}

// Given a chain of fallible steps, When one fails, Then its error propagates unchanged.
TEST(ResultTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "odd: 3");
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST(ResultTest, VoidResult) {
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(3).ok());
  EXPECT_EQ(CheckEven(3).error().message(), "odd: 3");
}

// Given a move-only payload, Then Result moves it out without copies.
TEST(ResultTest, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(ResultTest, AccessingTheWrongSideAborts) {
  Result<int> r = Error::NotFound("x");
  EXPECT_DEATH((void)r.value(), "");
  Result<int> ok = 1;
  EXPECT_DEATH((void)ok.error(), "");
}

}  // namespace
}  // namespace fruix
