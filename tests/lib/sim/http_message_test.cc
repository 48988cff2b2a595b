#include "lib/sim/http_message.h"

#include <gtest/gtest.h>

namespace fruix::sim {
namespace {

// Given xe's CONNECT with an absolute URL and a cookie, Then path, query and cookie parse.
TEST(HttpMessageTest, ParsesConnectWithAbsoluteTargetAndCookie) {
  auto r = ParseRequestHead(
      "CONNECT https://127.0.0.1/console?uuid=abc&session_id=OpaqueRef%3Ax HTTP/1.0\r\n"
      "Cookie: session_id=OpaqueRef:y\r\ncontent-length: 0");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->method, "CONNECT");
  EXPECT_EQ(r->path, "/console");
  EXPECT_EQ(*r->Query("uuid"), "abc");
  EXPECT_EQ(*r->Query("session_id"), "OpaqueRef:x");
  EXPECT_EQ(*r->Cookie("session_id"), "OpaqueRef:y");
  EXPECT_EQ(*r->Param("session_id"), "OpaqueRef:x");  // query first, as xapi
  EXPECT_EQ(*r->content_length(), 0u);
  EXPECT_FALSE(r->keep_alive());  // HTTP/1.0 without keep-alive
}

// Given malformed heads, Then parsing fails instead of guessing.
TEST(HttpMessageTest, RejectsMalformedHeads) {
  EXPECT_FALSE(ParseRequestHead("GARBAGE").ok());
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/2.0").ok());
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nno-colon-here").ok());
}

// Given xapi-style responses, Then content-length comes first and bare replies have none.
TEST(HttpMessageTest, SerializesLikeXapi) {
  HttpResponse html = HttpResponse::Html(401, "Unauthorised", "<html></html>");
  EXPECT_EQ(html.Serialize(),
            "HTTP/1.1 401 Unauthorised\r\ncontent-length: 13\r\ncontent-type: text/html\r\n"
            "connection: close\r\ncache-control: no-cache, no-store\r\n\r\n<html></html>");
  HttpResponse bare = HttpResponse::Bare(404, "Not Found", {{"Connection", "close"}}, "1.0");
  EXPECT_EQ(bare.Serialize(), "HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\n");
}

}  // namespace
}  // namespace fruix::sim
