// VM power operations and scripted guests, over XML-RPC against an in-process simulator.
#include "lib/sim/vm_lifecycle.h"

#include <gtest/gtest.h>

#include "lib/sim/record_util.h"
#include "tests/support/sim_harness.h"

namespace fruix::sim {
namespace {

using testing::SimHarness;
using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

class VmLifecycleTest : public ::testing::Test {
 protected:
  void Start(std::string fixture = SimHarness::DefaultFixture()) {
    sim_ = SimHarness::Start(std::move(fixture));
    ASSERT_NE(sim_, nullptr);
    auto s = sim_->Login();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    session_ = *s;
  }
  void SetUp() override { Start(); }
  Result<Value> Call(std::string_view method, Array params) {
    params.insert(params.begin(), Value(session_));
    return sim_->CallOk(method, params);
  }
  Struct Record(const std::string& cls, const std::string& ref) {
    auto r = Call(cls + ".get_record", {Value(ref)});
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? r->structure() : Struct{};
  }
  std::unique_ptr<SimHarness> sim_;
  std::string session_;
};

// Given a halted VM, When it is shut down, Then VM_BAD_POWER_STATE lists the expected states
// lower-case joined by ", " and the actual state.
TEST_F(VmLifecycleTest, BadPowerStateParams) {
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  auto clean = Call("VM.clean_shutdown", {Value(vm)});
  ASSERT_FALSE(clean.ok());
  EXPECT_EQ(clean.error().xapi_description(),
            (std::vector<std::string>{"VM_BAD_POWER_STATE", vm, "running", "halted"}));
  auto hard = Call("VM.hard_shutdown", {Value(vm)});
  ASSERT_FALSE(hard.ok());
  EXPECT_EQ(
      hard.error().xapi_description(),
      (std::vector<std::string>{"VM_BAD_POWER_STATE", vm, "paused, suspended, running", "halted"}));
}

// Given a PV-style VM, When started, Then it runs on the master with a domid and both consoles,
// located on the host's address; a second start is VM_BAD_POWER_STATE [vm, halted, running].
TEST_F(VmLifecycleTest, StartGivesDomainAndConsoles) {
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  Struct r = Record("VM", vm);
  EXPECT_EQ(StrField(r, "power_state"), "Running");
  EXPECT_EQ(StrField(r, "resident_on"), sim_->RefOf("host", SimHarness::kMaster));
  EXPECT_GT(IntField(r, "domid"), 0);
  std::vector<std::string> protocols;
  for (const auto& c : StrSetField(r, "consoles")) {
    Struct con = Record("console", c);
    protocols.push_back(StrField(con, "protocol"));
    EXPECT_EQ(StrField(con, "location"), "https://127.0.0.1/console?uuid=" + StrField(con, "uuid"));
  }
  std::sort(protocols.begin(), protocols.end());
  EXPECT_EQ(protocols, (std::vector<std::string>{"rfb", "vt100"}));
  auto again = Call("VM.start", {Value(vm), Value(false), Value(false)});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().xapi_description(),
            (std::vector<std::string>{"VM_BAD_POWER_STATE", vm, "halted", "running"}));
}

// Given an HVM VM, When started, Then it only has an rfb console.
TEST_F(VmLifecycleTest, HvmHasOnlyRfb) {
  std::string vm = sim_->RefOf("VM", SimHarness::kHvmVm);
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  auto consoles = StrSetField(Record("VM", vm), "consoles");
  ASSERT_EQ(consoles.size(), 1u);
  EXPECT_EQ(StrField(Record("console", consoles[0]), "protocol"), "rfb");
}

// Given a running VM, When hard-shut down, Then domid is -1, resident_on NULL, and its console
// objects are gone.
TEST_F(VmLifecycleTest, HaltDestroysDomainState) {
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  auto consoles = StrSetField(Record("VM", vm), "consoles");
  ASSERT_TRUE(Call("VM.hard_shutdown", {Value(vm)}).ok());
  Struct r = Record("VM", vm);
  EXPECT_EQ(StrField(r, "power_state"), "Halted");
  EXPECT_EQ(IntField(r, "domid"), -1);
  EXPECT_EQ(StrField(r, "resident_on"), "OpaqueRef:NULL");
  EXPECT_TRUE(StrSetField(r, "consoles").empty());
  auto gone = Call("console.get_record", {Value(consoles[0])});
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().IsXapi("HANDLE_INVALID"));
}

// Given a running VM, When rebooted, Then it keeps running on the same host with a new domid.
TEST_F(VmLifecycleTest, RebootChangesDomid) {
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  int64_t before = IntField(Record("VM", vm), "domid");
  ASSERT_TRUE(Call("VM.hard_reboot", {Value(vm)}).ok());
  Struct r = Record("VM", vm);
  EXPECT_EQ(StrField(r, "power_state"), "Running");
  EXPECT_NE(IntField(r, "domid"), before);
}

// Given a template, When started, Then VM_IS_TEMPLATE [vm, start].
TEST_F(VmLifecycleTest, TemplateCannotStart) {
  std::string vm = sim_->RefOf("VM", SimHarness::kTemplate);
  auto r = Call("VM.start", {Value(vm), Value(false), Value(false)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().xapi_description(),
            (std::vector<std::string>{"VM_IS_TEMPLATE", vm, "start"}));
}

// Given a slow start running as a task, When another start arrives, Then
// OTHER_OPERATION_IN_PROGRESS [VM, vm, start, task].
TEST_F(VmLifecycleTest, OtherOperationInProgress) {
  std::string vm = sim_->RefOf("VM", SimHarness::kSlowVm);
  auto task = Call("Async.VM.start", {Value(vm), Value(false), Value(false)});
  ASSERT_TRUE(task.ok());
  auto busy = sim_->WaitFor(session_, "VM", vm, [](const Struct& r) {
    return !MapField(r, "current_operations").empty();
  });
  ASSERT_TRUE(busy.ok()) << busy.error().ToString();
  auto r = Call("VM.start", {Value(vm), Value(false), Value(false)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      r.error().xapi_description(),
      (std::vector<std::string>{"OTHER_OPERATION_IN_PROGRESS", "VM", vm, "start", task->string()}));
  auto done = sim_->WaitForTask(session_, task->string());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(StrField(*done, "status"), "success");
}

// Given an HVM guest without tools, When clean_shutdown is asked, Then VM_LACKS_FEATURE, and
// VM.shutdown falls back to a hard shutdown.
TEST_F(VmLifecycleTest, CleanShutdownNeedsPvDriversOnHvm) {
  sim_.reset();
  Start(R"({"credentials":{"password":"password"},
            "hosts":[{"uuid":"aaaaaaaa-0000-4000-8000-000000000011","address":"127.0.0.1"}],
            "vms":[{"uuid":"aaaaaaaa-0000-4000-8000-0000000000a1","domain_type":"hvm"}]})");
  std::string vm = sim_->RefOf("VM", "aaaaaaaa-0000-4000-8000-0000000000a1");
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  auto r = Call("VM.clean_shutdown", {Value(vm)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().xapi_description(), (std::vector<std::string>{"VM_LACKS_FEATURE", vm}));
  ASSERT_TRUE(Call("VM.shutdown", {Value(vm)}).ok());
  EXPECT_EQ(StrField(Record("VM", vm), "power_state"), "Halted");
}

// Given a guest scripted to crash with actions_after_crash=destroy, When it boots, Then it ends
// Halted with domid -1.
TEST_F(VmLifecycleTest, GuestCrashHaltsVm) {
  std::string vm = sim_->RefOf("VM", SimHarness::kCrashVm);
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  auto halted = sim_->WaitFor(
      session_, "VM", vm, [](const Struct& r) { return StrField(r, "power_state") == "Halted"; });
  ASSERT_TRUE(halted.ok()) << halted.error().ToString();
  EXPECT_EQ(IntField(*halted, "domid"), -1);
  EXPECT_TRUE(StrSetField(*halted, "consoles").empty());
}

// Given a guest with tools, When it boots, Then VM_guest_metrics appears with the IP under both
// "0/ip" and "0/ipv4/0".
TEST_F(VmLifecycleTest, GuestMetricsReportIp) {
  std::string vm = sim_->RefOf("VM", SimHarness::kHvmVm);
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  auto r = sim_->WaitFor(session_, "VM", vm, [](const Struct& rec) {
    return StrField(rec, "guest_metrics") != "OpaqueRef:NULL";
  });
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  Struct gm = Record("VM_guest_metrics", StrField(*r, "guest_metrics"));
  EXPECT_EQ(MapGet(gm, "networks", "0/ip"), "127.0.0.6");
  EXPECT_EQ(MapGet(gm, "networks", "0/ipv4/0"), "127.0.0.6");
}

// Given a VM whose disk lives on the member's local SR, When started, Then it runs there; and
// start_on the master is VM_REQUIRES_SR.
TEST_F(VmLifecycleTest, LocalSrPicksItsHost) {
  std::string vm = sim_->RefOf("VM", SimHarness::kSlowVm);
  Struct vbd;
  vbd.Set("VM", Value(vm));
  vbd.Set("VDI", Value(sim_->RefOf("VDI", SimHarness::kLocalVdi)));
  vbd.Set("userdevice", Value("autodetect"));
  vbd.Set("bootable", Value(true));
  vbd.Set("mode", Value("RW"));
  vbd.Set("type", Value("Disk"));
  vbd.Set("empty", Value(false));
  vbd.Set("other_config", Value(Struct{}));
  vbd.Set("qos_algorithm_type", Value(""));
  vbd.Set("qos_algorithm_params", Value(Struct{}));
  ASSERT_TRUE(Call("VBD.create", {Value(vbd)}).ok());
  std::string master = sim_->RefOf("host", SimHarness::kMaster);
  auto on_master = Call("VM.start_on", {Value(vm), Value(master), Value(false), Value(false)});
  ASSERT_FALSE(on_master.ok());
  EXPECT_EQ(
      on_master.error().xapi_description(),
      (std::vector<std::string>{"VM_REQUIRES_SR", vm, sim_->RefOf("SR", SimHarness::kLocalSr)}));
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  EXPECT_EQ(StrField(Record("VM", vm), "resident_on"), sim_->RefOf("host", SimHarness::kMember));
}

}  // namespace
}  // namespace fruix::sim
