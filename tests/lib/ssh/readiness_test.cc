// WaitForReady's state and backoff logic against a fake SshClient and a manual clock: no sshd,
// no real waiting (the pause seam advances the manual clock).
#include "lib/ssh/readiness.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/ssh/shell_quote.h"

namespace fruix::ssh {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ManualClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  std::chrono::system_clock::time_point WallNow() const override { return {}; }
  void Advance(Duration d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1)};
};

// Answers Run() through a handler; counts calls.
class FakeSession final : public SshSession {
 public:
  using Handler = std::function<Result<CommandResult>(std::string_view, milliseconds, size_t)>;
  explicit FakeSession(Handler h) : handler_(std::move(h)) {}
  const std::string& host_key_sha256() const override { return fp_; }
  Result<CommandResult> Run(std::string_view command, milliseconds timeout,
                            size_t max_output) override {
    return handler_(command, timeout, max_output);
  }
  Result<std::unique_ptr<RemoteStream>> Stream(std::string_view, bool) override {
    return Error::Internal("not used");
  }

 private:
  Handler handler_;
  std::string fp_ = "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
};

// Connect() answers from a script: each entry is an error, or a session. Past the script's end
// the last entry repeats. Every call may advance the clock (time a connect attempt takes).
class FakeClient final : public SshClient {
 public:
  explicit FakeClient(ManualClock& clock) : clock_(clock) {}
  void Fail(Error e) { script_.push_back(std::move(e)); }
  void Succeed() { script_.push_back(std::nullopt); }
  // The marker check and probes: command → result.
  FakeSession::Handler run;
  milliseconds connect_cost{0};
  int connects = 0;
  std::vector<milliseconds> connect_timeouts;

  Result<std::unique_ptr<SshSession>> Connect(const Endpoint& ep, std::stop_token) override {
    ++connects;
    connect_timeouts.push_back(ep.connect_timeout);
    clock_.Advance(connect_cost);
    const auto& step = script_.at(std::min<size_t>(connects - 1, script_.size() - 1));
    if (step) return *step;
    return std::unique_ptr<SshSession>(std::make_unique<FakeSession>(
        [this](std::string_view c, milliseconds t, size_t m) { return run(c, t, m); }));
  }

 private:
  ManualClock& clock_;
  std::vector<std::optional<Error>> script_;
};

CommandResult Exit(int status, std::string out = "", std::string err = "") {
  CommandResult r;
  r.exit_status = status;
  r.output = std::move(out);
  r.error_output = std::move(err);
  return r;
}

class ReadinessTest : public ::testing::Test {
 protected:
  ReadinessTest() {
    spec.endpoint.host = "192.0.2.10";
    spec.endpoint.private_key_file = "/unused/key";
    spec.probes = {};
    options.clock = &clock;
    options.final_status = &final_status;
    options.pause = [this](Clock::Duration d, const std::stop_token& cancel) {
      pauses.push_back(std::chrono::duration_cast<milliseconds>(d));
      clock.Advance(d);
      if (on_pause) on_pause();
      return !cancel.stop_requested();
    };
  }

  bool IsMarkerCheck(std::string_view command) const {
    return command.find("test -f " + ShellQuote(spec.marker_path)) != std::string_view::npos;
  }

  Result<ReadinessReport> Wait(Clock::Duration budget) {
    Deadline deadline(clock, budget);
    return WaitForReady(
        client, spec, deadline, stop.get_token(),
        [this](const SshWaitStatus& s) { states.push_back(s.state); }, options);
  }

  ManualClock clock;
  FakeClient client{clock};
  ReadinessSpec spec;
  WaitOptions options;
  SshWaitStatus final_status;
  std::vector<SshWaitState> states;
  std::vector<milliseconds> pauses;
  std::function<void()> on_pause;
  std::stop_source stop;
};

TEST_F(ReadinessTest, PortClosedThenReadyBacksOffExponentially) {
  // Given a guest whose port is closed for 3 attempts, then accepts, with the marker present
  // When waiting
  // Then it is ready after 4 attempts, having paused 250, 500, 1000 ms, and reported
  //      "port closed" then "ready".
  client.Fail(Error::Unavailable("refused"));
  client.Fail(Error::Unavailable("refused"));
  client.Fail(Error::Unavailable("refused"));
  client.Succeed();
  client.run = [](std::string_view, milliseconds, size_t) { return Exit(0, "build-7\n"); };
  auto report = Wait(seconds(60));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->attempts, 4);
  EXPECT_EQ(report->marker_content, "build-7");
  EXPECT_EQ(report->waited, milliseconds(1750));
  EXPECT_EQ(pauses,
            (std::vector<milliseconds>{milliseconds(250), milliseconds(500), milliseconds(1000)}));
  EXPECT_EQ(states, (std::vector<SshWaitState>{SshWaitState::kPortClosed, SshWaitState::kReady}));
  EXPECT_EQ(final_status.state, SshWaitState::kReady);
}

TEST_F(ReadinessTest, BackoffIsCappedAndRestartsWhenTheStateChanges) {
  // Given 6 refused connects, then 2 auth refusals, then success
  // When waiting
  // Then pauses double up to max_backoff (2 s) and start again at 250 ms on "auth refused".
  for (int i = 0; i < 6; ++i) client.Fail(Error::Unavailable("refused"));
  client.Fail(Error::PermissionDenied("refused key"));
  client.Fail(Error::PermissionDenied("refused key"));
  client.Succeed();
  client.run = [](std::string_view, milliseconds, size_t) { return Exit(0); };
  auto report = Wait(seconds(60));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(pauses,
            (std::vector<milliseconds>{milliseconds(250), milliseconds(500), milliseconds(1000),
                                       milliseconds(2000), milliseconds(2000), milliseconds(2000),
                                       milliseconds(250), milliseconds(500)}));
  EXPECT_EQ(states, (std::vector<SshWaitState>{SshWaitState::kPortClosed,
                                               SshWaitState::kAuthRefused, SshWaitState::kReady}));
}

TEST_F(ReadinessTest, MarkerMissingUntilCreatedReusesTheSession) {
  // Given a guest that accepts logins but whose marker appears only at the third check
  // When waiting
  // Then one connection serves all checks, and the states are "marker missing", "ready".
  client.Succeed();
  int checks = 0;
  client.run = [&](std::string_view command, milliseconds, size_t) {
    EXPECT_TRUE(IsMarkerCheck(command)) << command;
    return ++checks < 3 ? Exit(97) : Exit(0, "\n");
  };
  auto report = Wait(seconds(60));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(client.connects, 1);
  EXPECT_EQ(report->attempts, 3);
  EXPECT_EQ(states,
            (std::vector<SshWaitState>{SshWaitState::kMarkerMissing, SshWaitState::kReady}));
}

TEST_F(ReadinessTest, DeadlineWithMarkerMissingNamesTheMarkerAndAttempts) {
  // Given a guest whose marker never appears
  // When the 5 s deadline passes
  // Then kTimeout says "marker <path> missing after N attempts" and the final state is
  //      kMarkerMissing with that N.
  client.Succeed();
  client.run = [](std::string_view, milliseconds, size_t) { return Exit(97); };
  auto report = Wait(seconds(5));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(final_status.state, SshWaitState::kMarkerMissing);
  // Checks at 0, .25, .75, 1.75, 3.75 s; the pause after the last one reaches the deadline.
  EXPECT_EQ(final_status.attempts, 5);
  EXPECT_NE(report.error().message().find("marker /var/lib/fruix/ready missing after 5 attempts"),
            std::string::npos)
      << report.error().message();
  EXPECT_EQ(report.error().message().rfind("SSH readiness of root@192.0.2.10:22: ", 0), 0u)
      << report.error().message();
}

TEST_F(ReadinessTest, DeadlineMessagesNameTheLastState) {
  // Given guests stuck in each pre-login state
  // When the deadline passes
  // Then the timeout message and the final state name it.
  struct Case {
    Error error;
    SshWaitState state;
    std::string text;
  };
  const std::vector<Case> cases = {
      {Error::Unavailable("x: connection refused"), SshWaitState::kPortClosed, "port 22 closed"},
      {Error::PermissionDenied("x: refused"), SshWaitState::kAuthRefused,
       "authentication refused for user root"},
      {Error::Timeout("x: no SSH banner"), SshWaitState::kConnectTimeout, "no answer on port 22"},
      {Error::Protocol("x: kex failed"), SshWaitState::kHandshakeFailed, "SSH handshake failed"},
  };
  for (const Case& c : cases) {
    FakeClient client2(clock);
    client2.Fail(c.error);
    Deadline deadline(clock, seconds(3));
    SshWaitStatus last;
    WaitOptions opts = options;
    opts.final_status = &last;
    auto report = WaitForReady(client2, spec, deadline, {}, nullptr, opts);
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.error().code(), ErrorCode::kTimeout);
    EXPECT_EQ(last.state, c.state);
    EXPECT_NE(report.error().message().find(c.text), std::string::npos) << report.error().message();
    EXPECT_NE(report.error().message().find(c.error.message()), std::string::npos)
        << report.error().message();
  }
}

TEST_F(ReadinessTest, HostKeyMismatchWithPinFailsAtOnce) {
  // Given a pinned host key and a server offering another one
  // When waiting with a long deadline
  // Then kTls comes back after one attempt, without pausing, state kHostKeyMismatch.
  spec.endpoint.host_key = {HostKeyMode::kPin,
                            "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"};
  client.Fail(Error::Tls("x: host key mismatch: SHA256:a vs SHA256:b"));
  auto report = Wait(seconds(60));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kTls);
  EXPECT_NE(report.error().message().find("SHA256:a vs SHA256:b"), std::string::npos);
  EXPECT_EQ(client.connects, 1);
  EXPECT_TRUE(pauses.empty());
  EXPECT_EQ(final_status.state, SshWaitState::kHostKeyMismatch);
}

TEST_F(ReadinessTest, BadSpecFailsBeforeConnecting) {
  // Given a malformed pin, or a client refusing the key file as invalid
  // When waiting
  // Then kInvalidArgument comes back at once.
  spec.endpoint.host_key = {HostKeyMode::kPin, "not-a-hash"};
  auto report = Wait(seconds(60));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.connects, 0);

  spec.endpoint.host_key = {};
  client.Fail(Error::InvalidArgument("x: private key /k: No such file or directory"));
  report = Wait(seconds(60));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.connects, 1);
  EXPECT_TRUE(pauses.empty());
}

TEST_F(ReadinessTest, MarkerMismatchFailsAfterTheGraceNamingBothValues) {
  // Given a marker that holds "build-1" while "build-2" is expected
  // When waiting with a long deadline
  // Then kFailedPrecondition names both values once the 2 s grace has passed (not much later).
  spec.expected_marker = "build-2";
  client.Succeed();
  client.run = [](std::string_view, milliseconds, size_t) { return Exit(0, "build-1\n"); };
  const auto start = clock.Now();
  auto report = Wait(seconds(60));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(report.error().message().find("\"build-1\""), std::string::npos)
      << report.error().message();
  EXPECT_NE(report.error().message().find("\"build-2\""), std::string::npos);
  EXPECT_EQ(clock.Now() - start, seconds(2));
  EXPECT_EQ(final_status.state, SshWaitState::kMarkerMismatch);
}

TEST_F(ReadinessTest, MarkerRewrittenWithinTheGraceIsReady) {
  // Given a marker holding an old build id for two checks, then the expected one
  // When waiting
  // Then it is ready with the expected content (states: mismatch, ready).
  spec.expected_marker = "build-2";
  client.Succeed();
  int checks = 0;
  client.run = [&](std::string_view, milliseconds, size_t) {
    return Exit(0, ++checks < 3 ? "build-1" : "  build-2\n");
  };
  auto report = Wait(seconds(60));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->marker_content, "build-2");
  EXPECT_EQ(states,
            (std::vector<SshWaitState>{SshWaitState::kMarkerMismatch, SshWaitState::kReady}));
}

TEST_F(ReadinessTest, EmptyMarkerWithExpectedContentWaitsUntilTheDeadline) {
  // Given an expected build id and a marker that exists but stays empty (being written)
  // When waiting
  // Then there is no early failure; the timeout says the marker is empty.
  spec.expected_marker = "build-2";
  client.Succeed();
  client.run = [](std::string_view, milliseconds, size_t) { return Exit(0, "\n"); };
  auto report = Wait(seconds(8));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(report.error().message().find("exists but is empty"), std::string::npos)
      << report.error().message();
  EXPECT_EQ(final_status.state, SshWaitState::kMarkerMismatch);
}

TEST_F(ReadinessTest, UnreadableMarkerIsReportedAsMissingWithTheReason) {
  // Given a marker check failing with another status (permission denied)
  // When the deadline passes
  // Then the state is kMarkerMissing and the message carries the remote error.
  client.Succeed();
  client.run = [](std::string_view, milliseconds, size_t) {
    return Exit(1, "", "cat: ready: Permission denied\n");
  };
  auto report = Wait(seconds(1));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(final_status.state, SshWaitState::kMarkerMissing);
  EXPECT_NE(report.error().message().find("Permission denied"), std::string::npos)
      << report.error().message();
}

TEST_F(ReadinessTest, ProbesAreRecordedAndNeverFatal) {
  // Given a ready guest and probes that succeed, exit 3, print too much, and time out
  // When waiting
  // Then every probe's status and (bounded) output is in the report and readiness succeeds.
  spec.probes = {"uname -a", "exit3", "big", "hang"};
  spec.max_probe_output = 8;
  client.Succeed();
  client.run = [&](std::string_view command, milliseconds, size_t max) -> Result<CommandResult> {
    if (IsMarkerCheck(command)) return Exit(0);
    if (command == "uname -a") return Exit(0, "FreeBSD fruix 15.0\n");
    if (command == "exit3") return Exit(3, "", "boom\n");
    if (command == "hang") return Error::Timeout("x: `hang` did not finish within 10000 ms");
    EXPECT_EQ(max, 8u);
    CommandResult r = Exit(0, "12345678");
    r.truncated = true;
    return r;
  };
  auto report = Wait(seconds(60));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  ASSERT_EQ(report->probes.size(), 4u);
  EXPECT_EQ(report->probes[0].command, "uname -a");
  EXPECT_EQ(report->probes[0].exit_status, 0);
  EXPECT_EQ(report->probes[0].output, "FreeBSD fruix 15.0\n");
  EXPECT_EQ(report->probes[1].exit_status, 3);
  EXPECT_EQ(report->probes[1].error_output, "boom\n");
  EXPECT_TRUE(report->probes[2].truncated);
  EXPECT_EQ(report->probes[3].exit_status, -1);
  EXPECT_NE(report->probes[3].error.find("did not finish"), std::string::npos);
  EXPECT_EQ(report->host_key_sha256, "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
}

TEST_F(ReadinessTest, BrokenSessionIsReplacedByANewConnection) {
  // Given a session whose marker check fails because the connection dropped
  // When waiting
  // Then the next attempt reconnects and succeeds.
  client.Succeed();
  int checks = 0;
  client.run = [&](std::string_view, milliseconds, size_t) -> Result<CommandResult> {
    if (++checks == 1) return Error::Unavailable("x: connection lost");
    return Exit(0);
  };
  auto report = Wait(seconds(60));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(client.connects, 2);
  EXPECT_EQ(states,
            (std::vector<SshWaitState>{SshWaitState::kHandshakeFailed, SshWaitState::kReady}));
}

TEST_F(ReadinessTest, CheckCutShortByTheDeadlineKeepsTheKnownState) {
  // Given a marker reported missing, then a check that runs into the deadline (slow shell)
  // When the deadline passes
  // Then the final state is still kMarkerMissing and the message says the marker is missing.
  client.Succeed();
  int checks = 0;
  client.run = [&](std::string_view, milliseconds t, size_t) -> Result<CommandResult> {
    if (++checks < 3) return Exit(97);
    clock.Advance(t);
    return Error::Timeout("x: `if test -f ...` did not finish within " + std::to_string(t.count()) +
                          " ms");
  };
  auto report = Wait(seconds(3));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(final_status.state, SshWaitState::kMarkerMissing);
  EXPECT_NE(report.error().message().find("marker /var/lib/fruix/ready missing after 3 attempts"),
            std::string::npos)
      << report.error().message();
}

TEST_F(ReadinessTest, HungMarkerCheckIsReportedAndTheSessionKept) {
  // Given a guest that accepts logins but whose marker check hangs until the command timeout
  // When the deadline passes
  // Then the state is kMarkerMissing saying the check did not finish, and one connection served
  //      every attempt (a command timeout does not break the session).
  spec.command_timeout = seconds(1);
  client.Succeed();
  client.run = [&](std::string_view, milliseconds t, size_t) -> Result<CommandResult> {
    clock.Advance(t);
    return Error::Timeout("x: check did not finish within " + std::to_string(t.count()) + " ms");
  };
  auto report = Wait(seconds(5));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(final_status.state, SshWaitState::kMarkerMissing);
  EXPECT_NE(final_status.detail.find("did not finish"), std::string::npos) << final_status.detail;
  EXPECT_NE(report.error().message().find("not confirmed"), std::string::npos)
      << report.error().message();
  EXPECT_EQ(client.connects, 1);
}

TEST_F(ReadinessTest, ConnectAndCommandTimeoutsAreCappedByTheDeadline) {
  // Given a 5 s connect timeout, a 10 s command timeout and a deadline 1.5 s away, each connect
  // costing 1 s
  // When waiting
  // Then the connect gets at most the time left, and so does the marker check.
  client.connect_cost = seconds(1);
  client.Succeed();
  std::vector<milliseconds> command_timeouts;
  client.run = [&](std::string_view, milliseconds t, size_t) {
    command_timeouts.push_back(t);
    return Exit(97);
  };
  auto report = Wait(milliseconds(1500));
  ASSERT_FALSE(report.ok());
  ASSERT_FALSE(client.connect_timeouts.empty());
  EXPECT_EQ(client.connect_timeouts[0], milliseconds(1500));
  ASSERT_FALSE(command_timeouts.empty());
  EXPECT_EQ(command_timeouts[0], milliseconds(500));
}

TEST_F(ReadinessTest, CancelDuringThePauseReturnsCancelled) {
  // Given a closed port and a stop request made while pausing
  // When waiting
  // Then kCancelled comes back after that pause, with no further attempt.
  client.Fail(Error::Unavailable("refused"));
  on_pause = [&] {
    if (pauses.size() == 2) stop.request_stop();
  };
  auto report = Wait(seconds(60));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kCancelled);
  EXPECT_EQ(client.connects, 2);
  EXPECT_EQ(final_status.state, SshWaitState::kPortClosed);
}

TEST(SshWaitStateTest, NamesAreTheWordsOfTheIssue) {
  // Given the states the issue asks to distinguish
  // When named
  // Then the words are "port closed", "auth refused", "marker missing".
  EXPECT_EQ(ToString(SshWaitState::kPortClosed), "port closed");
  EXPECT_EQ(ToString(SshWaitState::kAuthRefused), "auth refused");
  EXPECT_EQ(ToString(SshWaitState::kMarkerMissing), "marker missing");
  EXPECT_EQ(ToString(SshWaitState::kHostKeyMismatch), "host key mismatch");
  EXPECT_EQ(ToString(SshWaitState::kReady), "ready");
}

}  // namespace
}  // namespace fruix::ssh
