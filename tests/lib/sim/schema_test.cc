#include "lib/sim/schema.h"

#include <gtest/gtest.h>

namespace fruix::sim {
namespace {

using xenapi::Value;

// Given enum input in any case, When canonicalised, Then the IDL spelling comes back.
TEST(SchemaTest, EnumsAreCaseInsensitiveOnInputAndCanonicalOnOutput) {
  EXPECT_EQ(*CanonicalEnum("vm_power_state", "running"), "Running");
  EXPECT_EQ(*CanonicalEnum("vbd_mode", "rw"), "RW");
  EXPECT_EQ(*CanonicalEnum("vbd_type", "DISK"), "Disk");
  auto bad = CanonicalEnum("vbd_mode", "RX");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().IsXapi("INTERNAL_ERROR"));
}

// Given the VM class, Then its record starts like xapi's (uuid, allowed/current operations,
// power_state) and has the fields clients rely on.
TEST(SchemaTest, VmClassHasIdlFieldsInOrder) {
  const ClassSpec* vm = FindClass("VM");
  ASSERT_NE(vm, nullptr);
  ASSERT_GE(vm->fields.size(), 4u);
  EXPECT_EQ(vm->fields[0].name, "uuid");
  EXPECT_EQ(vm->fields[1].name, "allowed_operations");
  EXPECT_EQ(vm->fields[2].name, "current_operations");
  EXPECT_EQ(vm->fields[3].name, "power_state");
  for (const char* f : {"name_label", "resident_on", "domid", "VBDs", "VIFs", "consoles",
                        "guest_metrics", "other_config", "HVM_boot_policy", "PV_bootloader",
                        "domain_type", "memory_static_max", "VCPUs_max", "is_control_domain"}) {
    EXPECT_NE(vm->Find(f), nullptr) << f;
  }
  EXPECT_EQ(vm->Find("domid")->default_value, Value(int64_t{-1}));
  EXPECT_EQ(vm->Find("resident_on")->default_value, Value("OpaqueRef:NULL"));
  EXPECT_EQ(FindClass("vm"), nullptr);  // wire class names are case-sensitive
  EXPECT_EQ(EventClassName("VM_guest_metrics"), "vm_guest_metrics");
}

// Given RPC values of the wrong kind, When coerced to a field, Then ints accept xapi's string
// form but bools must be <boolean>.
TEST(SchemaTest, CoercionFollowsXapiUnmarshalling) {
  const ClassSpec* vm = FindClass("VM");
  EXPECT_EQ(*CoerceToField(*vm->Find("VCPUs_max"), Value("4")), Value(int64_t{4}));
  EXPECT_EQ(*CoerceToField(*vm->Find("VCPUs_max"), Value::Int32(4)), Value(int64_t{4}));
  EXPECT_FALSE(CoerceToField(*vm->Find("is_a_template"), Value("true")).ok());
  EXPECT_EQ(*CoerceToField(*vm->Find("is_a_template"), Value(true)), Value(true));
  EXPECT_EQ(*CoerceToField(*vm->Find("actions_after_crash"), Value("Destroy")), Value("destroy"));
  EXPECT_FALSE(CoerceToField(*vm->Find("other_config"), Value("x")).ok());
}

}  // namespace
}  // namespace fruix::sim
