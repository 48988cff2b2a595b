// Tests of job::Resolve / EnsureHalted / EnsureAttached / StartVm (lib/job/vm_actions.h) against
// the in-process simulator.
#include "lib/job/vm_actions.h"

#include <gtest/gtest.h>

#include <memory>

#include "lib/http/curl_http_client.h"
#include "lib/xenapi/api.h"
#include "tests/support/sim_harness.h"

namespace fruix::job {
namespace {

using namespace std::chrono_literals;
using testing::SimHarness;

class VmActionsTest : public ::testing::Test {
 protected:
  void SetUp() override { Boot(SimHarness::DefaultFixture()); }
  void Boot(std::string fixture) {
    session_.reset();
    sim_ = SimHarness::Start(std::move(fixture));
    ASSERT_NE(sim_, nullptr);
    auto http = http::CurlHttpClient::Create({});
    ASSERT_TRUE(http.ok());
    http_ = std::move(http).value();
    xenapi::SessionOptions o;
    o.url = sim_->HttpUrl();
    o.username = SimHarness::kUsername;
    o.password = SimHarness::kPassword;
    session_ = std::make_unique<xenapi::Session>(*http_, o);
  }
  Deadline Soon() const { return Deadline(RealClock(), 10s); }
  xenapi::VmRecord Vm(const OpaqueRef& ref) {
    auto r = xenapi::Api(*session_).GetRecord<xenapi::VmRecord>(ref);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : xenapi::VmRecord{};
  }
  ResolvedTarget MustResolve(const char* vm, const char* vdi = SimHarness::kVdi) {
    auto t = Resolve(*session_, vm, vdi, SimHarness::kNetwork);
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    return t.ok() ? *t : ResolvedTarget{};
  }

  std::unique_ptr<SimHarness> sim_;
  std::unique_ptr<http::CurlHttpClient> http_;
  std::unique_ptr<xenapi::Session> session_;
};

// Given a template, an unknown VM uuid and an unknown network, When resolving, Then each is refused
// naming what is wrong.
TEST_F(VmActionsTest, ResolveRefusesTemplatesAndUnknownObjects) {
  auto tmpl = Resolve(*session_, SimHarness::kTemplate, SimHarness::kVdi, SimHarness::kNetwork);
  ASSERT_FALSE(tmpl.ok());
  EXPECT_EQ(tmpl.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(tmpl.error().message().find("template"), std::string::npos);

  const char* missing = "bbbbbbbb-0000-4000-8000-000000000099";
  auto vm = Resolve(*session_, missing, SimHarness::kVdi, SimHarness::kNetwork);
  ASSERT_FALSE(vm.ok());
  EXPECT_TRUE(vm.error().IsXapi("UUID_INVALID"));
  EXPECT_NE(vm.error().message().find(missing), std::string::npos);

  auto net = Resolve(*session_, SimHarness::kPvVm, SimHarness::kVdi, missing);
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.error().message().find("network"), std::string::npos);
}

// Given a running PV guest, When prepare runs with each policy, Then "refuse" fails, and
// clean-then-hard halts it with a clean shutdown.
TEST_F(VmActionsTest, EnsureHaltedFollowsPolicy) {
  ResolvedTarget t = MustResolve(SimHarness::kPvVm);
  ASSERT_TRUE(StartVm(*session_, t.vm, "", Soon(), {}).ok());

  auto refused = EnsureHalted(*session_, t.vm, ShutdownPolicy::kRefuse, 5s, Soon(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("Running"), std::string::npos);

  auto clean = EnsureHalted(*session_, t.vm, ShutdownPolicy::kCleanThenHard, 5s, Soon(), {});
  ASSERT_TRUE(clean.ok()) << clean.error().ToString();
  EXPECT_EQ(clean->found, xenapi::VmPowerState::kRunning);
  EXPECT_EQ(clean->action, "clean_shutdown");
  EXPECT_EQ(Vm(t.vm).power_state, xenapi::VmPowerState::kHalted);

  auto again = EnsureHalted(*session_, t.vm, ShutdownPolicy::kCleanThenHard, 5s, Soon(), {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->action, "none");
}

// Given a running HVM guest without PV drivers (xapi refuses its clean shutdown), When prepare
// runs clean-then-hard, Then it falls back to a hard shutdown and says why; with "clean" only it
// fails.
TEST_F(VmActionsTest, CleanShutdownRefusedFallsBackToHard) {
  Boot(R"({
    "credentials": {"username": "root", "password": "password"},
    "pool": {"uuid": "aaaaaaaa-0000-4000-8000-000000000001", "master": "aaaaaaaa-0000-4000-8000-000000000011"},
    "hosts": [{"uuid": "aaaaaaaa-0000-4000-8000-000000000011", "address": "127.0.0.1"}],
    "networks": [{"uuid": "aaaaaaaa-0000-4000-8000-000000000021", "name_label": "net0"}],
    "srs": [{"uuid": "aaaaaaaa-0000-4000-8000-000000000031", "shared": true, "backing_dir": "shared"}],
    "vdis": [{"uuid": "aaaaaaaa-0000-4000-8000-000000000041", "virtual_size": 8388608,
              "sr": "aaaaaaaa-0000-4000-8000-000000000031"}],
    "vms": [{"uuid": "aaaaaaaa-0000-4000-8000-000000000052", "name_label": "hvm-no-drivers",
             "domain_type": "hvm", "power_state": "Running"}]
  })");
  ResolvedTarget t = MustResolve(SimHarness::kHvmVm);
  auto clean_only = EnsureHalted(*session_, t.vm, ShutdownPolicy::kClean, 5s, Soon(), {});
  ASSERT_FALSE(clean_only.ok());
  EXPECT_EQ(Vm(t.vm).power_state, xenapi::VmPowerState::kRunning);

  auto r = EnsureHalted(*session_, t.vm, ShutdownPolicy::kCleanThenHard, 5s, Soon(), {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->action, "clean_shutdown then hard_shutdown");
  EXPECT_FALSE(r->detail.empty());
  EXPECT_EQ(Vm(t.vm).power_state, xenapi::VmPowerState::kHalted);
}

// Given the HVM guest without disks and with one VIF on net0, When attach runs without a MAC,
// Then a bootable RW VBD is created at userdevice 0 and the VIF is reused; When it runs again,
// Then nothing new is created and nothing changes.
TEST_F(VmActionsTest, AttachCreatesThenReuses) {
  ResolvedTarget t = MustResolve(SimHarness::kHvmVm, SimHarness::kSpareVdi);
  auto first = EnsureAttached(*session_, t, "");
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_TRUE(first->vbd_created);
  EXPECT_EQ(first->vbd_userdevice, "0");
  EXPECT_FALSE(first->vif_created);
  EXPECT_EQ(first->vif_device, "0");
  EXPECT_EQ(first->mac.size(), 17u);

  xenapi::Api api(*session_);
  auto vbd = api.GetRecord<xenapi::VbdRecord>(first->vbd);
  ASSERT_TRUE(vbd.ok());
  EXPECT_TRUE(vbd->bootable);
  EXPECT_EQ(vbd->mode, xenapi::VbdMode::kReadWrite);
  EXPECT_EQ(vbd->vdi, t.vdi);

  auto second = EnsureAttached(*session_, t, "");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->vbd_created);
  EXPECT_EQ(second->vbd, first->vbd);
  EXPECT_TRUE(second->vbd_changes.empty());
  EXPECT_FALSE(second->vif_created);
  EXPECT_EQ(second->vif, first->vif);
  EXPECT_EQ(Vm(t.vm).vbds.size(), 1u);
  EXPECT_EQ(Vm(t.vm).vifs.size(), 1u);
}

// Given the PV guest whose VBD to the target VDI is read-only, not bootable and at userdevice 2,
// and another bootable disk at 0 and a VIF with another MAC, When attach runs with a MAC, Then the
// VBD is fixed in place, the other disk stops being bootable, the VIF is replaced at its device
// with the asked MAC; a malformed MAC is refused naming it.
TEST_F(VmActionsTest, AttachRepairsVbdAndReplacesVifWithOtherMac) {
  ResolvedTarget t = MustResolve(SimHarness::kPvVm, SimHarness::kSpareVdi);
  xenapi::Api api(*session_);
  xenapi::VbdSpec spec;
  spec.vm = t.vm;
  spec.vdi = t.vdi;
  spec.userdevice = "2";
  spec.bootable = false;
  spec.mode = xenapi::VbdMode::kReadOnly;
  auto pre = api.VbdCreate(spec);
  ASSERT_TRUE(pre.ok()) << pre.error().ToString();

  auto bad = EnsureAttached(*session_, t, "aa:bb:cc:dd:ee");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("aa:bb:cc:dd:ee"), std::string::npos);

  auto r = EnsureAttached(*session_, t, "AA:00:00:00:00:99");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->vbd_created);
  EXPECT_EQ(r->vbd, *pre);
  EXPECT_EQ(r->vbd_changes,
            (std::vector<std::string>{"set bootable", "set mode RW"}));  // 0 is taken
  EXPECT_EQ(r->other_vbds_unbootable, (std::vector<std::string>{"0"}));
  EXPECT_TRUE(r->vif_created);
  EXPECT_EQ(r->vif_device, "0");
  EXPECT_EQ(r->mac, "aa:00:00:00:00:99");
  ASSERT_EQ(r->vif_changes.size(), 1u);
  EXPECT_NE(r->vif_changes[0].find("aa:00:00:00:00:51"), std::string::npos);
  EXPECT_EQ(Vm(t.vm).vifs.size(), 1u);

  auto vbd = api.GetRecord<xenapi::VbdRecord>(*pre);
  ASSERT_TRUE(vbd.ok());
  EXPECT_TRUE(vbd->bootable);
  EXPECT_EQ(vbd->mode, xenapi::VbdMode::kReadWrite);
}

// Given a halted VM, When StartVm runs on the pool member, Then it runs there with a domid and
// the member's address.
TEST_F(VmActionsTest, StartOnRecordsDomidAndHost) {
  ResolvedTarget t = MustResolve(SimHarness::kPvVm);
  auto r = StartVm(*session_, t.vm, SimHarness::kMember, Soon(), {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_GT(r->domid, 0);
  EXPECT_EQ(r->host_uuid, SimHarness::kMember);
  EXPECT_EQ(r->host_address, "127.0.0.2");
  EXPECT_EQ(Vm(t.vm).power_state, xenapi::VmPowerState::kRunning);

  auto again = StartVm(*session_, t.vm, "", Soon(), {});
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().IsXapi("VM_BAD_POWER_STATE"));
  ASSERT_TRUE(HardShutdownIfRunning(*session_, t.vm, Soon()).ok());
  EXPECT_EQ(Vm(t.vm).power_state, xenapi::VmPowerState::kHalted);
}

}  // namespace
}  // namespace fruix::job
