// The libssh SshClient against a real OpenSSH sshd on 127.0.0.1 (tests/support/sshd_harness.h),
// plus raw loopback sockets for servers that never answer or hang up.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lib/ssh/ssh_client.h"
#include "tests/support/sshd_harness.h"

namespace fruix::ssh {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::SshdHarness;
using SteadyClock = std::chrono::steady_clock;

// Decodes "SHA256:<base64>" into 64 hex digits (for the hex pin form).
std::string HexOf(const std::string& fingerprint) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string hex;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : fingerprint.substr(7)) {
    acc = (acc << 6) | static_cast<uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      char buf[3];
      snprintf(buf, sizeof(buf), "%02x", (acc >> bits) & 0xff);
      hex += buf;
    }
  }
  return hex;
}

// A listening socket on 127.0.0.1 that never accepts (the kernel completes the TCP handshake,
// nobody ever sends a banner), or, with hang_up, one that closes every connection at once.
class SilentServer {
 public:
  explicit SilentServer(bool hang_up = false) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    if (hang_up) {
      acceptor_ = std::thread([this] {
        for (;;) {
          int c = ::accept(fd_, nullptr, nullptr);
          if (c < 0) return;
          ::close(c);
        }
      });
    }
  }
  ~SilentServer() {
    ::shutdown(fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
};

Endpoint LoopbackEndpoint(uint16_t port, const SshdHarness& keys) {
  Endpoint ep = keys.Endpoint();
  ep.port = port;
  return ep;
}

class LibsshClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sshd = SshdHarness::Create();
    ASSERT_NE(sshd, nullptr);
    auto started = sshd->Start();
    ASSERT_TRUE(started.ok()) << started.error().ToString();
  }

  std::unique_ptr<SshSession> ConnectOk(const Endpoint& ep) {
    auto session = client->Connect(ep, {});
    EXPECT_TRUE(session.ok()) << session.error().ToString() << "\nsshd log:\n" << sshd->log();
    return session.ok() ? std::move(session).value() : nullptr;
  }

  std::unique_ptr<SshdHarness> sshd;
  std::unique_ptr<SshClient> client = NewLibsshClient();
};

TEST_F(LibsshClientTest, Ed25519LoginRunsCommandsAndReportsTheHostKey) {
  // Given sshd with an ed25519 host key and an authorized ed25519 user key
  // When connecting in record mode and running a command that writes both streams and exits 3
  // Then the host key fingerprint equals ssh-keygen's, and stdout, stderr and 3 come back.
  auto session = ConnectOk(sshd->Endpoint(SshdHarness::UserKey::kEd25519));
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session->host_key_sha256(), sshd->host_key_sha256());
  auto r = session->Run("echo hello; echo oops >&2; exit 3", seconds(10));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_EQ(r->output, "hello\n");
  EXPECT_EQ(r->error_output, "oops\n");
  EXPECT_FALSE(r->truncated);
  // The session stays usable for more commands.
  auto again = session->Run("printf %s \"$USER\"", seconds(10));
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->exit_status, 0);
  EXPECT_EQ(again->output, sshd->user());
}

TEST(LibsshClientRsaUserTest, RsaUserKeyLogsIn) {
  // Given an authorized RSA user key
  // When connecting with it
  // Then login works (rsa-sha2 signatures) and sshd logged an RSA key acceptance.
  SshdHarness::Options options;
  options.rsa_user_key = true;
  auto sshd = SshdHarness::Create(options);
  ASSERT_NE(sshd, nullptr);
  ASSERT_TRUE(sshd->Start().ok());
  auto connected = NewLibsshClient()->Connect(sshd->Endpoint(SshdHarness::UserKey::kRsa), {});
  ASSERT_TRUE(connected.ok()) << connected.error().ToString() << "\n" << sshd->log();
  auto& session = *connected;
  auto r = session->Run("true", seconds(10));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->exit_status, 0);
  EXPECT_TRUE(sshd->WaitForLog("Accepted publickey for " + sshd->user(), seconds(5)));
  EXPECT_NE(sshd->log().find(": RSA SHA256:"), std::string::npos) << sshd->log();
}

TEST(LibsshClientRsaHostTest, RsaHostKeyFingerprintMatchesSshKeygen) {
  // Given sshd whose only host key is RSA
  // When connecting
  // Then the reported fingerprint equals `ssh-keygen -lf` of that key.
  SshdHarness::Options options;
  options.host_key = SshdHarness::HostKeyType::kRsa;
  auto sshd = SshdHarness::Create(options);
  ASSERT_NE(sshd, nullptr);
  ASSERT_TRUE(sshd->Start().ok());
  auto session = NewLibsshClient()->Connect(sshd->Endpoint(), {});
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  EXPECT_EQ((*session)->host_key_sha256(), sshd->host_key_sha256());
}

TEST_F(LibsshClientTest, MatchingPinIsAcceptedInEveryForm) {
  // Given the host key's fingerprint as ssh-keygen prints it, bare base64, and hex
  // When connecting with each as the pin
  // Then every connection succeeds.
  const std::string fp = sshd->host_key_sha256();
  for (const std::string& pin : {fp, fp.substr(7), HexOf(fp)}) {
    Endpoint ep = sshd->Endpoint();
    ep.host_key = {HostKeyMode::kPin, pin};
    auto session = ConnectOk(ep);
    ASSERT_NE(session, nullptr) << pin;
    EXPECT_EQ(session->host_key_sha256(), fp);
  }
}

TEST_F(LibsshClientTest, PinMismatchFailsBeforeAuthenticationNamingBothKeys) {
  // Given a pin that is not the server's key
  // When connecting
  // Then kTls comes back at once naming expected and actual fingerprints, and sshd never saw
  //      a public key offered.
  Endpoint ep = sshd->Endpoint();
  const std::string wrong = "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
  ep.host_key = {HostKeyMode::kPin, wrong};
  const auto start = SteadyClock::now();
  auto session = client->Connect(ep, {});
  ASSERT_FALSE(session.ok());
  EXPECT_LT(SteadyClock::now() - start, seconds(2));
  EXPECT_EQ(session.error().code(), ErrorCode::kTls);
  const std::string& msg = session.error().message();
  EXPECT_NE(msg.find(wrong), std::string::npos) << msg;
  EXPECT_NE(msg.find(sshd->host_key_sha256()), std::string::npos) << msg;
  EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(sshd->port())), std::string::npos) << msg;
  EXPECT_EQ(sshd->log().find("Accepted key"), std::string::npos) << sshd->log();
  EXPECT_EQ(sshd->log().find("publickey"), std::string::npos) << sshd->log();
}

TEST_F(LibsshClientTest, UnauthorizedKeyIsPermissionDenied) {
  // Given a key that is not in authorized_keys
  // When connecting
  // Then kPermissionDenied names the user, the key type and host:port.
  auto session = client->Connect(sshd->Endpoint(SshdHarness::UserKey::kUnauthorized), {});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.error().code(), ErrorCode::kPermissionDenied);
  const std::string& msg = session.error().message();
  EXPECT_NE(msg.find("authentication refused for user " + sshd->user()), std::string::npos) << msg;
  EXPECT_NE(msg.find("ssh-ed25519"), std::string::npos) << msg;
  EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(sshd->port())), std::string::npos) << msg;
}

TEST_F(LibsshClientTest, ClosedPortIsUnavailable) {
  // Given sshd stopped (nothing listens on its port any more)
  // When connecting
  // Then kUnavailable says the port is closed, naming host:port.
  sshd->Stop();
  auto session = client->Connect(sshd->Endpoint(), {});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(session.error().message().find("closed"), std::string::npos)
      << session.error().message();
  EXPECT_NE(session.error().message().find("127.0.0.1:" + std::to_string(sshd->port())),
            std::string::npos);
}

TEST_F(LibsshClientTest, ServerHangingUpBeforeTheBannerIsUnavailable) {
  // Given a server that accepts and closes at once (a guest whose sshd is not up yet)
  // When connecting
  // Then kUnavailable says the connection closed before the banner.
  SilentServer server(/*hang_up=*/true);
  auto session = client->Connect(LoopbackEndpoint(server.port(), *sshd), {});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.error().code(), ErrorCode::kUnavailable) << session.error().ToString();
  EXPECT_NE(session.error().message().find("before the SSH banner"), std::string::npos)
      << session.error().message();
}

TEST_F(LibsshClientTest, SilentServerTimesOut) {
  // Given a server that never sends a banner, and a 300 ms connect timeout
  // When connecting
  // Then kTimeout comes back after about 300 ms, saying no banner came.
  SilentServer server;
  Endpoint ep = LoopbackEndpoint(server.port(), *sshd);
  ep.connect_timeout = milliseconds(300);
  const auto start = SteadyClock::now();
  auto session = client->Connect(ep, {});
  const auto took = SteadyClock::now() - start;
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.error().code(), ErrorCode::kTimeout) << session.error().ToString();
  EXPECT_NE(session.error().message().find("no SSH banner"), std::string::npos);
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, seconds(2));
}

TEST_F(LibsshClientTest, CancelDuringConnectIsObservedQuickly) {
  // Given a server that never answers and a 30 s connect timeout
  // When stop is requested 200 ms into Connect
  // Then Connect returns kCancelled within a second of the request.
  SilentServer server;
  Endpoint ep = LoopbackEndpoint(server.port(), *sshd);
  ep.connect_timeout = seconds(30);
  std::stop_source stop;
  std::jthread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));  // the action under test happens mid-call
    stop.request_stop();
  });
  const auto start = SteadyClock::now();
  auto session = client->Connect(ep, stop.get_token());
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.error().code(), ErrorCode::kCancelled);
  EXPECT_LT(SteadyClock::now() - start, milliseconds(1200));
}

TEST_F(LibsshClientTest, BadKeyFilesAreInvalidArgument) {
  // Given a missing key file, a file that is not a key, and a passphrase-protected key
  // When connecting with each
  // Then kInvalidArgument names the file (and the passphrase), and nothing prompts.
  const auto garbage = sshd->dir() / "garbage_key";
  std::ofstream(garbage) << "this is not a key\n";
  const auto locked = sshd->dir() / "locked_key";
  ASSERT_EQ(std::system(("ssh-keygen -q -t ed25519 -N secret-pass -f " + locked.string() +
                         " </dev/null >/dev/null 2>&1")
                            .c_str()),
            0);
  for (const auto& [path, text] : std::vector<std::pair<std::string, std::string>>{
           {(sshd->dir() / "missing_key").string(), "No such file"},
           {garbage.string(), "not a private key"},
           {locked.string(), "passphrase"}}) {
    Endpoint ep = sshd->Endpoint();
    ep.private_key_file = path;
    auto session = client->Connect(ep, {});
    ASSERT_FALSE(session.ok()) << path;
    EXPECT_EQ(session.error().code(), ErrorCode::kInvalidArgument) << path;
    EXPECT_NE(session.error().message().find(path), std::string::npos) << session.error().message();
    EXPECT_NE(session.error().message().find(text), std::string::npos) << session.error().message();
  }
}

size_t OpenFds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

TEST_F(LibsshClientTest, EveryOutcomeReleasesItsSocket) {
  // Given connects that succeed (with a command and a stream), hit a wrong pin, a refused key,
  // a closed port, a server hanging up and a silent server
  // When each has been done several times and its session or stream destroyed
  // Then the process holds no more file descriptors than before.
  SilentServer silent;
  SilentServer hang_up(/*hang_up=*/true);
  auto once = [&] {
    if (auto s = client->Connect(sshd->Endpoint(), {}); s.ok()) {
      EXPECT_TRUE((*s)->Run("true", seconds(10)).ok());
      auto stream = (*s)->Stream("echo x", false);
      EXPECT_TRUE(stream.ok());
    } else {
      ADD_FAILURE() << s.error().ToString();
    }
    Endpoint pinned = sshd->Endpoint();
    pinned.host_key = {HostKeyMode::kPin, "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"};
    EXPECT_FALSE(client->Connect(pinned, {}).ok());
    EXPECT_FALSE(client->Connect(sshd->Endpoint(SshdHarness::UserKey::kUnauthorized), {}).ok());
    Endpoint closed = sshd->Endpoint();
    closed.port = 1;
    EXPECT_FALSE(client->Connect(closed, {}).ok());
    EXPECT_FALSE(client->Connect(LoopbackEndpoint(hang_up.port(), *sshd), {}).ok());
    Endpoint quiet = LoopbackEndpoint(silent.port(), *sshd);
    quiet.connect_timeout = milliseconds(100);
    EXPECT_FALSE(client->Connect(quiet, {}).ok());
  };
  once();  // warm-up: libssh's and the resolver's own one-time descriptors
  const size_t before = OpenFds();
  for (int i = 0; i < 3; ++i) once();
  EXPECT_EQ(OpenFds(), before);
}

TEST_F(LibsshClientTest, RunTimeoutClosesTheCommandAndKeepsTheSession) {
  // Given a command that sleeps 30 s
  // When run with a 300 ms timeout
  // Then kTimeout comes back soon after (not after 30 s), and the same session runs the next
  //      command.
  auto session = ConnectOk(sshd->Endpoint());
  ASSERT_NE(session, nullptr);
  const auto start = SteadyClock::now();
  auto r = session->Run("sleep 30", milliseconds(300));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(r.error().message().find("`sleep 30`"), std::string::npos) << r.error().message();
  EXPECT_LT(SteadyClock::now() - start, seconds(2));
  auto next = session->Run("echo still here", seconds(10));
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_EQ(next->output, "still here\n");
}

TEST_F(LibsshClientTest, RunOutputIsBounded) {
  // Given a command printing 100000 bytes on stdout
  // When run with max_output 1000
  // Then 1000 bytes are kept, truncated is set, and the exit status still arrives.
  auto session = ConnectOk(sshd->Endpoint());
  ASSERT_NE(session, nullptr);
  auto r = session->Run("head -c 100000 /dev/zero | tr '\\0' x; exit 5", seconds(10), 1000);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->output, std::string(1000, 'x'));
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->exit_status, 5);
}

// Reads a stream until it ends; returns everything read and the terminal error.
struct Drained {
  std::string text;
  std::vector<std::string> chunks;
  std::optional<Error> end;
};
Drained Drain(RemoteStream& stream, SteadyClock::duration budget) {
  Drained d;
  const auto until = SteadyClock::now() + budget;
  char buf[256];
  while (SteadyClock::now() < until) {
    auto n = stream.Read(buf, milliseconds(100));
    if (!n.ok()) {
      d.end = n.error();
      break;
    }
    if (*n > 0) {
      d.chunks.emplace_back(buf, *n);
      d.text.append(buf, *n);
    }
  }
  return d;
}

std::string Seq(int n) {
  std::string out;
  for (int i = 1; i <= n; ++i) out += std::to_string(i) + "\n";
  return out;
}

TEST_F(LibsshClientTest, RegressionFastExitingCommandLosesNoOutputTail) {
  // Given commands that print ~1 MB on stdout and stderr and exit at once, so data, EOF and
  // close arrive together (reading stderr used to see the EOF first and drop stdout's tail)
  // When run several times
  // Then every byte of both streams arrives, every time.
  auto session = ConnectOk(sshd->Endpoint());
  ASSERT_NE(session, nullptr);
  const std::string out = Seq(150000);
  const std::string err = Seq(20000);
  for (int i = 0; i < 4; ++i) {
    auto r = session->Run("seq 1 150000; seq 1 20000 >&2", seconds(30), 4 << 20);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->output.size(), out.size());
    EXPECT_TRUE(r->output == out);
    EXPECT_TRUE(r->error_output == err);
    EXPECT_EQ(r->exit_status, 0);
  }
}

TEST_F(LibsshClientTest, StreamOfAFastExitingCommandLosesNoOutput) {
  // Given a command printing ~600 KB and exiting at once, with stderr output too
  // When streamed and read in small pieces
  // Then the whole stdout arrives before the end of the stream.
  auto session = ConnectOk(sshd->Endpoint());
  ASSERT_NE(session, nullptr);
  auto stream = session->Stream("seq 1 90000; seq 1 5000 >&2", /*pty=*/false);
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  Drained d = Drain(**stream, seconds(20));
  EXPECT_EQ(d.text.size(), Seq(90000).size());
  EXPECT_TRUE(d.text == Seq(90000));
  ASSERT_TRUE(d.end.has_value());
  EXPECT_EQ(d.end->code(), ErrorCode::kUnavailable);
}

TEST_F(LibsshClientTest, CancelDuringRunIsObservedQuickly) {
  // Given a session and a long command
  // When the stop_token given to Connect fires 200 ms into Run
  // Then Run returns kCancelled within a second of the request.
  std::stop_source stop;
  auto session = client->Connect(sshd->Endpoint(), stop.get_token());
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  std::jthread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));  // the action under test happens mid-call
    stop.request_stop();
  });
  const auto start = SteadyClock::now();
  auto r = (*session)->Run("sleep 30", seconds(30));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled);
  EXPECT_LT(SteadyClock::now() - start, milliseconds(1200));
}

TEST_F(LibsshClientTest, StreamDeliversLinesAsTheyArePrintedAndEndsUnavailable) {
  // Given a fake `xl` on the session PATH printing three lines 300 ms apart, then exiting 4
  // When `xl console 7` is streamed (no pty)
  // Then the first line is read before the last is printed, all lines arrive in order, and the
  //      stream ends with kUnavailable naming the exit status and the stderr tail.
  sshd->AddScript("xl",
                  "#!/bin/sh\n"
                  "for i in 1 2 3; do echo \"$1 $2 line$i\"; sleep 0.3; done\n"
                  "echo bye >&2\n"
                  "exit 4\n");
  auto session = ConnectOk(sshd->Endpoint());
  ASSERT_NE(session, nullptr);
  auto stream = session->Stream("xl console 7", /*pty=*/false);
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  Drained d = Drain(**stream, seconds(10));
  EXPECT_EQ(d.text, "console 7 line1\nconsole 7 line2\nconsole 7 line3\n");
  ASSERT_FALSE(d.chunks.empty());
  EXPECT_EQ(d.chunks.front().find("line3"), std::string::npos) << "not incremental";
  ASSERT_TRUE(d.end.has_value());
  EXPECT_EQ(d.end->code(), ErrorCode::kUnavailable) << d.end->ToString();
  EXPECT_NE(d.end->message().find("exit status 4"), std::string::npos) << d.end->message();
  EXPECT_NE(d.end->message().find("bye"), std::string::npos) << d.end->message();
  // Reading again repeats the end.
  char buf[16];
  auto again = (*stream)->Read(buf, milliseconds(0));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kUnavailable);
}

TEST_F(LibsshClientTest, PtyStreamOutlivesItsSession) {
  // Given a pty stream of a command that checks it has a terminal and prints slowly
  // When the SshSession is destroyed before reading
  // Then the stream still delivers everything (CRLF line ends from the pty) and then ends.
  if (::geteuid() != 0) GTEST_SKIP() << "sshd run by a normal user cannot allocate a pty";
  sshd->AddScript("xl", "#!/bin/sh\ntest -t 1 && echo tty; sleep 0.2; echo done\n");
  auto session = ConnectOk(sshd->Endpoint());
  ASSERT_NE(session, nullptr);
  auto stream = session->Stream("xl console 3", /*pty=*/true);
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  session.reset();
  Drained d = Drain(**stream, seconds(10));
  EXPECT_EQ(d.text, "tty\r\ndone\r\n");
  ASSERT_TRUE(d.end.has_value());
  EXPECT_EQ(d.end->code(), ErrorCode::kUnavailable) << d.end->ToString();
}

TEST_F(LibsshClientTest, CloseFromAnotherThreadEndsABlockedRead) {
  // Given a stream of a command that prints nothing for 30 s
  // When another thread calls Close() while Read(10 s) is blocked
  // Then Read returns kCancelled within a second and later reads stay kCancelled.
  auto session = ConnectOk(sshd->Endpoint());
  ASSERT_NE(session, nullptr);
  auto stream = session->Stream("sleep 30", /*pty=*/false);
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  std::jthread closer([&] {
    std::this_thread::sleep_for(milliseconds(200));  // the action under test happens mid-call
    (*stream)->Close();
  });
  char buf[64];
  const auto start = SteadyClock::now();
  auto n = (*stream)->Read(buf, seconds(10));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code(), ErrorCode::kCancelled);
  EXPECT_LT(SteadyClock::now() - start, milliseconds(1200));
  closer.join();
  EXPECT_FALSE((*stream)->Read(buf, milliseconds(0)).ok());
  // The session is still usable after the stream was closed.
  auto r = session->Run("echo ok", seconds(10));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->output, "ok\n");
}

TEST_F(LibsshClientTest, RunWhileAStreamIsOpenOnTheSameSession) {
  // Given an open stream printing a line every 100 ms, read by another thread
  // When the test thread runs commands on the same session meanwhile
  // Then both work: commands complete and the stream keeps delivering.
  sshd->AddScript("ticker",
                  "#!/bin/sh\ni=0; while [ $i -lt 15 ]; do echo tick$i; i=$((i+1)); "
                  "sleep 0.1; done\n");
  auto session = ConnectOk(sshd->Endpoint());
  ASSERT_NE(session, nullptr);
  auto stream = session->Stream("ticker", false);
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  Drained d;
  std::jthread reader([&] { d = Drain(**stream, seconds(10)); });
  for (int i = 0; i < 5; ++i) {
    auto r = session->Run("echo run" + std::to_string(i), seconds(10));
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->output, "run" + std::to_string(i) + "\n");
  }
  reader.join();
  EXPECT_NE(d.text.find("tick0\n"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("tick14\n"), std::string::npos) << d.text;
  ASSERT_TRUE(d.end.has_value());
  EXPECT_EQ(d.end->code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace fruix::ssh
