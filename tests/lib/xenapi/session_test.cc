#include "lib/xenapi/session.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/fake_http_client.h"
#include "tests/support/fake_xapi.h"

namespace fruix::xenapi {
namespace {

using fruix::testing::FakeHttpClient;
using fruix::testing::FakeXapi;
using namespace std::chrono_literals;

SessionOptions Options(std::string url = "https://10.0.0.2:8443/") {
  SessionOptions o;
  o.url = std::move(url);
  o.username = "root";
  o.password = "secret";
  return o;
}

// Given a fresh session, When it logs in, Then login_with_password carries user, password, an API
// version and the originator "fruixd", as XML-RPC over POST with Content-Type text/xml.
TEST(SessionTest, LoginSendsCredentialsVersionAndOriginator) {
  FakeHttpClient http;
  http.PushXapiSuccess(Value("OpaqueRef:s1"));
  Session session(http, Options());
  ASSERT_TRUE(session.Login().ok());
  auto calls = http.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "session.login_with_password");
  ASSERT_EQ(calls[0].params.size(), 4u);
  EXPECT_EQ(calls[0].params[0].string(), "root");
  EXPECT_EQ(calls[0].params[1].string(), "secret");
  EXPECT_EQ(calls[0].params[2].string(), "2.15");
  EXPECT_EQ(calls[0].params[3].string(), "fruixd");
  auto req = http.requests()[0];
  EXPECT_EQ(req.url, "https://10.0.0.2:8443/");
  EXPECT_EQ(req.method, http::Method::kPost);
  ASSERT_EQ(req.headers.size(), 1u);
  EXPECT_EQ(req.headers[0], (std::pair<std::string, std::string>{"Content-Type", "text/xml"}));
  EXPECT_TRUE(session.logged_in());
  http.PushXapiSuccess(Value(""));  // the destructor's logout
}

// Given a logged-in session, When several calls are made, Then all reuse the one session ref,
// prepended to the arguments, and login happens once (lazily, on the first call).
TEST(SessionTest, CallsPrependAndReuseTheSession) {
  FakeHttpClient http;
  FakeXapi xapi;
  xapi.Install(http);
  xapi.On("VM.get_by_uuid", [](const Array& p) -> Result<Value> {
    return Value("OpaqueRef:vm-" + p.at(0).string());
  });
  Session session(http, Options());
  for (int i = 0; i < 3; ++i) {
    auto r = session.Call("VM.get_by_uuid", {Value("u" + std::to_string(i))});
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->string(), "OpaqueRef:vm-u" + std::to_string(i));
  }
  EXPECT_EQ(xapi.logins(), 1);
  auto calls = http.calls();
  ASSERT_EQ(calls.size(), 4u);
  for (size_t i = 1; i < calls.size(); ++i) {
    ASSERT_EQ(calls[i].params.size(), 2u);
    EXPECT_EQ(calls[i].params[0].string(), "OpaqueRef:session-1");
  }
}

// Given a session that xapi has expired, When a call gets SESSION_INVALID, Then the client logs in
// again and retries the call once with the new session.
TEST(SessionTest, SessionInvalidRelogsInAndRetriesOnce) {
  FakeHttpClient http;
  http.PushXapiSuccess(Value("OpaqueRef:s1"));
  http.PushXapiFailure({"SESSION_INVALID", "OpaqueRef:s1"});
  http.PushXapiSuccess(Value("OpaqueRef:s2"));
  http.PushXapiSuccess(Value("Running"));
  Session session(http, Options());
  auto r = session.Call("VM.get_power_state", {Value("OpaqueRef:vm")});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->string(), "Running");
  auto calls = http.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[1].params[0].string(), "OpaqueRef:s1");
  EXPECT_EQ(calls[2].method, "session.login_with_password");
  EXPECT_EQ(calls[3].method, "VM.get_power_state");
  EXPECT_EQ(calls[3].params[0].string(), "OpaqueRef:s2");
  EXPECT_EQ(session.login_count(), 2u);
  http.PushXapiSuccess(Value(""));  // logout
}

// Given xapi that answers SESSION_INVALID even to a fresh session, When a call is made, Then the
// error is returned after exactly one re-login and one retry (no loop).
TEST(SessionTest, PersistentSessionInvalidIsReturnedWithoutLooping) {
  FakeHttpClient http;
  int logins = 0;
  int calls = 0;
  http.SetXapiHandler([&](const MethodCall& c) -> Result<Value> {
    if (c.method == "session.login_with_password")
      return Value("OpaqueRef:s" + std::to_string(++logins));
    if (c.method == "session.logout") return Value("");
    ++calls;
    return Error::Xapi("SESSION_INVALID", {c.params[0].string()});
  });
  Session session(http, Options());
  auto r = session.Call("VM.get_all", {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsXapi("SESSION_INVALID")) << r.error().ToString();
  EXPECT_EQ(logins, 2);
  EXPECT_EQ(calls, 2);
}

// Given retry_on_session_invalid = false (event.from), When SESSION_INVALID comes back, Then the
// session is renewed but the error is returned to the caller without a retry.
TEST(SessionTest, NoRetryOptionRenewsButReturnsTheError) {
  FakeHttpClient http;
  http.PushXapiSuccess(Value("OpaqueRef:s1"));
  http.PushXapiFailure({"SESSION_INVALID", "OpaqueRef:s1"});
  http.PushXapiSuccess(Value("OpaqueRef:s2"));
  http.PushXapiSuccess(Value("ok"));
  Session session(http, Options());
  CallOptions no_retry;
  no_retry.retry_on_session_invalid = false;
  auto r = session.Call("event.from", {}, no_retry);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsXapi("SESSION_INVALID"));
  EXPECT_EQ(http.requests().size(), 3u);
  auto next = session.Call("VM.get_all", {});
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_EQ(http.calls().back().params[0].string(), "OpaqueRef:s2");
  http.PushXapiSuccess(Value(""));  // logout
}

// Given many threads whose calls all hit SESSION_INVALID at once, When they recover, Then exactly
// one re-login happens and every call succeeds.
TEST(SessionTest, ConcurrentSessionInvalidLogsInOnce) {
  FakeHttpClient http;
  FakeXapi xapi;
  xapi.Install(http);
  xapi.On("VM.get_all", [](const Array&) -> Result<Value> { return Value(Array{}); });
  Session session(http, Options());
  ASSERT_TRUE(session.Login().ok());
  xapi.ExpireSessions();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (session.Call("VM.get_all", {}).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(xapi.logins(), 2);
  EXPECT_EQ(session.login_count(), 2u);
}

// Given a login sent to a pool member, When it answers HOST_IS_SLAVE [master], Then the client
// logs in at the master with the same scheme and port, and later calls go there.
TEST(SessionTest, HostIsSlaveRedirectsToMaster) {
  FakeHttpClient http;
  http.PushXapiFailure({"HOST_IS_SLAVE", "10.0.0.1"});
  http.PushXapiSuccess(Value("OpaqueRef:s1"));
  http.PushXapiSuccess(Value(Array{}));
  Session session(http, Options("https://10.0.0.2:8443/"));
  auto r = session.Call("VM.get_all", {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  auto reqs = http.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].url, "https://10.0.0.2:8443/");
  EXPECT_EQ(reqs[1].url, "https://10.0.0.1:8443/");
  EXPECT_EQ(reqs[2].url, "https://10.0.0.1:8443/");
  EXPECT_EQ(session.url(), "https://10.0.0.1:8443/");
  http.PushXapiSuccess(Value(""));  // logout
}

// Given a master with a bare IPv6 address in HOST_IS_SLAVE, Then the new URL brackets it.
TEST(SessionTest, HostIsSlaveBracketsBareIpv6) {
  FakeHttpClient http;
  http.PushXapiFailure({"HOST_IS_SLAVE", "fd00::1"});
  http.PushXapiSuccess(Value("OpaqueRef:s1"));
  Session session(http, Options("https://[fd00::2]:443/"));
  ASSERT_TRUE(session.Login().ok());
  EXPECT_EQ(http.requests()[1].url, "https://[fd00::1]:443/");
  http.PushXapiSuccess(Value(""));  // logout
}

// Given members that keep answering HOST_IS_SLAVE, Then login gives up after max_redirects hops
// with the HOST_IS_SLAVE error.
TEST(SessionTest, HostIsSlaveHopsAreBounded) {
  FakeHttpClient http;
  int n = 0;
  http.SetXapiHandler([&](const MethodCall&) -> Result<Value> {
    return Error::Xapi("HOST_IS_SLAVE", {"10.0.0." + std::to_string(++n)});
  });
  SessionOptions o = Options();
  o.max_redirects = 2;
  Session session(http, o);
  auto r = session.Login();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsXapi("HOST_IS_SLAVE"));
  EXPECT_EQ(http.requests().size(), 3u);
}

// Given wrong credentials, Then login fails with SESSION_AUTHENTICATION_FAILED and the password
// appears nowhere in the error.
TEST(SessionTest, AuthenticationFailureIsTypedAndHidesPassword) {
  FakeHttpClient http;
  FakeXapi xapi("other-password");
  xapi.Install(http);
  Session session(http, Options());
  auto r = session.Call("VM.get_all", {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsXapi("SESSION_AUTHENTICATION_FAILED")) << r.error().ToString();
  EXPECT_EQ(r.error().ToString().find("secret"), std::string::npos);
  EXPECT_FALSE(session.logged_in());
}

// Given a XenAPI failure, Then it stays typed with code and params, and the message names the call.
TEST(SessionTest, XapiFailureKeepsCodeAndParams) {
  FakeHttpClient http;
  http.PushXapiSuccess(Value("OpaqueRef:s1"));
  http.PushXapiFailure({"VM_BAD_POWER_STATE", "OpaqueRef:vm", "halted", "running"});
  Session session(http, Options());
  auto r = session.Call("VM.clean_shutdown", {Value("OpaqueRef:vm")});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsXapi("VM_BAD_POWER_STATE"));
  EXPECT_EQ(r.error().xapi_params(),
            (std::vector<std::string>{"OpaqueRef:vm", "halted", "running"}));
  EXPECT_NE(r.error().message().find("VM.clean_shutdown"), std::string::npos);
  http.PushXapiSuccess(Value(""));  // logout
}

// Given an HTML 500 (xapi's answer to a malformed request) or a transport error, Then the call
// fails with kProtocol / the transport code, naming the method.
TEST(SessionTest, HttpAndTransportErrors) {
  FakeHttpClient http;
  http.PushXapiSuccess(Value("OpaqueRef:s1"));
  http.Push(
      http::HttpResponse{.status = 500, .headers = {}, .body = "<html>Internal Error</html>"});
  http.Push(Error::Unavailable("HTTP request to https://10.0.0.2:8443/: Connection refused"));
  Session session(http, Options());
  auto html = session.Call("VM.get_all", {});
  ASSERT_FALSE(html.ok());
  EXPECT_EQ(html.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(html.error().message().find("HTTP 500"), std::string::npos);
  auto refused = session.Call("VM.get_all", {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message().find("VM.get_all"), std::string::npos);
  http.PushXapiSuccess(Value(""));  // logout
}

// Given a default call timeout and a per-call override, Then each reaches the HTTP request.
TEST(SessionTest, CallTimeoutsReachTheHttpRequest) {
  FakeHttpClient http;
  FakeXapi xapi;
  xapi.Install(http);
  xapi.On("VM.get_all", [](const Array&) -> Result<Value> { return Value(Array{}); });
  SessionOptions o = Options();
  o.call_timeout = 7s;
  o.login_timeout = 3s;
  Session session(http, o);
  ASSERT_TRUE(session.Call("VM.get_all", {}).ok());
  CallOptions c;
  c.timeout = 1500ms;
  ASSERT_TRUE(session.Call("VM.get_all", {}, c).ok());
  auto reqs = http.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].timeout, 3s);
  EXPECT_EQ(reqs[1].timeout, 7s);
  EXPECT_EQ(reqs[2].timeout, 1500ms);
}

// Given a logged-in session, When Logout() is called, Then session.logout is sent with the ref,
// later calls fail with kFailedPrecondition, and the destructor does not log out again.
TEST(SessionTest, LogoutEndsTheSession) {
  FakeHttpClient http;
  FakeXapi xapi;
  xapi.Install(http);
  {
    Session session(http, Options());
    ASSERT_TRUE(session.Login().ok());
    ASSERT_TRUE(session.Logout().ok());
    EXPECT_FALSE(session.logged_in());
    auto r = session.Call("VM.get_all", {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_TRUE(session.Logout().ok());  // idempotent
  }
  auto calls = http.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].method, "session.logout");
  EXPECT_EQ(calls[1].params[0].string(), "OpaqueRef:session-1");
}

// Given a logged-in session, When it is destroyed without Logout(), Then it logs out best-effort.
TEST(SessionTest, DestructorLogsOut) {
  FakeHttpClient http;
  FakeXapi xapi;
  xapi.Install(http);
  {
    Session session(http, Options());
    ASSERT_TRUE(session.Login().ok());
  }
  EXPECT_EQ(xapi.CountCalls("session.logout"), 1);
  // And a session that never logged in sends nothing.
  { Session idle(http, Options()); }
  EXPECT_EQ(http.requests().size(), 2u);
}

// Given a malformed URL, Then calls fail with kInvalidArgument and nothing is sent.
TEST(SessionTest, MalformedUrlIsInvalidArgument) {
  FakeHttpClient http;
  Session session(http, Options("10.0.0.2"));
  auto r = session.Login();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(http.requests().empty());
}

}  // namespace
}  // namespace fruix::xenapi
