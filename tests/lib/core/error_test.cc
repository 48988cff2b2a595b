#include "lib/core/error.h"

#include <gtest/gtest.h>

namespace fruix {
namespace {

// Given a XenAPI ErrorDescription, When it becomes an Error, Then code and params are kept
// verbatim.
TEST(ErrorTest, XapiKeepsCodeAndParams) {
  Error e = Error::Xapi({"VM_BAD_POWER_STATE", "OpaqueRef:1", "halted", "running"});
  EXPECT_TRUE(e.is_xapi());
  EXPECT_EQ(e.xapi_code(), "VM_BAD_POWER_STATE");
  EXPECT_EQ(e.xapi_params(), (std::vector<std::string>{"OpaqueRef:1", "halted", "running"}));
  EXPECT_TRUE(e.IsXapi("VM_BAD_POWER_STATE"));
  EXPECT_FALSE(e.IsXapi("SESSION_INVALID"));
  EXPECT_EQ(e.message(), "VM_BAD_POWER_STATE [OpaqueRef:1, halted, running]");
}

// Given an empty description, Then the error still has a code.
TEST(ErrorTest, EmptyXapiDescriptionGetsACode) {
  Error e = Error::Xapi(std::vector<std::string>{});
  EXPECT_EQ(e.xapi_code(), "UNKNOWN_ERROR");
}

// Given any error, When context is added, Then code and xapi data survive.
TEST(ErrorTest, WithContextKeepsCode) {
  Error e = Error::Xapi("SESSION_INVALID", {"OpaqueRef:x"}).WithContext("VM.start");
  EXPECT_TRUE(e.IsXapi("SESSION_INVALID"));
  EXPECT_EQ(e.message(), "VM.start: SESSION_INVALID [OpaqueRef:x]");
  EXPECT_EQ(Error::Timeout("boot").ToString(), "timeout: boot");
  EXPECT_EQ(Error::Timeout("boot").xapi_code(), "");
}

}  // namespace
}  // namespace fruix
