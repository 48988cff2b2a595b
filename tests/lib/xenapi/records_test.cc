#include "lib/xenapi/records.h"

#include <gtest/gtest.h>

#include "lib/xenapi/codec.h"

namespace fruix::xenapi {
namespace {

// Wraps record members (already XML) in a get_record success envelope and decodes it, so each
// test parses exactly what xapi puts on the wire (xenapi-spec.md §1.3: untyped strings and ints).
Value Record(const std::string& members) {
  std::string xml =
      "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
      "<member><name>Status</name><value>Success</value></member>"
      "<member><name>Value</name><value><struct>" +
      members + "</struct></value></member></struct></value></param></params></methodResponse>";
  auto decoded = DecodeResponse(xml);
  EXPECT_TRUE(decoded.ok()) << decoded.error().ToString();
  auto v = UnwrapEnvelope(*decoded);
  EXPECT_TRUE(v.ok());
  return *v;
}

std::string M(const std::string& name, const std::string& value_xml) {
  return "<member><name>" + name + "</name>" + value_xml + "</member>";
}
std::string S(const std::string& s) { return "<value>" + s + "</value>"; }
std::string B(bool b) {
  return b ? "<value><boolean>1</boolean></value>" : "<value><boolean>0</boolean></value>";
}
std::string A(std::initializer_list<std::string> items) {
  std::string out = "<value><array><data>";
  for (const auto& i : items) out += S(i);
  return out + "</data></array></value>";
}
std::string Map(std::initializer_list<std::pair<std::string, std::string>> kv) {
  std::string out = "<value><struct>";
  for (const auto& [k, v] : kv) out += M(k, S(v));
  return out + "</struct></value>";
}

std::string RunningVm() {
  return M("uuid", S("3f2c1a7e-0b1d-4c2e-9f00-123456789abc")) + M("allowed_operations", A({})) +
         M("name_label", S("fruix-test")) + M("name_description", "<value/>") +
         M("power_state", S("Running")) + M("user_version", S("1")) + M("is_a_template", B(false)) +
         M("is_control_domain", B(false)) + M("resident_on", S("OpaqueRef:host1")) +
         M("memory_static_max", S("4294967296")) + M("VCPUs_max", S("2")) + M("domid", S("7")) +
         M("domain_type", S("hvm")) + M("HVM_boot_policy", S("BIOS order")) +
         M("PV_bootloader", "<value></value>") + M("platform", Map({{"viridian", "false"}})) +
         M("VBDs", A({"OpaqueRef:vbd0", "OpaqueRef:vbd1"})) + M("VIFs", A({"OpaqueRef:vif0"})) +
         M("consoles", A({"OpaqueRef:con0"})) + M("guest_metrics", S("OpaqueRef:NULL")) +
         M("other_config", Map({{"fruix-job", "42"}, {"mac_seed", "abc"}})) +
         M("start_time", "<value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value>");
}

// Given a running VM's record as xapi encodes it, When parsed, Then every field fruixd needs is
// typed (ints from untyped strings, refs, sets, maps, enum).
TEST(RecordsTest, ParsesVmRecord) {
  auto vm = VmRecord::Parse(Record(RunningVm()));
  ASSERT_TRUE(vm.ok()) << vm.error().ToString();
  EXPECT_EQ(vm->uuid.str(), "3f2c1a7e-0b1d-4c2e-9f00-123456789abc");
  EXPECT_EQ(vm->name_label, "fruix-test");
  EXPECT_EQ(vm->power_state, VmPowerState::kRunning);
  EXPECT_FALSE(vm->is_a_template);
  EXPECT_EQ(vm->resident_on.str(), "OpaqueRef:host1");
  EXPECT_EQ(vm->domid, 7);
  EXPECT_EQ(vm->vbds, (RefList{OpaqueRef("OpaqueRef:vbd0"), OpaqueRef("OpaqueRef:vbd1")}));
  EXPECT_EQ(vm->vifs.size(), 1u);
  EXPECT_EQ(vm->consoles.size(), 1u);
  EXPECT_TRUE(vm->guest_metrics.is_null());
  EXPECT_EQ(vm->other_config.at("fruix-job"), "42");
  EXPECT_EQ(vm->domain_type, "hvm");
  EXPECT_EQ(vm->hvm_boot_policy, "BIOS order");
  EXPECT_EQ(vm->pv_bootloader, "");
  EXPECT_EQ(vm->platform.at("viridian"), "false");
}

// Given a halted VM from an older xapi without the HVM hint fields, Then they default to empty.
TEST(RecordsTest, VmOptionalFieldsDefault) {
  std::string halted = M("uuid", S("u")) + M("name_label", S("old")) +
                       M("power_state", S("halted")) + M("is_a_template", B(false)) +
                       M("resident_on", S("OpaqueRef:NULL")) + M("domid", S("-1")) +
                       M("VBDs", A({})) + M("VIFs", A({})) + M("consoles", A({})) +
                       M("guest_metrics", S("OpaqueRef:NULL")) + M("other_config", Map({}));
  auto vm = VmRecord::Parse(Record(halted));
  ASSERT_TRUE(vm.ok()) << vm.error().ToString();
  EXPECT_EQ(vm->power_state, VmPowerState::kHalted);  // enum parsing is case-insensitive
  EXPECT_EQ(vm->domid, -1);
  EXPECT_TRUE(vm->resident_on.is_null());
  EXPECT_EQ(vm->domain_type, "");
  EXPECT_TRUE(vm->platform.empty());
}

// Given records with a missing or mistyped required field, Then parsing fails with kProtocol
// naming the class and the field.
TEST(RecordsTest, MissingOrWrongFieldIsProtocolError) {
  std::string no_power = RunningVm();
  no_power.erase(no_power.find(M("power_state", S("Running"))),
                 M("power_state", S("Running")).size());
  auto missing = VmRecord::Parse(Record(no_power));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(missing.error().message().find("VM"), std::string::npos);
  EXPECT_NE(missing.error().message().find("power_state"), std::string::npos);

  std::string bad_domid = RunningVm();
  bad_domid.replace(bad_domid.find(M("domid", S("7"))), M("domid", S("7")).size(),
                    M("domid", S("seven")));
  auto wrong = VmRecord::Parse(Record(bad_domid));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("domid"), std::string::npos);

  std::string bad_state = RunningVm();
  bad_state.replace(bad_state.find(S("Running")), S("Running").size(), S("Exploded"));
  auto unknown = VmRecord::Parse(Record(bad_state));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("Exploded"), std::string::npos);

  auto not_struct = VmRecord::Parse(Value("OpaqueRef:x"));
  ASSERT_FALSE(not_struct.ok());
  EXPECT_EQ(not_struct.error().code(), ErrorCode::kProtocol);
}

// Given storage records (VDI, VBD, SR, PBD) as xapi encodes them, Then they parse.
TEST(RecordsTest, ParsesStorageRecords) {
  auto vdi = VdiRecord::Parse(Record(
      M("uuid", S("vdi-u")) + M("name_label", S("disk")) + M("virtual_size", S("10737418240")) +
      M("physical_utilisation", S("0")) + M("SR", S("OpaqueRef:sr")) + M("VBDs", A({})) +
      M("read_only", B(false)) + M("sharable", B(false)) + M("type", S("user")) +
      M("other_config", Map({{"k", "v"}}))));
  ASSERT_TRUE(vdi.ok()) << vdi.error().ToString();
  EXPECT_EQ(vdi->virtual_size, 10737418240LL);
  EXPECT_EQ(vdi->sr.str(), "OpaqueRef:sr");
  EXPECT_EQ(vdi->type, "user");

  auto vbd = VbdRecord::Parse(Record(
      M("uuid", S("vbd-u")) + M("VM", S("OpaqueRef:vm")) + M("VDI", S("OpaqueRef:NULL")) +
      M("device", S("")) + M("userdevice", S("3")) + M("bootable", B(true)) + M("mode", S("RO")) +
      M("type", S("CD")) + M("empty", B(true)) + M("currently_attached", B(false))));
  ASSERT_TRUE(vbd.ok()) << vbd.error().ToString();
  EXPECT_EQ(vbd->mode, VbdMode::kReadOnly);
  EXPECT_EQ(vbd->type, VbdType::kCd);
  EXPECT_TRUE(vbd->vdi.is_null());
  EXPECT_TRUE(vbd->bootable);

  auto sr = SrRecord::Parse(Record(M("uuid", S("sr-u")) + M("name_label", S("Local storage")) +
                                   M("type", S("ext")) + M("content_type", S("user")) +
                                   M("shared", B(false)) + M("PBDs", A({"OpaqueRef:pbd"})) +
                                   M("VDIs", A({"OpaqueRef:vdi"}))));
  ASSERT_TRUE(sr.ok()) << sr.error().ToString();
  EXPECT_FALSE(sr->shared);
  EXPECT_EQ(sr->pbds.size(), 1u);

  auto pbd =
      PbdRecord::Parse(Record(M("uuid", S("pbd-u")) + M("host", S("OpaqueRef:h")) +
                              M("SR", S("OpaqueRef:sr")) + M("currently_attached", B(true))));
  ASSERT_TRUE(pbd.ok()) << pbd.error().ToString();
  EXPECT_TRUE(pbd->currently_attached);
}

// Given network-side and pool records, Then they parse (MTU as an untyped int).
TEST(RecordsTest, ParsesNetworkHostPoolRecords) {
  auto vif = VifRecord::Parse(Record(M("uuid", S("vif-u")) + M("device", S("0")) +
                                     M("network", S("OpaqueRef:net")) + M("VM", S("OpaqueRef:vm")) +
                                     M("MAC", S("aa:bb:cc:dd:ee:ff")) + M("MTU", S("1500")) +
                                     M("currently_attached", B(true))));
  ASSERT_TRUE(vif.ok()) << vif.error().ToString();
  EXPECT_EQ(vif->mtu, 1500);
  EXPECT_EQ(vif->mac, "aa:bb:cc:dd:ee:ff");

  auto net = NetworkRecord::Parse(Record(M("uuid", S("net-u")) + M("name_label", S("Pool-wide")) +
                                         M("bridge", S("xenbr0")) + M("MTU", S("9000"))));
  ASSERT_TRUE(net.ok()) << net.error().ToString();
  EXPECT_EQ(net->bridge, "xenbr0");
  EXPECT_EQ(net->mtu, 9000);

  auto host = HostRecord::Parse(Record(
      M("uuid", S("h-u")) + M("name_label", S("xcp1")) + M("address", S("fd00::1")) +
      M("enabled", B(true)) + M("API_version_major", S("2")) + M("API_version_minor", S("21"))));
  ASSERT_TRUE(host.ok()) << host.error().ToString();
  EXPECT_EQ(host->address, "fd00::1");
  EXPECT_EQ(host->api_version_minor, 21);

  auto pool = PoolRecord::Parse(
      Record(M("uuid", S("p-u")) + M("name_label", S("")) + M("master", S("OpaqueRef:h"))));
  ASSERT_TRUE(pool.ok()) << pool.error().ToString();
  EXPECT_EQ(pool->master.str(), "OpaqueRef:h");
}

// Given task, console and guest-metrics records, Then status/progress/result/error_info, protocol
// and the networks map parse.
TEST(RecordsTest, ParsesTaskConsoleGuestMetrics) {
  auto task = TaskRecord::Parse(Record(
      M("uuid", S("t-u")) + M("name_label", S("Async.VM.start")) + M("status", S("failure")) +
      M("progress", "<value><double>1</double></value>") + M("result", "<value/>") +
      M("error_info", A({"VM_BAD_POWER_STATE", "OpaqueRef:vm", "halted", "running"}))));
  ASSERT_TRUE(task.ok()) << task.error().ToString();
  EXPECT_EQ(task->status, TaskStatus::kFailure);
  EXPECT_DOUBLE_EQ(task->progress, 1.0);
  EXPECT_EQ(task->error_info.size(), 4u);
  EXPECT_TRUE(IsFinished(task->status));

  auto console =
      ConsoleRecord::Parse(Record(M("uuid", S("c-u")) + M("protocol", S("vt100")) +
                                  M("location", S("https://10.0.0.1/console?uuid=c-u")) +
                                  M("VM", S("OpaqueRef:vm")) + M("other_config", Map({}))));
  ASSERT_TRUE(console.ok()) << console.error().ToString();
  EXPECT_EQ(console->protocol, ConsoleProtocol::kVt100);

  auto gm = GuestMetricsRecord::Parse(
      Record(M("uuid", S("g-u")) +
             M("networks",
               Map({{"0/ip", "10.0.0.5"}, {"0/ipv4/0", "10.0.0.5"}, {"0/ipv6/0", "fe80::1"}})) +
             M("live", B(true))));
  ASSERT_TRUE(gm.ok()) << gm.error().ToString();
  EXPECT_EQ(gm->networks.at("0/ip"), "10.0.0.5");
  EXPECT_TRUE(gm->live);
}

// Given each enum's wire spelling, Then ToString and Parse are inverse.
TEST(RecordsTest, EnumsRoundTrip) {
  for (auto s : {VmPowerState::kHalted, VmPowerState::kPaused, VmPowerState::kRunning,
                 VmPowerState::kSuspended}) {
    EXPECT_EQ(*ParseVmPowerState(ToString(s)), s);
  }
  for (auto s : {TaskStatus::kPending, TaskStatus::kSuccess, TaskStatus::kFailure,
                 TaskStatus::kCancelling, TaskStatus::kCancelled}) {
    EXPECT_EQ(*ParseTaskStatus(ToString(s)), s);
  }
  EXPECT_EQ(ToString(VbdMode::kReadWrite), "RW");
  EXPECT_EQ(ToString(VbdType::kDisk), "Disk");
  EXPECT_EQ(ToString(ConsoleProtocol::kRfb), "rfb");
  EXPECT_FALSE(ParseVbdType("Tape").ok());
}

}  // namespace
}  // namespace fruix::xenapi
