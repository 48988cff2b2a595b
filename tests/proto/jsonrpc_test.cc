#include "proto/jsonrpc.h"

#include <gtest/gtest.h>

namespace fruix::proto {
namespace {

using nlohmann::json;

const BadRequest& Bad(const std::variant<Request, BadRequest>& v) {
  return std::get<BadRequest>(v);
}

TEST(JsonRpcTest, DecodesRequestsAndNotifications) {
  // Given a request with an integer id, one with a string id and one without id,
  // When decoded, Then ids, method, params and the notification flag come through.
  auto a = DecodeRequest(R"({"jsonrpc":"2.0","id":7,"method":"job.get","params":{"job_id":"x"}})");
  ASSERT_TRUE(std::holds_alternative<Request>(a));
  EXPECT_EQ(std::get<Request>(a).id, 7);
  EXPECT_EQ(std::get<Request>(a).method, "job.get");
  EXPECT_EQ(std::get<Request>(a).params["job_id"], "x");
  EXPECT_FALSE(std::get<Request>(a).notification);
  auto b = DecodeRequest(R"({"jsonrpc":"2.0","id":"abc","method":"daemon.version"})");
  ASSERT_TRUE(std::holds_alternative<Request>(b));
  EXPECT_EQ(std::get<Request>(b).id, "abc");
  EXPECT_TRUE(std::get<Request>(b).params.is_object());
  auto c = DecodeRequest(R"({"jsonrpc":"2.0","method":"daemon.version"})");
  ASSERT_TRUE(std::holds_alternative<Request>(c));
  EXPECT_TRUE(std::get<Request>(c).notification);
}

TEST(JsonRpcTest, RefusesMalformedRequestsWithTheRightCodes) {
  // Given malformed lines, When decoded, Then each gets its JSON-RPC code and a clear message.
  EXPECT_EQ(Bad(DecodeRequest("{not json")).error.code, -32700);
  EXPECT_EQ(Bad(DecodeRequest("[1,2]")).error.code, -32600);
  EXPECT_NE(Bad(DecodeRequest("[1,2]")).error.message.find("batch"), std::string::npos);
  EXPECT_EQ(Bad(DecodeRequest("42")).error.code, -32600);
  auto v1 = Bad(DecodeRequest(R"({"jsonrpc":"1.0","id":3,"method":"x"})"));
  EXPECT_EQ(v1.error.code, -32600);
  EXPECT_EQ(v1.id, 3);  // the id is kept when usable, so the client can match the answer
  EXPECT_EQ(Bad(DecodeRequest(R"({"jsonrpc":"2.0","id":3})")).error.code, -32600);
  EXPECT_EQ(Bad(DecodeRequest(R"({"jsonrpc":"2.0","id":3,"method":"x","params":[1]})")).error.code,
            -32602);
  auto extra = Bad(DecodeRequest(R"({"jsonrpc":"2.0","id":3,"method":"x","parms":{}})"));
  EXPECT_NE(extra.error.message.find("\"parms\""), std::string::npos);
  EXPECT_EQ(Bad(DecodeRequest(R"({"jsonrpc":"2.0","id":[1],"method":"x"})")).error.code, -32600);
  // Invalid UTF-8 is a parse error, not a crash.
  EXPECT_EQ(Bad(DecodeRequest("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}")).error.code,
            -32700);
}

TEST(JsonRpcTest, EncodesOneLinePerMessageAndRoundTripsThroughTheClientDecoder) {
  // Given each kind of message, When encoded, Then it is one line, and the client decodes it.
  const std::string req = EncodeRequest(1, "job.get", {{"job_id", "j"}});
  EXPECT_EQ(
      req, "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"job.get\",\"params\":{\"job_id\":\"j\"}}\n");
  const std::string ok = EncodeResult(1, {{"a", 1}});
  auto r = DecodeIncoming(ok);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(std::holds_alternative<Response>(*r));
  EXPECT_EQ(*std::get<Response>(*r).result, json({{"a", 1}}));
  const std::string err =
      EncodeError(2, RpcError::Of(RpcCode::kBusy, "VM busy", {{"job_id", "j1"}}));
  auto e = DecodeIncoming(err);
  ASSERT_TRUE(e.ok());
  const auto& resp = std::get<Response>(*e);
  ASSERT_TRUE(resp.error.has_value());
  EXPECT_EQ(resp.error->code, -32002);
  EXPECT_EQ(resp.error->data["job_id"], "j1");
  auto n = DecodeIncoming(EncodeNotification("job.event", {{"kind", "end"}}));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::get<Notification>(*n).method, "job.event");
  // Console bytes that are not UTF-8 are replaced, never an exception.
  const std::string bin = EncodeResult(3, {{"data", std::string("a\xff"
                                                                "b")}});
  EXPECT_EQ(bin.back(), '\n');
  EXPECT_NE(bin.find("a\xef\xbf\xbd"
                     "b"),
            std::string::npos);
  EXPECT_FALSE(DecodeIncoming("garbage").ok());
}

TEST(JsonRpcTest, RawResultsEncodeToTheSameBytes) {
  // Given results encoded ahead of time, When wrapped raw, Then the line equals EncodeResult's.
  const json result = {{"job", {{"job_id", "j1"}, {"phases", {1, 2}}}}, {"more", false}};
  for (const json& id : {json(7), json("abc")}) {
    EXPECT_EQ(EncodeResultRaw(id, result.dump()), EncodeResult(id, result));
  }
}

TEST(JsonRpcTest, LineBufferSplitsAcrossAppendsAndDropsCarriageReturns) {
  // Given bytes arriving in pieces, When lines are taken, Then each comes whole and in order.
  LineBuffer b;
  std::string line;
  b.Append("{\"a\"");
  EXPECT_EQ(b.Next(&line), LineBuffer::Status::kNeedMore);
  b.Append(":1}\r\n{\"b\":2}\n{\"c\"");
  ASSERT_EQ(b.Next(&line), LineBuffer::Status::kLine);
  EXPECT_EQ(line, "{\"a\":1}");
  ASSERT_EQ(b.Next(&line), LineBuffer::Status::kLine);
  EXPECT_EQ(line, "{\"b\":2}");
  EXPECT_EQ(b.Next(&line), LineBuffer::Status::kNeedMore);
  b.Append(":3}\n");
  ASSERT_EQ(b.Next(&line), LineBuffer::Status::kLine);
  EXPECT_EQ(line, "{\"c\":3}");
}

TEST(JsonRpcTest, LineBufferReportsAnOversizeLineOnceAndResynchronises) {
  // Given a 2 MiB line sent in 64 KiB pieces followed by a normal line, When read with the 1 MiB
  // limit, Then kTooLong comes exactly once, memory stays bounded, and the next line is intact.
  LineBuffer b;
  std::string line;
  const std::string chunk(64 * 1024, 'x');
  int too_long = 0;
  size_t max_buffered = 0;
  for (int i = 0; i < 32; ++i) {
    b.Append(chunk);
    max_buffered = std::max(max_buffered, b.buffered());
    for (;;) {
      auto s = b.Next(&line);
      if (s == LineBuffer::Status::kTooLong) ++too_long;
      if (s == LineBuffer::Status::kNeedMore) break;
      ASSERT_NE(s, LineBuffer::Status::kLine);
    }
  }
  b.Append("\n{\"ok\":true}\n");
  EXPECT_EQ(b.Next(&line), LineBuffer::Status::kLine);
  EXPECT_EQ(line, "{\"ok\":true}");
  EXPECT_EQ(too_long, 1);
  EXPECT_LE(max_buffered, kMaxMessageBytes + chunk.size());
}

TEST(JsonRpcTest, LineBufferAcceptsALineOfExactlyTheLimit) {
  // Given a limit of 8 bytes, When a 7-byte line plus newline and then an 8-byte line arrive,
  // Then the first is a line and the second is too long.
  LineBuffer b(8);
  std::string line;
  b.Append("1234567\n12345678\nok\n");
  ASSERT_EQ(b.Next(&line), LineBuffer::Status::kLine);
  EXPECT_EQ(line, "1234567");
  EXPECT_EQ(b.Next(&line), LineBuffer::Status::kTooLong);
  ASSERT_EQ(b.Next(&line), LineBuffer::Status::kLine);
  EXPECT_EQ(line, "ok");
}

TEST(JsonRpcTest, MapsFruixErrorsToRpcCodesAndBack) {
  // Given fruix errors, When mapped, Then the JSON-RPC codes are the documented ones.
  EXPECT_EQ(ToRpcError(Error::InvalidArgument("x")).code, -32602);
  EXPECT_EQ(ToRpcError(Error::NotFound("x")).code, -32001);
  EXPECT_EQ(ToRpcError(Error::PermissionDenied("x")).code, -32003);
  EXPECT_EQ(ToRpcError(Error::Xapi("HOST_OFFLINE", {"h"})).code, -32008);
  EXPECT_EQ(ToRpcError(Error::Internal("x")).code, -32603);
  EXPECT_EQ(FromRpcError(RpcError::Of(RpcCode::kNotFound, "m")).code(), ErrorCode::kNotFound);
  EXPECT_EQ(RpcCodeName(-32002), "busy");
}

}  // namespace
}  // namespace fruix::proto
