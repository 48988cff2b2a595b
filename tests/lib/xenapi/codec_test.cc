#include "lib/xenapi/codec.h"

#include <gtest/gtest.h>

namespace fruix::xenapi {
namespace {

// Payloads below are shaped exactly as xapi (ocaml-rpc) emits them (xenapi-spec.md §1.2, §1.3).

// Given a success envelope with an untyped ref, When decoded and unwrapped, Then it is a string.
TEST(CodecTest, DecodesSuccessEnvelope) {
  const char* xml =
      "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
      "<member><name>Status</name><value>Success</value></member>"
      "<member><name>Value</name><value>OpaqueRef:2b1e</value></member>"
      "</struct></value></param></params></methodResponse>";
  auto resp = DecodeResponse(xml);
  ASSERT_TRUE(resp.ok()) << resp.error().ToString();
  auto v = UnwrapEnvelope(*resp);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->string(), "OpaqueRef:2b1e");
}

// Given a failure envelope, Then the error keeps the code and every parameter.
TEST(CodecTest, DecodesFailureEnvelope) {
  const char* xml =
      "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
      "<member><name>Status</name><value>Failure</value></member>"
      "<member><name>ErrorDescription</name><value><array><data>"
      "<value>SESSION_INVALID</value><value>OpaqueRef:93f1</value>"
      "</data></array></value></member></struct></value></param></params></methodResponse>";
  auto v = UnwrapEnvelope(*DecodeResponse(xml));
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(v.error().IsXapi("SESSION_INVALID"));
  EXPECT_EQ(v.error().xapi_params(), std::vector<std::string>{"OpaqueRef:93f1"});
}

// Given a VM record with every encoding xapi uses, Then each field reads back as its IDL type.
TEST(CodecTest, DecodesXapiRecordEncodings) {
  const char* xml =
      "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
      "<member><name>Status</name><value>Success</value></member>"
      "<member><name>Value</name><value><struct>"
      "<member><name>uuid</name><value>3f2c1a7e-0b1d-4c2e-9f00-123456789abc</value></member>"
      "<member><name>domid</name><value>-1</value></member>"
      "<member><name>memory_static_max</name><value>4294967296</value></member>"
      "<member><name>is_a_template</name><value><boolean>0</boolean></value></member>"
      "<member><name>name_description</name><value/></member>"
      "<member><name>other</name><value></value></member>"
      "<member><name>progress</name><value><double>0.5</double></value></member>"
      "<member><name>snapshot_time</name><value><dateTime.iso8601>19700101T00:00:00Z"
      "</dateTime.iso8601></value></member>"
      "<member><name>VBDs</name><value><array><data/></array></value></member>"
      "<member><name>other_config</name><value><struct/></value></member>"
      "<member><name>count</name><value><i4>12</i4></value></member>"
      "<member><name>big</name><value><i8>8589934592</i8></value></member>"
      "<member><name>text</name><value>a &amp; b &lt;c&gt;</value></member>"
      "</struct></value></member></struct></value></param></params></methodResponse>";
  auto resp = DecodeResponse(xml);
  ASSERT_TRUE(resp.ok()) << resp.error().ToString();
  auto v = UnwrapEnvelope(*resp);
  ASSERT_TRUE(v.ok());
  const Struct& r = v->structure();
  EXPECT_EQ(*r.Find("domid")->ToInt(), -1);
  EXPECT_EQ(*r.Find("memory_static_max")->ToInt(), 4294967296LL);
  EXPECT_FALSE(*r.Find("is_a_template")->ToBool());
  EXPECT_EQ(r.Find("name_description")->string(), "");
  EXPECT_EQ(r.Find("other")->string(), "");
  EXPECT_DOUBLE_EQ(*r.Find("progress")->ToDouble(), 0.5);
  EXPECT_EQ(r.Find("snapshot_time")->datetime().iso8601, "19700101T00:00:00Z");
  EXPECT_TRUE(r.Find("VBDs")->array().empty());
  EXPECT_TRUE(r.Find("other_config")->structure().empty());
  EXPECT_EQ(*r.Find("count")->ToInt(), 12);
  EXPECT_EQ(*r.Find("big")->ToInt(), 8589934592LL);
  EXPECT_EQ(r.Find("text")->string(), "a & b <c>");
}

TEST(CodecTest, DateTimeKeepsXapiFormat) {
  auto v = DecodeValue("<value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value>");
  ASSERT_TRUE(v.ok()) << v.error().ToString();
  EXPECT_EQ(v->datetime().iso8601, "20250319T04:16:24Z");
}

// Given the encoder, Then output matches ocaml-rpc byte for byte: no whitespace, untyped strings,
// ints untyped, i4 for int32, doubles %.16g, escapes & < > " and drops control characters.
TEST(CodecTest, EncodesExactlyLikeXapi) {
  EXPECT_EQ(EncodeSuccess(Value("OpaqueRef:a")),
            "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
            "<member><name>Status</name><value>Success</value></member>"
            "<member><name>Value</name><value>OpaqueRef:a</value></member>"
            "</struct></value></param></params></methodResponse>");
  EXPECT_EQ(EncodeFailure({"UUID_INVALID", "VM", "x"}),
            "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
            "<member><name>Status</name><value>Failure</value></member>"
            "<member><name>ErrorDescription</name><value><array><data><value>UUID_INVALID</value>"
            "<value>VM</value><value>x</value></data></array></value></member>"
            "</struct></value></param></params></methodResponse>");
  EXPECT_EQ(EncodeValue(Value(int64_t{-1})), "<value>-1</value>");
  EXPECT_EQ(EncodeValue(Value::Int32(3)), "<value><i4>3</i4></value>");
  EXPECT_EQ(EncodeValue(Value(1.0)), "<value><double>1</double></value>");
  EXPECT_EQ(EncodeValue(Value(60.1)), "<value><double>60.1</double></value>");
  EXPECT_EQ(EncodeValue(Value(true)), "<value><boolean>1</boolean></value>");
  EXPECT_EQ(EncodeValue(Value("a&<>\"'\x01\tz")), "<value>a&amp;&lt;&gt;&quot;'\tz</value>");
  EXPECT_EQ(EncodeValue(Value(Array{})), "<value><array><data></data></array></value>");
  EXPECT_EQ(EncodeValue(Value(Struct{})), "<value><struct></struct></value>");
}

// Given an encoded call, When decoded by the xmlrpc-c parser, Then method and params round-trip.
TEST(CodecTest, CallRoundTrip) {
  Array params{Value("OpaqueRef:s"),
               Value(Array{Value("vm"), Value("task")}),
               Value(""),
               Value(60.1),
               Value(false),
               Value(Struct{{"MTU", Value(int64_t{1500})}, {"MAC", Value("")}})};
  std::string xml = EncodeCall("event.from", params);
  EXPECT_EQ(xml.find('\n'), std::string::npos);
  auto call = DecodeCall(xml);
  ASSERT_TRUE(call.ok()) << call.error().ToString();
  EXPECT_EQ(call->method, "event.from");
  ASSERT_EQ(call->params.size(), 6u);
  EXPECT_EQ(call->params[0].string(), "OpaqueRef:s");
  EXPECT_EQ(call->params[1].array().size(), 2u);
  EXPECT_EQ(call->params[2].string(), "");
  EXPECT_DOUBLE_EQ(call->params[3].dbl(), 60.1);
  EXPECT_FALSE(call->params[4].boolean());
  // xapi-style int64 travels as a decimal string and reads back as 1500.
  EXPECT_EQ(*call->params[5].structure().Find("MTU")->ToInt(), 1500);
}

// Given a call as Python's xmlrpc.client writes it (typed <string>, whitespace), Then it decodes.
TEST(CodecTest, DecodesPythonStyleCall) {
  const char* xml =
      "<?xml version='1.0'?>\n<methodCall>\n<methodName>session.login_with_password</methodName>\n"
      "<params>\n<param>\n<value><string>root</string></value>\n</param>\n"
      "<param>\n<value><string>secret</string></value>\n</param>\n</params>\n</methodCall>\n";
  auto call = DecodeCall(xml);
  ASSERT_TRUE(call.ok()) << call.error().ToString();
  EXPECT_EQ(call->method, "session.login_with_password");
  ASSERT_EQ(call->params.size(), 2u);
  EXPECT_EQ(call->params[1].string(), "secret");
}

// Given malformed documents, Then each is a kProtocol error and nothing crashes.
TEST(CodecTest, MalformedInputIsAProtocolError) {
  for (const char* bad : {"", "<", "not xml", "<methodResponse>", "<methodCall></methodCall>",
                          "<methodResponse><params><param><value><int>x</int></value></param>"
                          "</params></methodResponse>",
                          "<?xml version=\"1.0\"?><html><body>500</body></html>"}) {
    auto r = DecodeResponse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kProtocol) << bad;
    }
    EXPECT_FALSE(DecodeCall(bad).ok()) << bad;
  }
  EXPECT_FALSE(UnwrapEnvelope(Value("x")).ok());
  EXPECT_FALSE(UnwrapEnvelope(Value(Struct{{"Status", Value("Weird")}})).ok());
}

TEST(CodecTest, FaultBecomesTypedError) {
  const char* xml =
      "<?xml version=\"1.0\"?><methodResponse><fault><value><struct>"
      "<member><name>faultCode</name><value><int>-32601</int></value></member>"
      "<member><name>faultString</name><value><string>nope</string></value></member>"
      "</struct></value></fault></methodResponse>";
  auto r = DecodeResponse(xml);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsXapi("XMLRPC_FAULT"));
  EXPECT_EQ(r.error().xapi_params(), (std::vector<std::string>{"-32601", "nope"}));
}

}  // namespace
}  // namespace fruix::xenapi
