// VBD/VIF/VDI constructors and their server-side checks (xenapi-spec.md §3.3, §3.4).
#include <gtest/gtest.h>

#include <filesystem>

#include "lib/sim/methods.h"
#include "lib/sim/record_util.h"
#include "tests/support/sim_harness.h"

namespace fruix::sim {
namespace {

using testing::SimHarness;
using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

class DevicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    session_ = *sim_->Login();
  }
  Result<Value> Call(std::string_view method, Array params) {
    params.insert(params.begin(), Value(session_));
    return sim_->CallOk(method, params);
  }
  std::vector<std::string> Err(std::string_view method, Array params) {
    auto r = Call(method, std::move(params));
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::vector<std::string>{} : r.error().xapi_description();
  }
  Struct Vbd(const std::string& vdi_uuid, const std::string& userdevice, const char* mode) {
    Struct s;
    s.Set("VM", Value(sim_->RefOf("VM", SimHarness::kHvmVm)));
    s.Set("VDI", Value(sim_->RefOf("VDI", vdi_uuid)));
    s.Set("userdevice", Value(userdevice));
    s.Set("bootable", Value(false));
    s.Set("mode", Value(mode));
    s.Set("type", Value("Disk"));
    s.Set("empty", Value(false));
    s.Set("other_config", Value(Struct{}));
    s.Set("qos_algorithm_type", Value(""));
    s.Set("qos_algorithm_params", Value(Struct{}));
    return s;
  }
  Struct Vif(const std::string& vm_uuid, const std::string& device, const std::string& mac) {
    Struct s;
    s.Set("device", Value(device));
    s.Set("network", Value(sim_->RefOf("network", SimHarness::kNetwork)));
    s.Set("VM", Value(sim_->RefOf("VM", vm_uuid)));
    s.Set("MAC", Value(mac));
    s.Set("MTU", Value("1500"));
    s.Set("other_config", Value(Struct{}));
    s.Set("qos_algorithm_type", Value(""));
    s.Set("qos_algorithm_params", Value(Struct{}));
    return s;
  }
  std::unique_ptr<SimHarness> sim_;
  std::string session_;
};

// Given a valid VBD struct (as XO sends it), Then the VBD exists with defaults for the optional
// members, appears in VM.VBDs and VDI.VBDs, and the slot leaves get_allowed_VBD_devices.
TEST_F(DevicesTest, VbdCreateWithDefaults) {
  auto vbd = Call("VBD.create", {Value(Vbd(SimHarness::kSpareVdi, "1", "rw"))});
  ASSERT_TRUE(vbd.ok()) << vbd.error().ToString();
  auto rec = Call("VBD.get_record", {*vbd});
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(StrField(rec->structure(), "mode"), "RW");
  EXPECT_TRUE(BoolField(rec->structure(), "unpluggable"));
  EXPECT_FALSE(BoolField(rec->structure(), "currently_attached"));
  EXPECT_EQ(StrField(rec->structure(), "device"), "");
  std::string vm = sim_->RefOf("VM", SimHarness::kHvmVm);
  auto vbds = Call("VM.get_VBDs", {Value(vm)});
  EXPECT_EQ(*vbds->ToStringArray(), std::vector<std::string>{vbd->string()});
  auto allowed = Call("VM.get_allowed_VBD_devices", {Value(vm)});
  auto devs = *allowed->ToStringArray();
  EXPECT_EQ(std::find(devs.begin(), devs.end(), "1"), devs.end());
  EXPECT_NE(std::find(devs.begin(), devs.end(), "0"), devs.end());
}

// Given invalid VBD requests, Then xapi's errors: VDI_READONLY, INVALID_DEVICE,
// DEVICE_ALREADY_EXISTS (also for another name of the same disk), VBD_NOT_REMOVABLE_MEDIA.
TEST_F(DevicesTest, VbdCreateChecks) {
  std::string ro = sim_->RefOf("VDI", SimHarness::kReadOnlyVdi);
  EXPECT_EQ(Err("VBD.create", {Value(Vbd(SimHarness::kReadOnlyVdi, "1", "RW"))}),
            (std::vector<std::string>{"VDI_READONLY", ro}));
  EXPECT_EQ(Err("VBD.create", {Value(Vbd(SimHarness::kSpareVdi, "floppy", "RW"))}),
            (std::vector<std::string>{"INVALID_DEVICE", "floppy"}));
  ASSERT_TRUE(Call("VBD.create", {Value(Vbd(SimHarness::kSpareVdi, "2", "RW"))}).ok());
  EXPECT_EQ(Err("VBD.create", {Value(Vbd(SimHarness::kSpareVdi, "xvdc", "RO"))}),
            (std::vector<std::string>{"DEVICE_ALREADY_EXISTS", "xvdc"}));
  Struct empty_disk = Vbd(SimHarness::kSpareVdi, "3", "RW");
  empty_disk.Set("empty", Value(true));
  EXPECT_EQ(Err("VBD.create", {Value(empty_disk)}),
            (std::vector<std::string>{"VBD_NOT_REMOVABLE_MEDIA", "in constructor"}));
  auto auto_dev = Call("VBD.create", {Value(Vbd(SimHarness::kSpareVdi, "autodetect", "RO"))});
  ASSERT_TRUE(auto_dev.ok());
  EXPECT_EQ(*Call("VBD.get_userdevice", {*auto_dev}), Value("0"));
}

// Given VIF requests, Then: "" MAC without mac_seed is MAC_INVALID, bad device INVALID_DEVICE,
// a duplicate device DEVICE_ALREADY_EXISTS; a valid one shows up on the VM and the network.
TEST_F(DevicesTest, VifCreateChecks) {
  std::string vm = sim_->RefOf("VM", SimHarness::kHvmVm);
  ASSERT_TRUE(Call("VM.remove_from_other_config", {Value(vm), Value("mac_seed")}).ok());
  EXPECT_EQ(Err("VIF.create", {Value(Vif(SimHarness::kHvmVm, "1", ""))}),
            (std::vector<std::string>{"MAC_INVALID", ""}));
  EXPECT_EQ(Err("VIF.create", {Value(Vif(SimHarness::kHvmVm, "eth1", "aa:bb:cc:dd:ee:ff"))}),
            (std::vector<std::string>{"INVALID_DEVICE", "eth1"}));
  EXPECT_EQ(Err("VIF.create", {Value(Vif(SimHarness::kHvmVm, "0", "aa:bb:cc:dd:ee:ff"))}),
            (std::vector<std::string>{"DEVICE_ALREADY_EXISTS", "0"}));
  auto vif = Call("VIF.create", {Value(Vif(SimHarness::kHvmVm, "1", "AA:BB:CC:DD:EE:01"))});
  ASSERT_TRUE(vif.ok()) << vif.error().ToString();
  auto rec = Call("VIF.get_record", {*vif})->structure();
  EXPECT_EQ(StrField(rec, "locking_mode"), "network_default");
  EXPECT_EQ(IntField(rec, "MTU"), 1500);
  auto nets = Call("network.get_VIFs", {Value(sim_->RefOf("network", SimHarness::kNetwork))});
  auto list = *nets->ToStringArray();
  EXPECT_NE(std::find(list.begin(), list.end(), vif->string()), list.end());
  auto allowed = *Call("VM.get_allowed_VIF_devices", {Value(vm)})->ToStringArray();
  EXPECT_EQ(allowed.front(), "2");
  ASSERT_TRUE(Call("VIF.destroy", {*vif}).ok());
}

// Given VDI.create on an ext SR, Then the size is rounded to the 2 MiB VHD block, a sparse
// backing file of that size exists, and VDI.destroy removes both.
TEST_F(DevicesTest, VdiCreateAndDestroy) {
  Struct v;
  v.Set("name_label", Value("new"));
  v.Set("name_description", Value(""));
  v.Set("SR", Value(sim_->RefOf("SR", SimHarness::kLocalSr)));
  v.Set("virtual_size", Value("1000000"));
  v.Set("type", Value("user"));
  v.Set("sharable", Value(false));
  v.Set("read_only", Value(false));
  v.Set("other_config", Value(Struct{}));
  auto vdi = Call("VDI.create", {Value(v)});
  ASSERT_TRUE(vdi.ok()) << vdi.error().ToString();
  EXPECT_EQ(*Call("VDI.get_virtual_size", {*vdi})->ToInt(), 2097152);  // ints arrive as strings
  std::string uuid = Call("VDI.get_uuid", {*vdi})->string();
  std::filesystem::path file =
      std::filesystem::path(sim_->state_dir()) / "local2" / (uuid + ".img");
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_EQ(std::filesystem::file_size(file), 2097152u);
  ASSERT_TRUE(Call("VDI.destroy", {*vdi}).ok());
  EXPECT_FALSE(std::filesystem::exists(file));
}

// Given hot-plug on a halted VM, Then VM_BAD_POWER_STATE [vm, running, halted]; on a running VM
// a plugged VBD can be unplugged and unplugging twice is DEVICE_ALREADY_DETACHED.
TEST_F(DevicesTest, PlugAndUnplug) {
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  std::string vbd = Call("VM.get_VBDs", {Value(vm)})->array().front().string();
  EXPECT_EQ(Err("VBD.unplug", {Value(vbd)}),
            (std::vector<std::string>{"VM_BAD_POWER_STATE", vm, "running", "halted"}));
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  EXPECT_EQ(*Call("VBD.get_currently_attached", {Value(vbd)}), Value(true));
  ASSERT_TRUE(Call("VBD.unplug", {Value(vbd)}).ok());
  EXPECT_EQ(Err("VBD.unplug", {Value(vbd)}),
            (std::vector<std::string>{"DEVICE_ALREADY_DETACHED", vbd}));
  ASSERT_TRUE(Call("VBD.plug", {Value(vbd)}).ok());
}

// Given the PV guest running on the master with its disk on the shared SR, When the master's
// PBD of that SR is unplugged, Then VDI_IN_USE names the disk; after the guest halts the unplug
// succeeds (twice: the second does nothing), and PBD.plug attaches the PBD again.
TEST_F(DevicesTest, PbdUnplugRefusedWhileDisksAttachedOnItsHost) {
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  std::string master = sim_->RefOf("host", SimHarness::kMaster);
  std::string pbd;
  auto pbds = Call("SR.get_PBDs", {Value(sim_->RefOf("SR", SimHarness::kSharedSr))});
  ASSERT_TRUE(pbds.ok()) << pbds.error().ToString();
  for (const Value& p : pbds->array()) {
    auto host = Call("PBD.get_host", {p});
    ASSERT_TRUE(host.ok()) << host.error().ToString();
    if (host->string() == master) pbd = p.string();
  }
  ASSERT_FALSE(pbd.empty());
  ASSERT_TRUE(Call("VM.start", {Value(vm), Value(false), Value(false)}).ok());
  ASSERT_EQ(Call("VM.get_resident_on", {Value(vm)})->string(), master);
  EXPECT_EQ(Err("PBD.unplug", {Value(pbd)}),
            (std::vector<std::string>{"VDI_IN_USE", sim_->RefOf("VDI", SimHarness::kVdi)}));
  ASSERT_TRUE(Call("VM.hard_shutdown", {Value(vm)}).ok());
  ASSERT_TRUE(Call("PBD.unplug", {Value(pbd)}).ok());
  ASSERT_TRUE(Call("PBD.unplug", {Value(pbd)}).ok());
  EXPECT_EQ(*Call("PBD.get_currently_attached", {Value(pbd)}), Value(false));
  ASSERT_TRUE(Call("PBD.plug", {Value(pbd)}).ok());
  EXPECT_EQ(*Call("PBD.get_currently_attached", {Value(pbd)}), Value(true));
}

}  // namespace
}  // namespace fruix::sim
