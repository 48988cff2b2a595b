// CurlHttpClient::Connect (CONNECT tunnels, xenapi-spec.md §7): against a tiny scripted TCP server
// for reply-head edge cases, and against the simulator's https console endpoint with its pin.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "lib/http/curl_http_client.h"
#include "lib/xenapi/value.h"
#include "tests/support/sim_harness.h"

namespace fruix::http {
namespace {

using namespace std::chrono_literals;
using testing::SimHarness;
using xenapi::Value;

// One-connection TCP server on 127.0.0.1:0: reads the request head, then sends `chunks` one by
// one (each pause_between apart, so they arrive as separate segments), then either echoes what
// the client sends (echo) or closes, or holds the connection open until destroyed (hold).
class ScriptedServer {
 public:
  struct Script {
    std::vector<std::string> chunks;
    std::chrono::milliseconds pause_between{30};
    bool echo = false;
    bool hold = false;  // keep the connection open (silent) after the chunks
  };

  explicit ScriptedServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listen_fd_, 4), 0);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }

  std::string Url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(port_) + target;
  }
  // The request head the client sent (waits up to 10 s for it).
  std::string RequestHead() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, 10s, [&] { return got_head_; });
    return head_;
  }
  // What the client wrote after the head (echo mode), once at least `n` bytes arrived.
  std::string Received(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, 10s, [&] { return received_.size() >= n; });
    return received_;
  }

 private:
  // Waits up to `ms` for `fd` to be readable; false on timeout or when the test is done.
  bool Readable(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, ms) > 0;
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

  void Serve() {
    if (!Readable(listen_fd_, 10'000)) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && Readable(fd, 10'000) &&
           ::recv(fd, &c, 1, 0) == 1) {
      head.push_back(c);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      head_ = head;
      got_head_ = true;
    }
    cv_.notify_all();
    for (size_t i = 0; i < script_.chunks.size(); ++i) {
      if (i > 0) std::this_thread::sleep_for(script_.pause_between);  // separate TCP segments
      (void)::send(fd, script_.chunks[i].data(), script_.chunks[i].size(), MSG_NOSIGNAL);
    }
    if (script_.echo) {
      char buf[256];
      while (!done()) {
        if (!Readable(fd, 50)) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        {
          std::lock_guard<std::mutex> lock(mu_);
          received_.append(buf, static_cast<size_t>(n));
        }
        cv_.notify_all();
        (void)::send(fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
      }
    } else if (script_.hold) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return done_; });
    }
    ::close(fd);
  }

  Script script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool got_head_ = false;
  std::string head_;
  std::string received_;
};

std::unique_ptr<CurlHttpClient> Client(TlsOptions tls = {}) {
  CurlHttpClientOptions o;
  o.tls = std::move(tls);
  o.connect_timeout = 5s;
  auto c = CurlHttpClient::Create(std::move(o));
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

ConnectRequest Req(std::string url) {
  ConnectRequest r;
  r.url = std::move(url);
  return r;
}

// Reads from `s` until `needle` is in the collected text, EOF, or 10 s.
std::string ReadUntil(ByteStream& s, const std::string& needle, Error* end = nullptr) {
  std::string got;
  char buf[1024];
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    auto n = s.Read(buf, 200ms);
    if (!n.ok()) {
      if (end != nullptr) *end = n.error();
      break;
    }
    got.append(buf, *n);
  }
  return got;
}

// Given a server whose reply head arrives in four segments, the blank line split between two,
// When the tunnel is opened, Then Connect waits for the whole head, sends xe's request line with
// Host, and the first Read returns the bytes after the head.
TEST(CurlConnectTest, HeadSplitAcrossSegments) {
  ScriptedServer server({{"HTTP/1.1 2", "00 OK\r\nConn", "ection: keep-alive\r\n\r", "\nHELLO"}});
  auto client = Client();
  auto stream = client->Connect(Req(server.Url("/console?uuid=abc&session_id=OpaqueRef:s")));
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  EXPECT_EQ(server.RequestHead(),
            "CONNECT /console?uuid=abc&session_id=OpaqueRef:s HTTP/1.0\r\nHost: 127.0.0.1:" +
                server.Url("").substr(std::string("http://127.0.0.1:").size()) + "\r\n\r\n");
  EXPECT_EQ(ReadUntil(**stream, "HELLO"), "HELLO");
}

// Given console bytes in the same segment as the head, and more later, When read, Then no byte is
// lost, and after the server closes Read reports kUnavailable (and keeps doing so).
TEST(CurlConnectTest, ConsoleBytesInTheHeadSegment) {
  ScriptedServer server(
      {{"HTTP/1.1 200 OK\r\nCache-Control: no-cache, no-store\r\n\r\nLINE1\r\nLI", "NE2\r\n"}});
  auto client = Client();
  auto stream = client->Connect(Req(server.Url("/console?ref=x")));
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  Error end = Error::Internal("none");
  std::string text = ReadUntil(**stream, "never", &end);
  EXPECT_EQ(text, "LINE1\r\nLINE2\r\n");
  EXPECT_EQ(end.code(), ErrorCode::kUnavailable);
  char buf[8];
  auto again = (*stream)->Read(buf, 10ms);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kUnavailable);
}

// Given each refusal xapi gives, Then the error code follows the status, the message names the
// status line and the URL without its query (no session id).
TEST(CurlConnectTest, StatusMapping) {
  struct Case {
    std::string reply;
    ErrorCode code;
  } cases[] = {
      {"HTTP/1.1 404 Not Found\r\n\r\n", ErrorCode::kNotFound},
      {"HTTP/1.1 401 Unauthorised\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n",
       ErrorCode::kPermissionDenied},
      {"HTTP/1.1 503 Connection Limit Exceeded\r\n\r\n", ErrorCode::kUnavailable},
      {"HTTP/1.1 500 Internal Error\r\n\r\n", ErrorCode::kFailedPrecondition},
      {"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n", ErrorCode::kTransport},
      {"SSH-2.0-OpenSSH_9.2\r\n\r\n", ErrorCode::kProtocol},
  };
  auto client = Client();
  for (const auto& c : cases) {
    ScriptedServer server({{c.reply}});
    auto stream = client->Connect(Req(server.Url("/console?uuid=u&session_id=OpaqueRef:secret")));
    ASSERT_FALSE(stream.ok()) << c.reply;
    EXPECT_EQ(stream.error().code(), c.code) << stream.error().ToString();
    std::string first_line = c.reply.substr(0, c.reply.find('\r'));
    if (c.code != ErrorCode::kProtocol) {
      EXPECT_NE(stream.error().message().find(first_line), std::string::npos)
          << stream.error().message();
    }
    EXPECT_NE(stream.error().message().find("/console"), std::string::npos);
    EXPECT_EQ(stream.error().message().find("secret"), std::string::npos);
  }
}

// Given a server that closes before the head ends, or never answers, Then kUnavailable, or
// kTimeout after the connect timeout.
TEST(CurlConnectTest, TruncatedOrMissingHead) {
  auto client = Client();
  {
    ScriptedServer server({{"HTTP/1.1 200 OK\r\n"}});
    auto stream = client->Connect(Req(server.Url("/console")));
    ASSERT_FALSE(stream.ok());
    EXPECT_EQ(stream.error().code(), ErrorCode::kUnavailable) << stream.error().ToString();
  }
  {
    ScriptedServer::Script silent;
    silent.hold = true;
    ScriptedServer server(silent);
    auto req = Req(server.Url("/console"));
    req.connect_timeout = 300ms;
    auto t0 = std::chrono::steady_clock::now();
    auto stream = client->Connect(req);
    ASSERT_FALSE(stream.ok());
    EXPECT_EQ(stream.error().code(), ErrorCode::kTimeout) << stream.error().ToString();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  }
}

// Given a server that never answers, When the cancel token fires once the request arrived, Then
// Connect returns kCancelled promptly.
TEST(CurlConnectTest, CancelWhileWaitingForTheHead) {
  ScriptedServer::Script silent;
  silent.hold = true;
  ScriptedServer server(silent);
  auto client = Client();
  std::stop_source stop;
  auto req = Req(server.Url("/console"));
  req.cancel = stop.get_token();
  std::chrono::steady_clock::time_point cancelled_at;
  std::thread canceller([&] {
    (void)server.RequestHead();
    cancelled_at = std::chrono::steady_clock::now();
    stop.request_stop();
  });
  auto stream = client->Connect(req);
  canceller.join();
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.error().code(), ErrorCode::kCancelled) << stream.error().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, 1s);
}

// Given an open tunnel, When the client writes, Then the bytes reach the server (which echoes
// them back); Read with nothing pending returns 0 within its wait; Close ends reads.
TEST(CurlConnectTest, WriteReadAndClose) {
  ScriptedServer::Script echo;
  echo.chunks = {"HTTP/1.1 200 OK\r\n\r\n"};
  echo.echo = true;
  ScriptedServer server(echo);
  auto client = Client();
  auto stream = client->Connect(Req(server.Url("/console")));
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  char buf[64];
  auto t0 = std::chrono::steady_clock::now();
  auto idle = (*stream)->Read(buf, 100ms);
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(*idle, 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);
  ASSERT_TRUE((*stream)->Write(std::string_view("ping\r")).ok());
  EXPECT_EQ(server.Received(5), "ping\r");
  EXPECT_EQ(ReadUntil(**stream, "ping\r"), "ping\r");
  (*stream)->Close();
  (*stream)->Close();
  EXPECT_EQ((*stream)->Read(buf, 10ms).error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ((*stream)->Write(std::string_view("x")).error().code(), ErrorCode::kUnavailable);
}

// Given a client without CONNECT support (the base class), Then Connect says so.
TEST(CurlConnectTest, DefaultImplementationRefuses) {
  struct NoConnect final : HttpClient {
    Result<HttpResponse> Send(const HttpRequest&) override { return Error::Internal("x"); }
  } c;
  auto r = c.Connect(Req("https://127.0.0.1/console?session_id=s"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInternal);
  EXPECT_NE(r.error().message().find("not supported"), std::string::npos);
}

// ---- Against the simulator (https with its certificate pin) ----

class SimConnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    session_ = *sim_->Login();
    vm_ = sim_->RefOf("VM", SimHarness::kPvVm);
    TlsOptions tls;
    tls.pin_sha256 = sim_->tls_fingerprint();
    client_ = Client(tls);
    ASSERT_NE(client_, nullptr);
  }
  void StartVm() {
    ASSERT_TRUE(
        sim_->CallOk("VM.start", {Value(session_), Value(vm_), Value(false), Value(false)}).ok());
  }
  // The vt100 console's location path+query ("/console?uuid=...").
  std::string Vt100Target() {
    auto consoles = sim_->CallOk("VM.get_consoles", {Value(session_), Value(vm_)});
    for (const auto& c : consoles->array()) {
      auto rec = sim_->CallOk("console.get_record", {Value(session_), c})->structure();
      if (rec.Find("protocol")->string() == "vt100") {
        std::string loc = rec.Find("location")->string();
        return loc.substr(loc.find("/console"));
      }
    }
    ADD_FAILURE() << "no vt100 console";
    return "/console";
  }
  std::string Url(const std::string& target) {
    return "https://127.0.0.1:" + std::to_string(sim_->https_port()) + target;
  }

  std::unique_ptr<SimHarness> sim_;
  std::string session_, vm_;
  std::unique_ptr<CurlHttpClient> client_;
};

// Given a running PV guest, When its vt100 console is CONNECTed over TLS with the pin and
// session_id in the query, Then the scripted boot streams through the tunnel up to its last line.
TEST_F(SimConnectTest, StreamsTheScriptedConsoleOverTls) {
  StartVm();
  auto stream = client_->Connect(Req(Url(Vt100Target() + "&session_id=" + session_)));
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  std::string text = ReadUntil(**stream, std::string(SimHarness::kPvFinalLine) + "\r\n");
  EXPECT_NE(text.find("FreeBSD 15.0-STABLE"), std::string::npos);
  EXPECT_NE(text.find(std::string(SimHarness::kPvFinalLine) + "\r\n"), std::string::npos);
  EXPECT_LT(text.find("FreeBSD 15.0-STABLE"), text.find("DHCPACK from 127.0.0.1"));
}

// Given the simulator's refusals, Then: bad session → kPermissionDenied; VM shut down (console
// gone) → kFailedPrecondition; second session with the console limit → kUnavailable; wrong pin
// → kTls.
TEST_F(SimConnectTest, Refusals) {
  StartVm();
  std::string target = Vt100Target();
  auto bad = client_->Connect(Req(Url(target + "&session_id=OpaqueRef:nope")));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kPermissionDenied) << bad.error().ToString();

  auto pool = sim_->RefOf("pool", SimHarness::kPool);
  ASSERT_TRUE(
      sim_->CallOk("pool.set_limit_console_sessions", {Value(session_), Value(pool), Value(true)})
          .ok());
  auto first = client_->Connect(Req(Url(target + "&session_id=" + session_)));
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  auto second = client_->Connect(Req(Url(target + "&session_id=" + session_)));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable) << second.error().ToString();
  EXPECT_NE(second.error().message().find("503"), std::string::npos);
  (*first)->Close();

  TlsOptions wrong;
  wrong.pin_sha256 = std::string(64, 'a');
  auto mismatched = Client(wrong)->Connect(Req(Url(target + "&session_id=" + session_)));
  ASSERT_FALSE(mismatched.ok());
  EXPECT_EQ(mismatched.error().code(), ErrorCode::kTls) << mismatched.error().ToString();

  ASSERT_TRUE(sim_->CallOk("VM.hard_shutdown", {Value(session_), Value(vm_)}).ok());
  auto halted = client_->Connect(Req(Url(target + "&session_id=" + session_)));
  ASSERT_FALSE(halted.ok());
  EXPECT_EQ(halted.error().code(), ErrorCode::kFailedPrecondition) << halted.error().ToString();
}

}  // namespace
}  // namespace fruix::http
