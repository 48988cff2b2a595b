// Session + CurlHttpClient over real sockets: the in-test HTTPS server forwards each XML-RPC body
// to FakeXapi, so the whole client stack (codec, session, events, curl, TLS pin) runs end to end.
#include <gtest/gtest.h>

#include <future>

#include "lib/http/curl_http_client.h"
#include "lib/xenapi/api.h"
#include "lib/xenapi/events.h"
#include "lib/xenapi/session.h"
#include "tests/support/fake_http_client.h"
#include "tests/support/fake_http_server.h"
#include "tests/support/fake_tls_cert.h"
#include "tests/support/fake_xapi.h"

namespace fruix::xenapi {
namespace {

using namespace std::chrono_literals;
using fruix::testing::FakeHttpClient;
using fruix::testing::FakeHttpRequest;
using fruix::testing::FakeHttpResponse;
using fruix::testing::FakeHttpServer;
using fruix::testing::FakeXapi;

Struct VmStruct(const std::string& power_state) {
  return Struct{{"uuid", Value("u1")},
                {"name_label", Value("vm")},
                {"power_state", Value(power_state)},
                {"is_a_template", Value(false)},
                {"resident_on", Value("OpaqueRef:NULL")},
                {"domid", Value("-1")},
                {"VBDs", Value(Array{})},
                {"VIFs", Value(Array{})},
                {"consoles", Value(Array{})},
                {"guest_metrics", Value("OpaqueRef:NULL")},
                {"other_config", Value(Struct{})}};
}

// Given an HTTPS xapi whose certificate is pinned, When one thread waits on event.from for a VM
// to start and another thread starts it through a second call, Then the second call is not held
// up by the long poll, the waiter wakes with the Running record, and logout is sent at the end.
TEST(SessionOverHttpsTest, PinnedSessionWithConcurrentEventWait) {
  fruix::testing::ScratchDir dir;
  auto cert = fruix::testing::MakeFakeTlsCert(dir.path());
  ASSERT_TRUE(cert.ok()) << cert.error().ToString();

  FakeHttpClient dispatcher;  // reused as the server-side router into FakeXapi
  FakeXapi xapi;
  xapi.Install(dispatcher);
  xapi.Put("VM", "OpaqueRef:vm1", VmStruct("Halted"));
  xapi.On("VM.start", [&](const Array&) -> Result<Value> {
    xapi.Put("VM", "OpaqueRef:vm1", VmStruct("Running"));
    return Value("");
  });
  auto server = FakeHttpServer::Start(
      [&](const FakeHttpRequest& req) {
        http::HttpRequest forwarded;
        forwarded.body = req.body;
        auto resp = dispatcher.Send(forwarded);
        FakeHttpResponse out;
        out.status = resp.ok() ? resp->status : 500;
        out.body = resp.ok() ? resp->body : "<html>error</html>";
        out.headers = {{"Content-Type", "text/xml"}};
        return out;
      },
      FakeHttpServer::TlsFiles{cert->cert_pem, cert->key_pem});
  ASSERT_TRUE(server.ok()) << server.error().ToString();

  http::CurlHttpClientOptions http_options;
  http_options.tls.pin_sha256 = cert->sha256_fingerprint;
  auto http = http::CurlHttpClient::Create(http_options);
  ASSERT_TRUE(http.ok()) << http.error().ToString();
  {
    SessionOptions options;
    options.url = (*server)->Url("/");
    options.username = "root";
    options.password = "secret";
    Session session(**http, options);
    EventWatcherOptions events;
    events.poll_timeout = 30s;
    auto waiter = std::async(std::launch::async, [&] {
      return WaitForRecord<VmRecord>(
          session, OpaqueRef("OpaqueRef:vm1"),
          [](const VmRecord& r) { return r.power_state == VmPowerState::kRunning; },
          Deadline(RealClock(), 20s), {}, events);
    });
    ASSERT_TRUE(xapi.WaitForCalls("event.from", 2));  // the waiter is now blocked in xapi
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(Api(session).VmStart(OpaqueRef("OpaqueRef:vm1")).ok());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
    auto vm = waiter.get();
    ASSERT_TRUE(vm.ok()) << vm.error().ToString();
    EXPECT_EQ(vm->power_state, VmPowerState::kRunning);
    EXPECT_EQ(xapi.logins(), 1);
  }
  EXPECT_EQ(xapi.CountCalls("session.logout"), 1);
}

}  // namespace
}  // namespace fruix::xenapi
