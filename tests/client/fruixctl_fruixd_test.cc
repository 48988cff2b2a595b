// End to end through the CLI: the real fruixctl binary talking to the real fruixd
// (tests/support/fruixd_harness.h), which deploys to the in-process simulator's scripted guests
// with a real sshd playing the guest's SSH server. Compares what a user sees: output and exit
// codes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/lib/image/run_process.h"
#include "tests/support/deploy_fixture.h"
#include "tests/support/fruixd_harness.h"
#include "tests/support/sim_harness.h"
#include "tests/support/sshd_harness.h"

namespace fruix::client {
namespace {

using image::testing::ProcessResult;
using image::testing::RunProcess;
using nlohmann::json;
using testing::FruixdHarness;
using testing::SimHarness;
using testing::SshdHarness;

class FruixctlFruixdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = testing::DeployWorld::Create();
    ASSERT_NE(world_, nullptr);
    sshd_ = &world_->sshd();
    image_ = world_->image();
  }
  void TearDown() override { daemon_.reset(); }

  void Boot(json guest1) {
    sim_ = SimHarness::Start(
        testing::DeployFixture(std::move(guest1), testing::ScriptedFreeBsdGuest(), "password"));
    ASSERT_NE(sim_, nullptr);
    const std::string config =
        testing::SimPoolToml(sim_->HttpUrl()) +
        testing::DeployTargetToml("one", testing::kDeployVm1, testing::kDeployVdi1,
                                  sshd_->Endpoint(), sshd_->marker_path().string());
    daemon_ = FruixdHarness::Create(FRUIX_FRUIXD_PATH, config);
    ASSERT_NE(daemon_, nullptr);
    auto started = daemon_->Start();
    ASSERT_TRUE(started.ok()) << started.error().ToString();
  }

  ProcessResult Fruixctl(std::vector<std::string> args, int timeout_s = 60) {
    args.insert(args.begin(), {FRUIXCTL_PATH, "--socket", daemon_->socket().string()});
    return RunProcess(args, timeout_s);
  }

  std::unique_ptr<testing::DeployWorld> world_;
  SshdHarness* sshd_ = nullptr;
  std::unique_ptr<SimHarness> sim_;
  std::unique_ptr<FruixdHarness> daemon_;
  std::string image_;
};

// Given a healthy guest, When a user runs `fruixctl deploy one IMAGE --follow --marker-content
// build-42`, Then the phases appear live in order, it exits 0, and status/list/logs/--json show
// the ready job with its address and host key.
TEST_F(FruixctlFruixdTest, DeployFollowToReadyThenInspect) {
  Boot(testing::ScriptedFreeBsdGuest());
  auto r = Fruixctl({"deploy", "one", image_, "--follow", "--marker-content", "build-42"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  size_t at = 0;
  for (const char* phase :
       {"preflight", "prepare", "upload", "attach", "start", "boot", "network", "ssh"}) {
    const size_t found = r.out.find(phase, at);
    ASSERT_NE(found, std::string::npos) << "phase " << phase << " missing or out of order:\n"
                                        << r.out;
    at = found;
  }
  EXPECT_NE(r.out.find("ready"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("127.0.0.1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "progress redraws on a non-TTY";

  auto list = Fruixctl({"--json", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const json jobs = json::parse(list.out);
  ASSERT_EQ(jobs["jobs"].size(), 1u) << list.out;
  const std::string id = jobs["jobs"][0]["job_id"];
  EXPECT_EQ(jobs["jobs"][0]["state"], "ready");

  auto status = Fruixctl({"status", id});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("ready"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("127.0.0.1"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(sshd_->host_key_sha256()), std::string::npos) << status.out;

  auto json_status = Fruixctl({"--json", "status", id});
  ASSERT_EQ(json_status.exit_code, 0);
  const json job = json::parse(json_status.out)["job"];
  EXPECT_EQ(job["report"]["ssh"]["marker_content"], "build-42");

  auto logs = Fruixctl({"logs", id, "-n", "2"});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find("Starting sshd."), std::string::npos) << logs.out;
  EXPECT_EQ(logs.out.find("FreeBSD 15.0"), std::string::npos) << logs.out;

  auto targets = Fruixctl({"targets"});
  EXPECT_EQ(targets.exit_code, 0);
  EXPECT_NE(targets.out.find(testing::kDeployVm1), std::string::npos) << targets.out;
  auto version = Fruixctl({"version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
}

// Given a guest that panics, When deployed with --follow, Then fruixctl exits 1 and shows the
// failure's phase, code and the guilty console line.
TEST_F(FruixctlFruixdTest, FailedGuestShowsTheGuiltyLinesAndExitsOne) {
  Boot(testing::ScriptedFreeBsdGuest(5, /*panic=*/true));
  auto r = Fruixctl({"deploy", "one", image_, "--follow"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string all = r.out + r.err;
  EXPECT_NE(all.find("console:panic"), std::string::npos) << all;
  EXPECT_NE(all.find("panic: vm_fault: fault on nofault entry"), std::string::npos) << all;
}

// Given a deployment running, When a second one to the same VM is asked, Then fruixctl exits 1
// naming the running job; `fruixctl cancel` then ends the first, and watching it exits 4.
TEST_F(FruixctlFruixdTest, BusyVmRefusedThenCancelExitsFour) {
  Boot(testing::ScriptedFreeBsdGuest(30000));
  auto first = Fruixctl({"deploy", "one", image_});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::string id = first.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  ASSERT_EQ(id.rfind("j-", 0), 0u) << first.out;

  auto second = Fruixctl({"deploy", "one", image_});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find(id), std::string::npos) << second.err;

  auto cancel = Fruixctl({"cancel", id});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  auto watch = Fruixctl({"watch", id}, 60);
  EXPECT_EQ(watch.exit_code, 4) << watch.out << watch.err;
}

// Given no daemon at the socket, When any command runs, Then it exits 3 and says how to fix it.
TEST_F(FruixctlFruixdTest, DaemonDownExitsThree) {
  Boot(testing::ScriptedFreeBsdGuest());
  daemon_->Signal(SIGTERM);
  ASSERT_EQ(daemon_->Wait(std::chrono::seconds(20)).value_or(-1), 0);
  auto r = Fruixctl({"status"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot reach fruixd at " + daemon_->socket().string()), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("is the service running?"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fruix::client
