#include "lib/http/url.h"

#include <gtest/gtest.h>

#include "lib/http/http_client.h"

namespace fruix::http {
namespace {

// Given URLs of each host kind, When parsed, Then the parts come back and ToString round-trips.
TEST(UrlTest, ParsesAndRoundTrips) {
  struct Case {
    const char* text;
    const char* host;
    const char* port;
    const char* path;
  };
  for (const Case& c : {Case{"https://10.0.0.5/", "10.0.0.5", "", "/"},
                        Case{"http://xcp1.lan:8080/RPC2?x=1", "xcp1.lan", "8080", "/RPC2?x=1"},
                        Case{"https://[fe80::1]:8443", "fe80::1", "8443", ""},
                        Case{"HTTPS://[2001:db8::2]/", "2001:db8::2", "", "/"}}) {
    auto url = Url::Parse(c.text);
    ASSERT_TRUE(url.ok()) << c.text << ": " << url.error().ToString();
    EXPECT_EQ(url->host(), c.host);
    EXPECT_EQ(url->port(), c.port);
    EXPECT_EQ(url->path(), c.path);
  }
  EXPECT_EQ(Url::Parse("https://[fe80::1]:8443/")->ToString(), "https://[fe80::1]:8443/");
  EXPECT_EQ(Url::Parse("HTTP://h:1/p")->ToString(), "http://h:1/p");
}

// Given a redirect target, When only the host is replaced, Then scheme, port and path stay, and a
// bare IPv6 address is bracketed.
TEST(UrlTest, WithHostKeepsSchemeAndPortAndBracketsIpv6) {
  auto url = Url::Parse("https://10.0.0.5:8443/");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->WithHost("10.0.0.6")->ToString(), "https://10.0.0.6:8443/");
  EXPECT_EQ(url->WithHost("fd00::6")->ToString(), "https://[fd00::6]:8443/");
  EXPECT_EQ(url->WithHost("[fd00::7]")->ToString(), "https://[fd00::7]:8443/");
  EXPECT_EQ(url->WithHost("master.lan")->ToString(), "https://master.lan:8443/");
  EXPECT_FALSE(url->WithHost("").ok());
  EXPECT_FALSE(url->WithHost("evil/path").ok());
  EXPECT_FALSE(url->WithHost("a b").ok());
}

// Given malformed URLs, Then each is kInvalidArgument.
TEST(UrlTest, RejectsMalformed) {
  for (const char* bad :
       {"10.0.0.5", "ftp://h/", "https://", "https://user:pw@h/", "https://[fe80::1",
        "https://h:99999/", "https://h:8x/", "https://[host]/"}) {
    auto url = Url::Parse(bad);
    ASSERT_FALSE(url.ok()) << bad;
    EXPECT_EQ(url.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

// Given a URL carrying a session id in its query, When redacted, Then the query is gone.
TEST(UrlTest, RedactDropsQuery) {
  EXPECT_EQ(RedactUrl("https://h/import_raw_vdi?session_id=OpaqueRef:s"),
            "https://h/import_raw_vdi");
  EXPECT_EQ(RedactUrl("https://h/"), "https://h/");
}

}  // namespace
}  // namespace fruix::http
