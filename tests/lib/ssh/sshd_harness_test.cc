// The sshd harness itself (tests/support/sshd_harness.h): restart on the same port, the marker
// helpers and scripts on the session PATH, seen through a real SSH login.
#include "tests/support/sshd_harness.h"

#include <gtest/gtest.h>

#include <chrono>

#include "lib/ssh/ssh_client.h"

namespace fruix::testing {
namespace {

using std::chrono::seconds;

Result<ssh::CommandResult> RunOnce(const SshdHarness& sshd, const std::string& command) {
  auto session = ssh::NewLibsshClient()->Connect(sshd.Endpoint(), {});
  if (!session.ok()) return session.error();
  return (*session)->Run(command, seconds(10));
}

TEST(SshdHarnessTest, StopThenStartOnTheSamePortRefusesThenAccepts) {
  // Given a started harness
  // When it is stopped and started again with kKeepPort
  // Then connections are refused while stopped and accepted again on the same port.
  auto sshd = SshdHarness::Create();
  ASSERT_NE(sshd, nullptr);
  ASSERT_TRUE(sshd->Start().ok());
  const uint16_t port = sshd->port();
  ASSERT_TRUE(RunOnce(*sshd, "true").ok());
  sshd->Stop();
  EXPECT_FALSE(sshd->running());
  auto refused = RunOnce(*sshd, "true");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  auto restarted = sshd->Start(SshdHarness::PortPolicy::kKeepPort);
  ASSERT_TRUE(restarted.ok()) << restarted.error().ToString();
  EXPECT_EQ(sshd->port(), port);
  auto again = RunOnce(*sshd, "true");
  EXPECT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_FALSE(sshd->Start().ok()) << "starting a running harness must fail";
}

TEST(SshdHarnessTest, MarkerAndScriptsAreVisibleToSessions) {
  // Given a running harness with a marker written and a script added
  // When a session reads the marker and runs the script by name, then the marker is removed
  // Then the session sees the content, the script's output, and then no marker.
  auto sshd = SshdHarness::Create();
  ASSERT_NE(sshd, nullptr);
  ASSERT_TRUE(sshd->Start().ok());
  sshd->WriteMarker("build-9");
  sshd->AddScript("fruix-hello", "#!/bin/sh\necho hello \"$1\"\n");
  auto r = RunOnce(*sshd, "cat '" + sshd->marker_path().string() + "'; fruix-hello world");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->output, "build-9\nhello world\n");
  sshd->RemoveMarker();
  auto gone = RunOnce(*sshd, "test -e '" + sshd->marker_path().string() + "'");
  ASSERT_TRUE(gone.ok()) << gone.error().ToString();
  EXPECT_EQ(gone->exit_status, 1);
  EXPECT_TRUE(sshd->WaitForLog("Accepted publickey for " + sshd->user(), seconds(5)));
}

}  // namespace
}  // namespace fruix::testing
