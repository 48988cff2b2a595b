// WaitForReady with the libssh client against a real OpenSSH sshd on 127.0.0.1
// (tests/support/sshd_harness.h): the readiness scenarios of issue 4 end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "lib/ssh/readiness.h"
#include "tests/support/sshd_harness.h"

namespace fruix::ssh {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::SshdHarness;
using SteadyClock = std::chrono::steady_clock;

class ReadinessSshdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sshd = SshdHarness::Create();
    ASSERT_NE(sshd, nullptr);
    spec.endpoint = sshd->Endpoint();
    spec.marker_path = sshd->marker_path().string();
    spec.initial_backoff = milliseconds(50);
    spec.max_backoff = milliseconds(200);
  }

  void StartSshd() {
    auto started = sshd->Start(SshdHarness::PortPolicy::kKeepPort);
    ASSERT_TRUE(started.ok()) << started.error().ToString();
  }

  Result<ReadinessReport> Wait(Clock::Duration budget) {
    Deadline deadline(RealClock(), budget);
    WaitOptions options;
    options.final_status = &final_status;
    return WaitForReady(
        *client, spec, deadline, stop.get_token(),
        [this](const SshWaitStatus& s) {
          std::lock_guard lock(mu);
          states.push_back(s.state);
          state_changed.notify_all();
        },
        options);
  }

  // Blocks until WaitForReady has reported `state` (or 20 s passed); returns whether it did.
  bool AwaitState(SshWaitState state) {
    std::unique_lock lock(mu);
    return state_changed.wait_for(lock, seconds(20), [&] {
      return std::find(states.begin(), states.end(), state) != states.end();
    });
  }

  std::vector<SshWaitState> States() {
    std::lock_guard lock(mu);
    return states;
  }

  std::unique_ptr<SshdHarness> sshd;
  std::unique_ptr<SshClient> client = NewLibsshClient();
  ReadinessSpec spec;
  SshWaitStatus final_status;
  std::stop_source stop;
  std::mutex mu;
  std::condition_variable state_changed;
  std::vector<SshWaitState> states;
};

TEST_F(ReadinessSshdTest, ReadyGuestReportsHostKeyMarkerAndProbes) {
  // Given a running sshd, the marker holding the expected build id, and probes of which one
  // exits 3
  // When waiting for readiness
  // Then it is ready: the host key is ssh-keygen's, the marker content is reported, and every
  //      probe's output and exit status is recorded.
  StartSshd();
  sshd->WriteMarker("build-42");
  spec.expected_marker = "build-42";
  spec.probes = {"uname -s", "echo out; echo err >&2; exit 3"};
  auto report = Wait(seconds(20));
  ASSERT_TRUE(report.ok()) << report.error().ToString() << "\n" << sshd->log();
  EXPECT_EQ(report->host_key_sha256, sshd->host_key_sha256());
  EXPECT_EQ(report->marker_content, "build-42");
  EXPECT_EQ(report->attempts, 1);
  ASSERT_EQ(report->probes.size(), 2u);
  EXPECT_EQ(report->probes[0].output, "Linux\n");
  EXPECT_EQ(report->probes[0].exit_status, 0);
  EXPECT_EQ(report->probes[1].exit_status, 3);
  EXPECT_EQ(report->probes[1].output, "out\n");
  EXPECT_EQ(report->probes[1].error_output, "err\n");
  EXPECT_EQ(States(), std::vector<SshWaitState>{SshWaitState::kReady});
}

TEST_F(ReadinessSshdTest, SshdStartingLateIsPortClosedThenReady) {
  // Given the marker in place but sshd not started yet
  // When sshd starts 1 s after the wait began (and after "port closed" was reported)
  // Then the wait ends ready, and the reported states were "port closed" then "ready".
  sshd->WriteMarker("x");
  const auto start = SteadyClock::now();
  std::jthread starter([&] {
    EXPECT_TRUE(AwaitState(SshWaitState::kPortClosed));
    std::this_thread::sleep_until(start + seconds(1));  // the guest's sshd comes up later
    StartSshd();
  });
  auto report = Wait(seconds(20));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_GE(SteadyClock::now() - start, seconds(1));
  EXPECT_GT(report->attempts, 1);
  EXPECT_GE(report->waited, seconds(1));
  EXPECT_EQ(States(), (std::vector<SshWaitState>{SshWaitState::kPortClosed, SshWaitState::kReady}));
}

TEST_F(ReadinessSshdTest, MarkerCreatedMidWaitIsReady) {
  // Given a running sshd and no marker yet
  // When the marker appears once "marker missing" has been reported
  // Then the wait ends ready; the states were "marker missing" then "ready".
  StartSshd();
  std::jthread writer([&] {
    EXPECT_TRUE(AwaitState(SshWaitState::kMarkerMissing));
    sshd->WriteMarker("late");  // the guest finishes booting
  });
  auto report = Wait(seconds(20));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->marker_content, "late");
  EXPECT_EQ(States(),
            (std::vector<SshWaitState>{SshWaitState::kMarkerMissing, SshWaitState::kReady}));
}

TEST_F(ReadinessSshdTest, MarkerNeverCreatedTimesOutAsMarkerMissing) {
  // Given a running sshd and no marker ever
  // When the 5 s deadline passes
  // Then kTimeout says which marker is missing after how many attempts; the final state is
  //      kMarkerMissing.
  StartSshd();
  auto report = Wait(seconds(5));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(final_status.state, SshWaitState::kMarkerMissing);
  EXPECT_GT(final_status.attempts, 1);
  EXPECT_NE(report.error().message().find("marker " + spec.marker_path + " missing after " +
                                          std::to_string(final_status.attempts) + " attempts"),
            std::string::npos)
      << report.error().message();
}

TEST_F(ReadinessSshdTest, MarkerWithOtherBuildIdFailsNamingBoth) {
  // Given a marker holding "build-1" while "build-2" is expected
  // When waiting with a long deadline
  // Then it fails after the 2 s grace with kFailedPrecondition naming both values.
  StartSshd();
  sshd->WriteMarker("build-1");
  spec.expected_marker = "build-2";
  const auto start = SteadyClock::now();
  auto report = Wait(seconds(20));
  const auto took = SteadyClock::now() - start;
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kFailedPrecondition) << report.error().ToString();
  EXPECT_NE(report.error().message().find("\"build-1\""), std::string::npos);
  EXPECT_NE(report.error().message().find("\"build-2\""), std::string::npos);
  EXPECT_GE(took, seconds(2));
  EXPECT_LT(took, seconds(6));
  EXPECT_EQ(final_status.state, SshWaitState::kMarkerMismatch);
}

TEST_F(ReadinessSshdTest, MarkerPathWithSpaceAndQuoteIsQuoted) {
  // Given a marker whose path holds a space, a single quote and a $
  // When waiting with that path
  // Then the remote shell finds it (the path is quoted) and its content is reported.
  StartSshd();
  const std::filesystem::path path = sshd->dir() / "it's a $dir" / "the marker";
  std::filesystem::create_directories(path.parent_path());
  {
    std::ofstream out(path);
    out << "quoted ok\n";
  }
  spec.marker_path = path.string();
  auto report = Wait(seconds(20));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->marker_content, "quoted ok");
}

TEST_F(ReadinessSshdTest, PinMismatchFailsAtOnce) {
  // Given a pin that is not sshd's host key
  // When waiting with a long deadline
  // Then kTls comes back after one attempt, naming both fingerprints.
  StartSshd();
  sshd->WriteMarker("x");
  spec.endpoint.host_key = {HostKeyMode::kPin,
                            "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"};
  const auto start = SteadyClock::now();
  auto report = Wait(seconds(20));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kTls);
  EXPECT_NE(report.error().message().find(sshd->host_key_sha256()), std::string::npos);
  EXPECT_LT(SteadyClock::now() - start, seconds(2));
  EXPECT_EQ(final_status.state, SshWaitState::kHostKeyMismatch);
  EXPECT_EQ(final_status.attempts, 1);
}

TEST_F(ReadinessSshdTest, MatchingPinIsReady) {
  // Given the pin of sshd's host key
  // When waiting
  // Then it is ready and reports that key.
  StartSshd();
  sshd->WriteMarker("x");
  spec.endpoint.host_key = {HostKeyMode::kPin, sshd->host_key_sha256()};
  auto report = Wait(seconds(20));
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->host_key_sha256, sshd->host_key_sha256());
}

TEST_F(ReadinessSshdTest, RefusedKeyTimesOutAsAuthRefused) {
  // Given a key sshd does not accept
  // When the 1 s deadline passes
  // Then kTimeout says authentication was refused for the user; the state is kAuthRefused.
  StartSshd();
  sshd->WriteMarker("x");
  spec.endpoint = sshd->Endpoint(SshdHarness::UserKey::kUnauthorized);
  auto report = Wait(seconds(1));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(final_status.state, SshWaitState::kAuthRefused);
  EXPECT_NE(report.error().message().find("authentication refused for user " + sshd->user()),
            std::string::npos)
      << report.error().message();
}

TEST_F(ReadinessSshdTest, NothingListeningTimesOutAsPortClosed) {
  // Given nothing listening on the port
  // When the 1 s deadline passes
  // Then kTimeout says the port is closed; the state is kPortClosed.
  auto report = Wait(seconds(1));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(final_status.state, SshWaitState::kPortClosed);
  EXPECT_NE(report.error().message().find("port " + std::to_string(sshd->port()) + " closed"),
            std::string::npos)
      << report.error().message();
}

TEST_F(ReadinessSshdTest, CancelDuringTheWaitReturnsWithinASecond) {
  // Given a running sshd and a marker that never appears
  // When stop is requested 500 ms into a 30 s wait
  // Then WaitForReady returns kCancelled within a second of the request.
  StartSshd();
  spec.max_backoff = seconds(2);
  std::jthread canceller([&] {
    std::this_thread::sleep_for(milliseconds(500));  // the operator cancels mid-wait
    stop.request_stop();
  });
  const auto start = SteadyClock::now();
  auto report = Wait(seconds(30));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), ErrorCode::kCancelled);
  EXPECT_LT(SteadyClock::now() - start, milliseconds(1500));
}

}  // namespace
}  // namespace fruix::ssh
