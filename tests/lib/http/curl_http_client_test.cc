#include "lib/http/curl_http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/support/fake_http_server.h"
#include "tests/support/fake_tls_cert.h"

namespace fruix::http {
namespace {

using fruix::testing::FakeHttpRequest;
using fruix::testing::FakeHttpResponse;
using fruix::testing::FakeHttpServer;
using fruix::testing::Gate;
using namespace std::chrono_literals;

std::unique_ptr<CurlHttpClient> MakeClient(CurlHttpClientOptions options = {}) {
  options.connect_timeout = 5s;
  if (options.timeout == CurlHttpClientOptions{}.timeout) options.timeout = 10s;
  auto client = CurlHttpClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.error().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

HttpRequest Post(std::string url, std::string body) {
  HttpRequest req;
  req.url = std::move(url);
  req.headers = {{"Content-Type", "text/xml"}};
  req.body = std::move(body);
  return req;
}

FakeHttpResponse Respond(int status, std::string body, http::Headers headers = {}) {
  FakeHttpResponse resp;
  resp.status = status;
  resp.body = std::move(body);
  resp.headers = std::move(headers);
  return resp;
}

FakeHttpResponse Echo(const FakeHttpRequest& r) {
  return Respond(200, "echo:" + r.body, {{"Content-Type", "text/xml"}, {"X-Path", r.target}});
}

TlsOptions Tls(std::string ca_file, std::string pin, bool insecure) {
  TlsOptions t;
  t.ca_file = std::move(ca_file);
  t.pin_sha256 = std::move(pin);
  t.insecure = insecure;
  return t;
}

// A socket bound to 127.0.0.1 but not listening: connecting to it is refused, and holding it keeps
// the port from being reused during the test.
struct RefusingPort {
  int fd = -1;
  uint16_t port = 0;
  RefusingPort() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~RefusingPort() { ::close(fd); }
};

// Given a plain HTTP server, When three POSTs are made in a row, Then each body and header round-
// trips and all three travel over one kept-alive connection.
TEST(CurlHttpClientTest, PostRoundTripReusesConnection) {
  auto server = FakeHttpServer::Start(Echo);
  ASSERT_TRUE(server.ok());
  auto client = MakeClient();
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) {
    auto resp = client->Send(Post((*server)->Url("/RPC2"), "<x>" + std::to_string(i) + "</x>"));
    ASSERT_TRUE(resp.ok()) << resp.error().ToString();
    EXPECT_EQ(resp->status, 200);
    EXPECT_EQ(resp->body, "echo:<x>" + std::to_string(i) + "</x>");
    ASSERT_NE(resp->Header("content-type"), nullptr);
    EXPECT_EQ(*resp->Header("Content-Type"), "text/xml");
    EXPECT_EQ(*resp->Header("x-path"), "/RPC2");
  }
  auto received = (*server)->requests();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].method, "POST");
  ASSERT_NE(received[0].Header("content-type"), nullptr);
  EXPECT_EQ(*received[0].Header("content-type"), "text/xml");
  EXPECT_EQ(received[0].Header("expect"), nullptr);
  EXPECT_EQ((*server)->connections_accepted(), 1);
}

// Given a GET request, Then it is sent as GET without a body.
TEST(CurlHttpClientTest, GetSendsNoBody) {
  auto server = FakeHttpServer::Start(Echo);
  ASSERT_TRUE(server.ok());
  auto client = MakeClient();
  HttpRequest req;
  req.method = Method::kGet;
  req.url = (*server)->Url("/export?x=1");
  auto resp = client->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.error().ToString();
  EXPECT_EQ(resp->body, "echo:");
  auto received = (*server)->requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "GET");
  EXPECT_EQ(received[0].target, "/export?x=1");
}

// Given one request held open by the server (a long poll), When another thread makes a request,
// Then it completes while the first is still pending, on a second connection.
TEST(CurlHttpClientTest, LongRequestDoesNotBlockOthers) {
  Gate slow_arrived, release;
  auto server = FakeHttpServer::Start([&](const FakeHttpRequest& r) {
    if (r.target == "/slow") {
      slow_arrived.Open();
      release.Wait();
    }
    return Echo(r);
  });
  ASSERT_TRUE(server.ok());
  auto client = MakeClient();
  auto slow = std::async(std::launch::async,
                         [&] { return client->Send(Post((*server)->Url("/slow"), "s")); });
  ASSERT_TRUE(slow_arrived.Wait(10s));
  auto fast = client->Send(Post((*server)->Url("/fast"), "f"));
  ASSERT_TRUE(fast.ok()) << fast.error().ToString();
  EXPECT_EQ(fast->body, "echo:f");
  EXPECT_EQ(slow.wait_for(0s), std::future_status::timeout);  // still held by the server
  release.Open();
  auto slow_result = slow.get();
  ASSERT_TRUE(slow_result.ok()) << slow_result.error().ToString();
  EXPECT_EQ(slow_result->body, "echo:s");
  EXPECT_EQ((*server)->connections_accepted(), 2);
}

// Given a server that never answers, When the request's total timeout is 300 ms, Then Send returns
// kTimeout naming the URL (without its query) well before the server would answer.
TEST(CurlHttpClientTest, TotalTimeoutIsTimeout) {
  Gate release;
  auto server = FakeHttpServer::Start([&](const FakeHttpRequest& r) {
    release.Wait();
    return Echo(r);
  });
  ASSERT_TRUE(server.ok());
  auto client = MakeClient();
  HttpRequest req = Post((*server)->Url("/?session_id=OpaqueRef:secret"), "x");
  req.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto resp = client->Send(req);
  auto took = std::chrono::steady_clock::now() - start;
  release.Open();
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code(), ErrorCode::kTimeout) << resp.error().ToString();
  EXPECT_NE(resp.error().message().find((*server)->Url("/")), std::string::npos);
  EXPECT_EQ(resp.error().message().find("secret"), std::string::npos);
  EXPECT_LT(took, 5s);
}

// Given a port where nothing listens, When a request is made, Then it is kUnavailable with the URL.
TEST(CurlHttpClientTest, ConnectionRefusedIsUnavailable) {
  RefusingPort port;
  auto client = MakeClient();
  std::string url = "http://127.0.0.1:" + std::to_string(port.port) + "/";
  auto resp = client->Send(Post(url, "x"));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code(), ErrorCode::kUnavailable) << resp.error().ToString();
  EXPECT_NE(resp.error().message().find(url), std::string::npos);
}

// Given a listener whose accept queue is full (so SYNs are dropped), When the connect timeout is
// 300 ms, Then Send returns kTimeout quickly.
TEST(CurlHttpClientTest, ConnectTimeoutIsTimeout) {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lfd, 0), 0);
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  // Fill the accept queue (backlog 0 holds one connection) plus one more in SYN state.
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    (void)::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(c);
  }
  auto client = MakeClient();
  HttpRequest req = Post("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/", "x");
  req.connect_timeout = 300ms;
  req.timeout = 5s;
  auto start = std::chrono::steady_clock::now();
  auto resp = client->Send(req);
  auto took = std::chrono::steady_clock::now() - start;
  for (int c : fillers) ::close(c);
  ::close(lfd);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code(), ErrorCode::kTimeout) << resp.error().ToString();
  EXPECT_LT(took, 3s);
}

// Given a request held by the server, When its stop token is triggered, Then Send returns
// kCancelled promptly.
TEST(CurlHttpClientTest, CancelAbandonsRequest) {
  Gate arrived, release;
  auto server = FakeHttpServer::Start([&](const FakeHttpRequest& r) {
    arrived.Open();
    release.Wait();
    return Echo(r);
  });
  ASSERT_TRUE(server.ok());
  auto client = MakeClient();
  std::stop_source stop;
  HttpRequest req = Post((*server)->Url("/"), "x");
  req.cancel = stop.get_token();
  auto pending = std::async(std::launch::async, [&] { return client->Send(req); });
  ASSERT_TRUE(arrived.Wait(10s));
  stop.request_stop();
  ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
  auto resp = pending.get();
  release.Open();
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code(), ErrorCode::kCancelled) << resp.error().ToString();
}

// Given a response larger than max_response_bytes, Then Send fails with kProtocol.
TEST(CurlHttpClientTest, OversizedResponseIsProtocolError) {
  auto server = FakeHttpServer::Start(
      [](const FakeHttpRequest&) { return Respond(200, std::string(4096, 'x')); });
  ASSERT_TRUE(server.ok());
  CurlHttpClientOptions options;
  options.max_response_bytes = 1024;
  auto client = MakeClient(options);
  auto resp = client->Send(Post((*server)->Url("/"), "x"));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code(), ErrorCode::kProtocol) << resp.error().ToString();
}

// Given a non-200 answer (xapi's HTML 500), Then Send returns it as a response, not an error.
TEST(CurlHttpClientTest, HttpErrorStatusIsAResponse) {
  auto server = FakeHttpServer::Start(
      [](const FakeHttpRequest&) { return Respond(500, "<html>Internal Error</html>"); });
  ASSERT_TRUE(server.ok());
  auto client = MakeClient();
  auto resp = client->Send(Post((*server)->Url("/"), "x"));
  ASSERT_TRUE(resp.ok()) << resp.error().ToString();
  EXPECT_EQ(resp->status, 500);
}

// Given contradictory TLS options or an unreadable CA file, Then Create refuses them.
TEST(CurlHttpClientTest, CreateRejectsBadTlsOptions) {
  CurlHttpClientOptions bad_pin_options;
  bad_pin_options.tls = Tls("", "12:34", false);
  auto bad_pin = CurlHttpClient::Create(bad_pin_options);
  ASSERT_FALSE(bad_pin.ok());
  EXPECT_EQ(bad_pin.error().code(), ErrorCode::kInvalidArgument);
  CurlHttpClientOptions no_ca_options;
  no_ca_options.tls = Tls("/nonexistent/ca.pem", "", false);
  auto no_ca = CurlHttpClient::Create(no_ca_options);
  ASSERT_FALSE(no_ca.ok());
  EXPECT_EQ(no_ca.error().code(), ErrorCode::kInvalidArgument);
}

class CurlHttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cert = fruix::testing::MakeFakeTlsCert(dir_.path());
    ASSERT_TRUE(cert.ok()) << cert.error().ToString();
    cert_ = *cert;
    auto other = fruix::testing::MakeFakeTlsCert(dir_.path(), "other");
    ASSERT_TRUE(other.ok());
    other_ = *other;
    auto server =
        FakeHttpServer::Start(Echo, FakeHttpServer::TlsFiles{cert_.cert_pem, cert_.key_pem});
    ASSERT_TRUE(server.ok()) << server.error().ToString();
    server_ = std::move(server).value();
  }
  Result<HttpResponse> SendWith(TlsOptions tls) {
    CurlHttpClientOptions options;
    options.tls = std::move(tls);
    options.connect_timeout = 5s;
    options.timeout = 10s;
    auto client = CurlHttpClient::Create(options);
    if (!client.ok()) return client.error();
    return (*client)->Send(Post(server_->Url("/"), "secret-body"));
  }

  fruix::testing::ScratchDir dir_;
  fruix::testing::FakeTlsCert cert_, other_;
  std::unique_ptr<FakeHttpServer> server_;
};

// Given a self-signed server certificate, When verification is on by default, Then the handshake
// is rejected with kTls and no request reaches the server.
TEST_F(CurlHttpsTest, DefaultVerificationRejectsSelfSigned) {
  auto resp = SendWith(TlsOptions{});
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code(), ErrorCode::kTls) << resp.error().ToString();
  ASSERT_TRUE(server_->WaitForClosedConnections(1));
  EXPECT_TRUE(server_->requests().empty());
}

// Given the server's certificate as CA file, Then chain and hostname verification accept it.
TEST_F(CurlHttpsTest, CaFileAccepts) {
  auto resp = SendWith(Tls(cert_.cert_pem, "", false));
  ASSERT_TRUE(resp.ok()) << resp.error().ToString();
  EXPECT_EQ(resp->body, "echo:secret-body");
}

// Given another certificate as CA file, Then verification rejects the server.
TEST_F(CurlHttpsTest, WrongCaFileRejects) {
  auto resp = SendWith(Tls(other_.cert_pem, "", false));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code(), ErrorCode::kTls) << resp.error().ToString();
  ASSERT_TRUE(server_->WaitForClosedConnections(1));
  EXPECT_TRUE(server_->requests().empty());
}

// Given explicit insecure mode, Then the self-signed server is accepted.
TEST_F(CurlHttpsTest, InsecureAccepts) {
  auto resp = SendWith(Tls("", "", true));
  ASSERT_TRUE(resp.ok()) << resp.error().ToString();
  EXPECT_EQ(resp->body, "echo:secret-body");
}

// Given the server certificate's fingerprint as pin (CLI form, or plain lower-case hex), Then the
// request succeeds without any CA, and the keep-alive connection is reused.
TEST_F(CurlHttpsTest, PinAccepted) {
  auto resp = SendWith(Tls("", cert_.sha256_fingerprint, false));
  ASSERT_TRUE(resp.ok()) << resp.error().ToString();
  EXPECT_EQ(resp->body, "echo:secret-body");

  std::string plain;
  for (char c : cert_.sha256_fingerprint) {
    if (c != ':') plain += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  CurlHttpClientOptions options;
  options.tls = Tls("", plain, false);
  auto client = CurlHttpClient::Create(options);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 2; ++i) {
    auto again = (*client)->Send(Post(server_->Url("/"), "again"));
    ASSERT_TRUE(again.ok()) << again.error().ToString();
  }
  EXPECT_EQ(server_->connections_accepted(), 2);  // one per client
}

// Given a pin that does not match the server's certificate, When a request is made, Then it fails
// with kTls naming both fingerprints, and the server never received the request.
TEST_F(CurlHttpsTest, PinMismatchRejectedBeforeRequestIsSent) {
  auto resp = SendWith(Tls("", other_.sha256_fingerprint, false));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code(), ErrorCode::kTls) << resp.error().ToString();
  EXPECT_NE(resp.error().message().find(other_.sha256_fingerprint), std::string::npos)
      << resp.error().message();
  EXPECT_NE(resp.error().message().find(cert_.sha256_fingerprint), std::string::npos)
      << resp.error().message();
  ASSERT_TRUE(server_->WaitForClosedConnections(1));
  EXPECT_EQ(server_->tls_handshakes_failed(), 1);
  EXPECT_TRUE(server_->requests().empty());
}

}  // namespace
}  // namespace fruix::http
