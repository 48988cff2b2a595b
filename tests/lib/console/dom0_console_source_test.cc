// Dom0ConsoleSource: against a fake SshClient (commands, error mapping) and against a real sshd
// (tests/support/sshd_harness.h) with a fake `xl` script, recorded by a ConsoleRecorder.
#include "lib/console/dom0_console_source.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lib/console/console_recorder.h"
#include "lib/console/patterns.h"
#include "tests/lib/console/recorder_test_util.h"
#include "tests/support/sshd_harness.h"

namespace fruix::console {
namespace {

using namespace std::chrono_literals;
using testing::Collector;
using testing::ReadFile;
using testing::SshdHarness;
using testing::TempDir;

// ---- A fake SSH seam ----

struct FakeSshLog {
  std::mutex mu;
  std::vector<std::string> hosts;    // endpoints connected to
  std::vector<std::string> runs;     // Run() commands
  std::vector<std::string> streams;  // Stream() commands
  std::vector<bool> ptys;
  std::optional<Error> connect_error;
  std::optional<Error> stream_error;
  int list_exit = 0;
  std::string list_stderr;
  std::deque<std::string> output;  // chunks the stream returns, then kUnavailable
  bool stream_closed = false;
};

class FakeRemoteStream final : public ssh::RemoteStream {
 public:
  explicit FakeRemoteStream(std::shared_ptr<FakeSshLog> log) : log_(std::move(log)) {}
  Result<size_t> Read(std::span<char> buf, std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> lock(log_->mu);
    if (log_->stream_closed) return Error::Cancelled("closed");
    if (log_->output.empty()) return Error::Unavailable("xl exited with exit status 0");
    std::string& front = log_->output.front();
    size_t n = std::min(buf.size(), front.size());
    std::memcpy(buf.data(), front.data(), n);
    front.erase(0, n);
    if (front.empty()) log_->output.pop_front();
    return n;
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->stream_closed = true;
  }

 private:
  std::shared_ptr<FakeSshLog> log_;
};

class FakeSshSession final : public ssh::SshSession {
 public:
  explicit FakeSshSession(std::shared_ptr<FakeSshLog> log) : log_(std::move(log)) {}
  const std::string& host_key_sha256() const override { return key_; }
  Result<ssh::CommandResult> Run(std::string_view command, std::chrono::milliseconds,
                                 size_t) override {
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->runs.emplace_back(command);
    ssh::CommandResult r;
    r.exit_status = log_->list_exit;
    r.error_output = log_->list_stderr;
    return r;
  }
  Result<std::unique_ptr<ssh::RemoteStream>> Stream(std::string_view command, bool pty) override {
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->streams.emplace_back(command);
    log_->ptys.push_back(pty);
    if (log_->stream_error) return *log_->stream_error;
    return std::unique_ptr<ssh::RemoteStream>(std::make_unique<FakeRemoteStream>(log_));
  }

 private:
  std::shared_ptr<FakeSshLog> log_;
  std::string key_ = "SHA256:fake";
};

class FakeSshClient final : public ssh::SshClient {
 public:
  explicit FakeSshClient(std::shared_ptr<FakeSshLog> log) : log_(std::move(log)) {}
  Result<std::unique_ptr<ssh::SshSession>> Connect(const ssh::Endpoint& ep,
                                                   std::stop_token) override {
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->hosts.push_back(ssh::Describe(ep));
    if (log_->connect_error) return *log_->connect_error;
    return std::unique_ptr<ssh::SshSession>(std::make_unique<FakeSshSession>(log_));
  }

 private:
  std::shared_ptr<FakeSshLog> log_;
};

Dom0ConsoleTarget Target(int64_t domid, XlConsoleType type = XlConsoleType::kSerial) {
  Dom0ConsoleTarget t;
  t.dom0.host = "192.0.2.10";  // never contacted: the fake client
  t.dom0.port = 22;
  t.dom0.user = "root";
  t.domid = domid;
  t.type = type;
  return t;
}

std::string ReadAll(ConsoleStream& s, Error* end) {
  std::string got;
  char buf[7];
  for (int i = 0; i < 1000; ++i) {
    auto n = s.Read(buf, 10ms);
    if (!n.ok()) {
      *end = n.error();
      break;
    }
    got.append(buf, *n);
  }
  return got;
}

// Given a resolver naming dom0 and domid 7 (serial), When opened, Then dom0 is connected, `xl
// list 7` checked, `xl console -t serial 7` streamed on a pty, and its output is the console.
TEST(Dom0ConsoleSourceFakeTest, RunsXlConsoleForTheResolvedDomain) {
  auto log = std::make_shared<FakeSshLog>();
  log->output = {"FreeBSD 15.0\r\n", "login: "};
  FakeSshClient client(log);
  int resolved = 0;
  Dom0ConsoleSource source(
      client,
      [&](std::stop_token) -> Result<Dom0ConsoleTarget> {
        ++resolved;
        return Target(7);
      },
      "VM u1");
  EXPECT_EQ(source.kind(), "dom0-ssh");
  EXPECT_EQ(source.Describe(), "dom0 `xl console` of VM u1 over SSH");
  auto stream = source.Open({});
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  EXPECT_EQ(resolved, 1);
  EXPECT_EQ(log->hosts, std::vector<std::string>{"root@192.0.2.10:22"});
  EXPECT_EQ(log->runs, std::vector<std::string>{"'xl' list 7"});
  EXPECT_EQ(log->streams, std::vector<std::string>{"'xl' console -t serial 7"});
  EXPECT_EQ(log->ptys, std::vector<bool>{true});
  Error end = Error::Internal("none");
  EXPECT_EQ(ReadAll(**stream, &end), "FreeBSD 15.0\r\nlogin: ");
  EXPECT_EQ(end.code(), ErrorCode::kUnavailable);
  (*stream)->Close();
  EXPECT_TRUE(log->stream_closed);
  EXPECT_EQ(Dom0ConsoleSource::ConsoleCommand("/usr/sbin/xl", XlConsoleType::kPv, 12),
            "'/usr/sbin/xl' console -t pv 12");
}

// Given SSH or xl failures, Then Open fails kUnavailable with the endpoint and the reason; a
// cancelled connect stays kCancelled; a not-running domain is kFailedPrecondition; resolver errors
// pass through.
TEST(Dom0ConsoleSourceFakeTest, FailuresAreUnavailableWithTheReason) {
  auto log = std::make_shared<FakeSshLog>();
  FakeSshClient client(log);
  Result<Dom0ConsoleTarget> next = Target(7);
  Dom0ConsoleSource source(
      client, [&](std::stop_token) { return next; }, "VM u1");

  log->connect_error = Error::PermissionDenied("root@192.0.2.10:22 refused the ed25519 key");
  auto refused = source.Open({});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message().find("refused the ed25519 key"), std::string::npos);
  EXPECT_NE(refused.error().message().find("dom0 root@192.0.2.10:22"), std::string::npos);

  log->connect_error = Error::Cancelled("stop");
  EXPECT_EQ(source.Open({}).error().code(), ErrorCode::kCancelled);
  log->connect_error.reset();

  log->list_exit = 1;
  log->list_stderr = "invalid domain identifier: 7\n";
  auto no_domain = source.Open({});
  ASSERT_FALSE(no_domain.ok());
  EXPECT_EQ(no_domain.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(no_domain.error().message().find("`'xl' list 7` exited with status 1: invalid domain "
                                             "identifier: 7"),
            std::string::npos)
      << no_domain.error().message();
  log->list_exit = 0;

  log->stream_error = Error::Transport("channel open failed");
  auto no_stream = source.Open({});
  ASSERT_FALSE(no_stream.ok());
  EXPECT_EQ(no_stream.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(no_stream.error().message().find("channel open failed"), std::string::npos);
  log->stream_error.reset();

  next = Target(-1);
  auto halted = source.Open({});
  ASSERT_FALSE(halted.ok());
  EXPECT_EQ(halted.error().code(), ErrorCode::kFailedPrecondition);

  next = Error::FailedPrecondition("VM u1 is Halted");
  auto resolver_error = source.Open({});
  ASSERT_FALSE(resolver_error.ok());
  EXPECT_EQ(resolver_error.error().message(), "VM u1 is Halted");

  EXPECT_EQ(*ParseXlConsoleType("pv"), XlConsoleType::kPv);
  EXPECT_FALSE(ParseXlConsoleType("vga").ok());
}

// ---- Against a real sshd with a fake `xl` ----

// Given a real sshd whose `xl` prints a short boot and exits (as `xl console` does when the
// domain goes away), When a recorder records the dom0 source, Then the lines arrive in order, the
// address pattern sees the DHCP lease, and after `xl` exits the recorder reconnects and the log
// keeps growing.
TEST(Dom0ConsoleSourceSshdTest, RecordsXlConsoleAndReconnects) {
  auto sshd = SshdHarness::Create();
  ASSERT_NE(sshd, nullptr);
  sshd->AddScript("xl",
                  "#!/bin/sh\n"
                  "case \"$1\" in\n"
                  "  list) [ \"$2\" = 7 ] && exit 0; echo \"invalid domain identifier: $2\" >&2; "
                  "exit 1;;\n"
                  "  console) test -t 1 || { echo 'no tty' >&2; exit 2; }\n"
                  "    echo \"attached $2 $3 $4\"\n"
                  "    echo 'FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64'\n"
                  "    echo 'bound to 127.0.0.9 -- renewal in 600 seconds.'\n"
                  "    exit 0;;\n"
                  "esac\n"
                  "exit 3\n");
  ASSERT_TRUE(sshd->Start().ok());
  auto client = ssh::NewLibsshClient();
  Dom0ConsoleTarget target;
  target.dom0 = sshd->Endpoint();
  target.domid = 7;
  target.type = XlConsoleType::kSerial;

  // A wrong domid fails Open with xl's message.
  Dom0ConsoleTarget wrong = target;
  wrong.domid = 8;
  Dom0ConsoleSource bad(
      *client, [&](std::stop_token) { return Result<Dom0ConsoleTarget>(wrong); }, "VM bad");
  auto bad_open = bad.Open({});
  ASSERT_FALSE(bad_open.ok());
  EXPECT_EQ(bad_open.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(bad_open.error().message().find("invalid domain identifier: 8"), std::string::npos)
      << bad_open.error().message();

  TempDir dir;
  Collector collector;
  std::mutex mu;
  PatternMatcher matcher(DefaultPatterns(GuestOs::kFreeBsd));
  std::vector<std::string> addresses;
  ConsoleRecorderOptions o;
  o.log_path = dir.path() / "console.log";
  auto line_cb = collector.LineCallback();
  o.on_line = [&](const ConsoleLine& line, bool partial) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& m : matcher.Feed(line.text, partial)) {
        if (m.kind == PatternKind::kAddress) addresses.push_back(m.address);
      }
    }
    line_cb(line, partial);
  };
  auto rec = ConsoleRecorder::Start(
      std::make_unique<Dom0ConsoleSource>(
          *client, [&](std::stop_token) { return Result<Dom0ConsoleTarget>(target); }, "VM u7"),
      std::move(o));
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  const std::string last = "bound to 127.0.0.9 -- renewal in 600 seconds.";
  ASSERT_TRUE(collector.WaitForComplete(last, 20s, 2)) << (*rec)->Status().last_error->ToString();
  auto t0 = std::chrono::steady_clock::now();
  (*rec)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  auto texts = collector.CompleteTexts();
  ASSERT_GE(texts.size(), 6u);
  EXPECT_EQ(texts[0], "attached -t serial 7");
  EXPECT_EQ(texts[1], "FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64");
  EXPECT_EQ(texts[2], last);
  std::string log = ReadFile(dir.path() / "console.log");
  EXPECT_TRUE(log.starts_with("attached -t serial 7\r\nFreeBSD 15.0-STABLE"));
  auto st = (*rec)->Status();
  EXPECT_GE(st.reconnects, 1u);
  EXPECT_EQ(st.source_kind, "dom0-ssh");
  EXPECT_EQ(st.bytes, log.size());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(addresses.empty());
  EXPECT_EQ(addresses.front(), "127.0.0.9");
}

}  // namespace
}  // namespace fruix::console
