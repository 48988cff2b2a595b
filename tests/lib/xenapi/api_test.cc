#include "lib/xenapi/api.h"

#include <gtest/gtest.h>

#include "tests/support/fake_http_client.h"
#include "tests/support/fake_xapi.h"

namespace fruix::xenapi {
namespace {

using fruix::testing::FakeHttpClient;
using fruix::testing::FakeXapi;

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() {
    xapi_.Install(http_);
    SessionOptions o;
    o.url = "https://10.0.0.1/";
    o.username = "root";
    o.password = "secret";
    session_ = std::make_unique<Session>(http_, o);
  }
  // The params of the last call of `method` (without the session ref).
  Array LastParams(const std::string& method) {
    auto calls = http_.calls();
    for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
      if (it->method == method) return Array(it->params.begin() + 1, it->params.end());
    }
    ADD_FAILURE() << "no call to " << method;
    return {};
  }
  static std::vector<std::string> MemberNames(const Value& v) {
    std::vector<std::string> out;
    for (const auto& [k, m] : v.structure()) out.push_back(k);
    std::sort(out.begin(), out.end());
    return out;
  }

  FakeHttpClient http_;
  FakeXapi xapi_;
  std::unique_ptr<Session> session_;
};

Struct NetworkStruct(const std::string& uuid) {
  return Struct{{"uuid", Value(uuid)},
                {"name_label", Value("net")},
                {"bridge", Value("xenbr0")},
                {"MTU", Value("1500")},
                {"other_config", Value(Struct{})}};
}

// Given a known and an unknown uuid, When looked up, Then the ref comes back, or UUID_INVALID.
TEST_F(ApiTest, GetByUuid) {
  xapi_.On("VM.get_by_uuid", [](const Array& p) -> Result<Value> {
    if (p.at(0).string() == "known") return Value("OpaqueRef:vm1");
    return Error::Xapi("UUID_INVALID", {"VM", p.at(0).string()});
  });
  Api api(*session_);
  auto ref = api.GetByUuid<VmRecord>("known");
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();
  EXPECT_EQ(ref->str(), "OpaqueRef:vm1");
  auto missing = api.GetByUuid<VmRecord>("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().IsXapi("UUID_INVALID"));
  EXPECT_EQ(missing.error().xapi_params(), (std::vector<std::string>{"VM", "nope"}));
}

// Given stored records, When fetched singly and all at once, Then they parse into typed records
// keyed by ref; an unknown ref is HANDLE_INVALID.
TEST_F(ApiTest, GetRecordAndGetAllRecords) {
  xapi_.Put("network", "OpaqueRef:n1", NetworkStruct("u1"));
  xapi_.On("network.get_all_records", [](const Array&) -> Result<Value> {
    return Value(Struct{{"OpaqueRef:n1", Value(NetworkStruct("u1"))},
                        {"OpaqueRef:n2", Value(NetworkStruct("u2"))}});
  });
  Api api(*session_);
  auto one = api.GetRecord<NetworkRecord>(OpaqueRef("OpaqueRef:n1"));
  ASSERT_TRUE(one.ok()) << one.error().ToString();
  EXPECT_EQ(one->uuid.str(), "u1");
  EXPECT_EQ(one->mtu, 1500);
  auto all = api.GetAllRecords<NetworkRecord>();
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at(OpaqueRef("OpaqueRef:n2")).uuid.str(), "u2");
  auto bad = api.GetRecord<NetworkRecord>(OpaqueRef("OpaqueRef:zz"));
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().IsXapi("HANDLE_INVALID"));
}

// Given a get_all_records with one malformed record, Then the error names that ref.
TEST_F(ApiTest, GetAllRecordsMalformedNamesRef) {
  xapi_.On("network.get_all_records", [](const Array&) -> Result<Value> {
    Struct broken = NetworkStruct("u2");
    broken.Erase("bridge");
    return Value(Struct{{"OpaqueRef:n2", Value(broken)}});
  });
  auto all = Api(*session_).GetAllRecords<NetworkRecord>();
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(all.error().message().find("OpaqueRef:n2"), std::string::npos);
  EXPECT_NE(all.error().message().find("bridge"), std::string::npos);
}

// Given a VBD spec, When created, Then VBD.create gets one struct with exactly the member set of
// spec §3.3 (as XO sends it), with bools as booleans and enums in wire case.
TEST_F(ApiTest, VbdCreateSendsExactMembers) {
  xapi_.On("VBD.create", [](const Array&) -> Result<Value> { return Value("OpaqueRef:vbd"); });
  VbdSpec spec;
  spec.vm = OpaqueRef("OpaqueRef:vm");
  spec.vdi = OpaqueRef("OpaqueRef:vdi");
  spec.userdevice = "1";
  spec.bootable = true;
  spec.unpluggable = false;
  auto ref = Api(*session_).VbdCreate(spec);
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();
  EXPECT_EQ(ref->str(), "OpaqueRef:vbd");
  Array p = LastParams("VBD.create");
  ASSERT_EQ(p.size(), 1u);
  ASSERT_TRUE(p[0].is_struct());
  EXPECT_EQ(MemberNames(p[0]),
            (std::vector<std::string>{"VDI", "VM", "bootable", "empty", "mode", "other_config",
                                      "qos_algorithm_params", "qos_algorithm_type", "type",
                                      "unpluggable", "userdevice"}));
  const Struct& s = p[0].structure();
  EXPECT_EQ(s.Find("mode")->string(), "RW");
  EXPECT_EQ(s.Find("type")->string(), "Disk");
  EXPECT_EQ(s.Find("bootable")->kind(), Value::Kind::kBool);
  EXPECT_TRUE(s.Find("bootable")->boolean());
  EXPECT_FALSE(s.Find("unpluggable")->boolean());
  EXPECT_EQ(s.Find("userdevice")->string(), "1");
  EXPECT_TRUE(s.Find("qos_algorithm_params")->is_struct());
}

// Given a VIF spec, When created, Then VIF.create gets the required members of §3.4 with MTU as
// an int, and locking_mode only when asked for.
TEST_F(ApiTest, VifCreateSendsRequiredMembers) {
  xapi_.On("VIF.create", [](const Array&) -> Result<Value> { return Value("OpaqueRef:vif"); });
  VifSpec spec;
  spec.device = "0";
  spec.network = OpaqueRef("OpaqueRef:net");
  spec.vm = OpaqueRef("OpaqueRef:vm");
  spec.mac = "";
  spec.mtu = 1500;
  ASSERT_TRUE(Api(*session_).VifCreate(spec).ok());
  Array p = LastParams("VIF.create");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(MemberNames(p[0]),
            (std::vector<std::string>{"MAC", "MTU", "VM", "device", "network", "other_config",
                                      "qos_algorithm_params", "qos_algorithm_type"}));
  // xapi ints travel untyped: <value>1500</value>
  EXPECT_NE(http_.requests().back().body.find("<name>MTU</name><value>1500</value>"),
            std::string::npos);
  spec.locking_mode = "network_default";
  ASSERT_TRUE(Api(*session_).VifCreate(spec).ok());
  EXPECT_NE(LastParams("VIF.create")[0].structure().Find("locking_mode"), nullptr);
}

// Given VM lifecycle calls, Then each sends its method with typed arguments, and a XenAPI
// failure comes back typed.
TEST_F(ApiTest, VmLifecycleCalls) {
  for (const char* m : {"VM.start", "VM.start_on", "VM.clean_shutdown", "VM.hard_shutdown"}) {
    xapi_.On(m, [](const Array&) -> Result<Value> { return Value(""); });
  }
  Api api(*session_);
  OpaqueRef vm("OpaqueRef:vm");
  ASSERT_TRUE(api.VmStart(vm, false, true).ok());
  Array start = LastParams("VM.start");
  ASSERT_EQ(start.size(), 3u);
  EXPECT_EQ(start[0].string(), "OpaqueRef:vm");
  EXPECT_EQ(start[1], Value(false));
  EXPECT_EQ(start[2], Value(true));
  ASSERT_TRUE(api.VmStartOn(vm, OpaqueRef("OpaqueRef:h2")).ok());
  EXPECT_EQ(LastParams("VM.start_on")[1].string(), "OpaqueRef:h2");
  ASSERT_TRUE(api.VmCleanShutdown(vm).ok());
  ASSERT_TRUE(api.VmHardShutdown(vm).ok());
  EXPECT_EQ(LastParams("VM.hard_shutdown").size(), 1u);

  xapi_.On("VM.start", [](const Array& p) -> Result<Value> {
    return Error::Xapi("VM_BAD_POWER_STATE", {p[0].string(), "halted", "running"});
  });
  auto again = api.VmStart(vm);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().IsXapi("VM_BAD_POWER_STATE"));
}

// Given other_config edits on VM and VDI, Then the class-specific map calls are sent.
TEST_F(ApiTest, OtherConfigEdits) {
  for (const char* m : {"VM.add_to_other_config", "VM.remove_from_other_config",
                        "VDI.add_to_other_config", "VDI.remove_from_other_config"}) {
    xapi_.On(m, [](const Array&) -> Result<Value> { return Value(""); });
  }
  Api api(*session_);
  ASSERT_TRUE(api.AddToOtherConfig<VmRecord>(OpaqueRef("OpaqueRef:vm"), "fruix-job", "7").ok());
  EXPECT_EQ(LastParams("VM.add_to_other_config"),
            (Array{Value("OpaqueRef:vm"), Value("fruix-job"), Value("7")}));
  ASSERT_TRUE(api.RemoveFromOtherConfig<VdiRecord>(OpaqueRef("OpaqueRef:vdi"), "k").ok());
  EXPECT_EQ(LastParams("VDI.remove_from_other_config"),
            (Array{Value("OpaqueRef:vdi"), Value("k")}));
  ASSERT_TRUE(api.AddToOtherConfig<VdiRecord>(OpaqueRef("OpaqueRef:vdi"), "k", "v").ok());
  ASSERT_TRUE(api.RemoveFromOtherConfig<VmRecord>(OpaqueRef("OpaqueRef:vm"), "k").ok());
}

// Given the remaining typed calls, Then each sends its method and decodes its result.
TEST_F(ApiTest, MiscCalls) {
  xapi_.On("VM.get_allowed_VBD_devices", [](const Array&) -> Result<Value> {
    return Value::StringArray({"1", "2", "3"});
  });
  xapi_.On("task.create", [](const Array&) -> Result<Value> { return Value("OpaqueRef:t"); });
  xapi_.On("VBD.destroy", [](const Array&) -> Result<Value> { return Value(""); });
  xapi_.On("VIF.destroy", [](const Array&) -> Result<Value> { return Value(""); });
  xapi_.On("pool.get_all",
           [](const Array&) -> Result<Value> { return Value::StringArray({"OpaqueRef:pool"}); });
  xapi_.On("pool.get_master", [](const Array&) -> Result<Value> { return Value("OpaqueRef:h1"); });
  Api api(*session_);
  auto devices = api.VmGetAllowedVbdDevices(OpaqueRef("OpaqueRef:vm"));
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(*devices, (std::vector<std::string>{"1", "2", "3"}));
  auto task = api.TaskCreate("upload", "fruixd upload");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(LastParams("task.create"), (Array{Value("upload"), Value("fruixd upload")}));
  xapi_.Put("task", "OpaqueRef:t", FakeXapi::TaskRecord("t", "pending"));
  ASSERT_TRUE(api.TaskCancel(*task).ok());
  ASSERT_TRUE(api.TaskDestroy(*task).ok());
  EXPECT_FALSE(xapi_.Get("task", "OpaqueRef:t").has_value());
  ASSERT_TRUE(api.VbdDestroy(OpaqueRef("OpaqueRef:vbd")).ok());
  ASSERT_TRUE(api.VifDestroy(OpaqueRef("OpaqueRef:vif")).ok());
  auto master = api.PoolMaster();
  ASSERT_TRUE(master.ok()) << master.error().ToString();
  EXPECT_EQ(master->str(), "OpaqueRef:h1");
}

// Given a call whose result has the wrong shape, Then it is kProtocol.
TEST_F(ApiTest, WrongResultShapeIsProtocolError) {
  xapi_.On("VBD.create", [](const Array&) -> Result<Value> { return Value(Array{}); });
  auto r = Api(*session_).VbdCreate(VbdSpec{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
}

}  // namespace
}  // namespace fruix::xenapi
