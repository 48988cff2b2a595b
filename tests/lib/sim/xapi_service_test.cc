// XenAPI dispatch and encoding, over real HTTP against an in-process simulator.
#include "lib/sim/xapi_service.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lib/xenapi/codec.h"
#include "tests/support/sim_harness.h"

namespace fruix::sim {
namespace {

using testing::PostRequest;
using testing::RawConnection;
using testing::RawExchange;
using testing::SimHarness;
using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

constexpr char kEnvelopeHead[] =
    "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>";
constexpr char kEnvelopeTail[] = "</struct></value></param></params></methodResponse>";

class XapiServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    auto s = sim_->Login();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    session_ = *s;
  }
  testing::RawResponse Post(const std::string& body, const std::string& path = "/",
                            const std::string& address = "127.0.0.1") {
    auto r = RawExchange(address, sim_->http_port(), PostRequest(path, "text/xml", body));
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : testing::RawResponse{};
  }
  std::vector<std::string> Failure(std::string_view method, const Array& params,
                                   const std::string& address = "127.0.0.1") {
    auto r = sim_->CallOk(method, params, address);
    EXPECT_FALSE(r.ok()) << method << " unexpectedly succeeded";
    return r.ok() ? std::vector<std::string>{} : r.error().xapi_description();
  }

  std::unique_ptr<SimHarness> sim_;
  std::string session_;
};

// Given a login, Then the reply is xapi's Success envelope byte for byte, with text/xml,
// content-length and no whitespace anywhere.
TEST_F(XapiServiceTest, SuccessEnvelopeIsByteExact) {
  auto r =
      Post(xenapi::EncodeCall("session.login_with_password", {Value("root"), Value("password")}));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/xml");
  EXPECT_EQ(r.Header("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.head.rfind("HTTP/1.1 200 OK\r\ncontent-length: ", 0), 0u);
  size_t at = r.body.find("OpaqueRef:");
  ASSERT_NE(at, std::string::npos);
  std::string ref = r.body.substr(at, std::string("OpaqueRef:").size() + 36);
  EXPECT_EQ(r.body, std::string(kEnvelopeHead) +
                        "<member><name>Status</name><value>Success</value></member>"
                        "<member><name>Value</name><value>" +
                        ref + "</value></member>" + kEnvelopeTail);
}

// Given an unknown uuid, Then the Failure envelope is byte-exact UUID_INVALID [VM, uuid].
TEST_F(XapiServiceTest, FailureEnvelopeIsByteExact) {
  auto r = Post(xenapi::EncodeCall("VM.get_by_uuid", {Value(session_), Value("no-such-uuid")}));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::string(kEnvelopeHead) +
                        "<member><name>Status</name><value>Failure</value></member>"
                        "<member><name>ErrorDescription</name><value><array><data>"
                        "<value>UUID_INVALID</value><value>VM</value><value>no-such-uuid</value>"
                        "</data></array></value></member>" +
                        kEnvelopeTail);
}

// Given a VM record, Then ints are untyped strings, bools <boolean>, null refs OpaqueRef:NULL.
TEST_F(XapiServiceTest, RecordsUseXapiEncodings) {
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  auto r = Post(xenapi::EncodeCall("VM.get_record", {Value(session_), Value(vm)}));
  EXPECT_NE(r.body.find("<member><name>domid</name><value>-1</value></member>"), std::string::npos);
  EXPECT_NE(r.body.find("<member><name>is_a_template</name><value><boolean>0</boolean></value>"),
            std::string::npos);
  EXPECT_NE(r.body.find("<member><name>resident_on</name><value>OpaqueRef:NULL</value>"),
            std::string::npos);
  EXPECT_NE(r.body.find("<member><name>power_state</name><value>Halted</value>"),
            std::string::npos);
  EXPECT_NE(r.body.find("<dateTime.iso8601>19700101T00:00:00Z</dateTime.iso8601>"),
            std::string::npos);
}

// Given bad input, Then each error carries xapi's code and parameters.
TEST_F(XapiServiceTest, ErrorCodesAndParams) {
  EXPECT_EQ(Failure("VM.frobnicate", {Value(session_)}),
            (std::vector<std::string>{"MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"}));
  EXPECT_EQ(Failure("no.such", {}),
            (std::vector<std::string>{"MESSAGE_METHOD_UNKNOWN", "no.such"}));
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  EXPECT_EQ(Failure("VM.start", {Value(session_), Value(vm)}),
            (std::vector<std::string>{"MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "1"}));
  EXPECT_EQ(Failure("VM.get_record", {Value(session_), Value("OpaqueRef:bad")}),
            (std::vector<std::string>{"HANDLE_INVALID", "VM", "OpaqueRef:bad"}));
  EXPECT_EQ(Failure("VM.get_all", {Value("OpaqueRef:nosession")}),
            (std::vector<std::string>{"SESSION_INVALID", "OpaqueRef:nosession"}));
  EXPECT_EQ(Failure("session.login_with_password", {Value("root"), Value("wrong")}),
            (std::vector<std::string>{"SESSION_AUTHENTICATION_FAILED", "root",
                                      "Authentication failure"}));
  EXPECT_EQ(
      Failure("Async.VM.get_record", {Value(session_), Value(vm)}),
      (std::vector<std::string>{"Fault", "No async mode for this operation (rpc: VM.get_record)"}));
}

// Given VBD.create without the required "bootable" member, Then INTERNAL_ERROR names it as
// xapi's dispatcher does.
TEST_F(XapiServiceTest, MissingConstructorMemberIsInternalError) {
  Struct args;
  args.Set("VM", Value(sim_->RefOf("VM", SimHarness::kHvmVm)));
  args.Set("VDI", Value(sim_->RefOf("VDI", SimHarness::kSpareVdi)));
  args.Set("userdevice", Value("1"));
  args.Set("mode", Value("RW"));
  args.Set("type", Value("Disk"));
  args.Set("empty", Value(false));
  args.Set("other_config", Value(Struct{}));
  args.Set("qos_algorithm_type", Value(""));
  args.Set("qos_algorithm_params", Value(Struct{}));
  EXPECT_EQ(Failure("VBD.create", {Value(session_), Value(args)}),
            (std::vector<std::string>{"INTERNAL_ERROR",
                                      "Server_helpers.Dispatcher_FieldNotFound(\"bootable\")"}));
}

// Given a body that is not XML, Then xapi's HTML "500 Internal Error" page comes back.
TEST_F(XapiServiceTest, MalformedXmlIsHtml500) {
  auto r = Post("<methodCall><methodName>VM.get_all");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.head.rfind("HTTP/1.1 500 Internal Error\r\n", 0), 0u);
  EXPECT_EQ(r.Header("content-type"), "text/html");
  EXPECT_EQ(r.body.rfind("<html><body><h1>HTTP 500 internal server error</h1>", 0), 0u);
}

// Given the pool member 127.0.0.2, Then logging in there or using a master session there gives
// HOST_IS_SLAVE with the master's address.
TEST_F(XapiServiceTest, HostIsSlaveFromPoolMember) {
  EXPECT_EQ(Failure("session.login_with_password", {Value("root"), Value("password")}, "127.0.0.2"),
            (std::vector<std::string>{"HOST_IS_SLAVE", "127.0.0.1"}));
  EXPECT_EQ(Failure("VM.get_all", {Value(session_)}, "127.0.0.2"),
            (std::vector<std::string>{"HOST_IS_SLAVE", "127.0.0.1"}));
}

// Given an expired session (admin endpoint), Then the next call fails SESSION_INVALID [ref].
TEST_F(XapiServiceTest, SessionInvalidAfterExpiry) {
  ASSERT_TRUE(sim_->AdminPost("/sessions/expire", "{\"session\":\"" + session_ + "\"}").ok());
  EXPECT_EQ(Failure("pool.get_all", {Value(session_)}),
            (std::vector<std::string>{"SESSION_INVALID", session_}));
}

// Given the alternative wire names, Then Class_method works synchronously only.
TEST_F(XapiServiceTest, ClassUnderscoreMethodAlias) {
  auto r = sim_->CallOk("VM_get_all", {Value(session_)});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->array().empty());
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  EXPECT_EQ(Failure("Async.VM_start", {Value(session_), Value(vm), Value(false), Value(false)}),
            (std::vector<std::string>{"MESSAGE_METHOD_UNKNOWN", "VM_start"}));
}

// Given system.listMethods, Then the reply is the bare array (no Status envelope).
TEST_F(XapiServiceTest, ListMethodsIsBareArray) {
  auto r = sim_->Call("system.listMethods", {});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->is_array());
  std::vector<std::string> names = *r->ToStringArray();
  for (const char* m : {"VM.get_all_records", "session.login_with_password", "event.from",
                        "VBD.create", "task.cancel", "pool.add_to_other_config"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), m), names.end()) << m;
  }
}

// Given login with 2 params and an enum set in odd case, Then both work like xapi.
TEST_F(XapiServiceTest, DefaultsAndEnumCase) {
  ASSERT_TRUE(sim_->CallOk("session.login_with_password", {Value("root"), Value("password")}).ok());
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  ASSERT_TRUE(sim_->CallOk("VM.set_actions_after_crash",
                           {Value(session_), Value(vm), Value("COREDUMP_AND_DESTROY")})
                  .ok());
  EXPECT_EQ(*sim_->CallOk("VM.get_actions_after_crash", {Value(session_), Value(vm)}),
            Value("coredump_and_destroy"));
}

// Given a map field, Then add_to_ rejects duplicate keys with MAP_DUPLICATE_KEY.
TEST_F(XapiServiceTest, MapDuplicateKey) {
  std::string pool = sim_->RefOf("pool", SimHarness::kPool);
  ASSERT_TRUE(sim_->CallOk("pool.add_to_other_config",
                           {Value(session_), Value(pool), Value("k"), Value("v")})
                  .ok());
  EXPECT_EQ(
      Failure("pool.add_to_other_config", {Value(session_), Value(pool), Value("k"), Value("w")}),
      (std::vector<std::string>{"MAP_DUPLICATE_KEY", "pool", "other_config", SimHarness::kPool,
                                "k"}));
  ASSERT_TRUE(
      sim_->CallOk("pool.remove_from_other_config", {Value(session_), Value(pool), Value("k")})
          .ok());
}

// Given JSON-RPC v2 and v1 calls on /jsonrpc, Then replies are application/json, 200, with
// xapi's result / error shapes.
TEST_F(XapiServiceTest, JsonRpc) {
  auto post = [&](const std::string& body) {
    auto r = RawExchange("127.0.0.1", sim_->http_port(),
                         PostRequest("/jsonrpc", "application/json", body));
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("content-type"), "application/json");
    return nlohmann::json::parse(r->body);
  };
  auto ok = post(R"({"jsonrpc":"2.0","method":"VM.get_by_uuid","params":[")" + session_ + "\",\"" +
                 SimHarness::kPvVm + R"("],"id":7})");
  EXPECT_EQ(ok["jsonrpc"], "2.0");
  EXPECT_EQ(ok["id"], 7);
  EXPECT_EQ(ok["result"], sim_->RefOf("VM", SimHarness::kPvVm));
  auto v2err = post(R"({"jsonrpc":"2.0","method":"VM.get_by_uuid","params":[")" + session_ +
                    R"(","nope"],"id":"a"})");
  EXPECT_EQ(v2err["error"]["code"], 1);
  EXPECT_EQ(v2err["error"]["message"], "UUID_INVALID");
  EXPECT_EQ(v2err["error"]["data"], nlohmann::json::array({"VM", "nope"}));
  auto v1err =
      post(R"({"method":"VM.get_by_uuid","params":[")" + session_ + R"(","nope"],"id":1})");
  EXPECT_TRUE(v1err["result"].is_null());
  EXPECT_EQ(v1err["error"], nlohmann::json::array({"UUID_INVALID", "VM", "nope"}));
  auto rec = post(R"({"jsonrpc":"2.0","method":"VM.get_record","params":[")" + session_ + "\",\"" +
                  sim_->RefOf("VM", SimHarness::kPvVm) + R"("],"id":2})");
  EXPECT_EQ(rec["result"]["domid"], -1);  // ints are JSON numbers
  EXPECT_EQ(rec["result"]["is_a_template"], false);
}

// Given one keep-alive connection, When several calls are made on it, Then each is answered.
TEST_F(XapiServiceTest, KeepAliveServesSeveralRequests) {
  auto c = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c->Send(PostRequest("/RPC2", "text/xml",
                                    xenapi::EncodeCall("pool.get_all", {Value(session_)})))
                    .ok());
    auto r = c->ReadResponse();
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("connection"), "keep-alive");
  }
}

}  // namespace
}  // namespace fruix::sim
