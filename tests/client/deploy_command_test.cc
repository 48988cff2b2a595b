// End-to-end tests of `fruixctl deploy` and `fruixctl watch`: the real binary run as a process
// against FakeFruixd, checking what a user sees (exit codes, text, JSON) and what fruixd receives
// (params, the image descriptor).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "proto/methods.h"
#include "tests/client/sample_jobs.h"
#include "tests/lib/image/run_process.h"
#include "tests/support/fake_fruixd.h"

namespace fruix::client {
namespace {

using fruix::testing::FakeFruixd;
using fruix::testing::FakeReply;
using fruix::testing::FakeRequest;
using image::testing::ProcessResult;
using image::testing::RunProcess;
using namespace fruix::client::testing;
using nlohmann::json;

ProcessResult Fruixctl(const FakeFruixd& fake, std::vector<std::string> args) {
  args.insert(args.begin(), {FRUIXCTL_PATH, "--socket", fake.socket_path()});
  return RunProcess(args, 30);
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

class DeployCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = fake_.dir() + "/fruix.img";
    std::ofstream(image_, std::ios::binary) << image_bytes_;
    Started("j-1", "running");
  }

  void Started(const std::string& job, const std::string& state, uint64_t position = 0) {
    fake_.OnResult("deploy.start",
                   {{"job_id", job}, {"state", state}, {"queue_position", position}});
  }

  // job.watch answers "running, watching" and then sends `events`; job.get returns `final_job`.
  void Script(std::vector<proto::JobEvent> events, const proto::JobInfo& final_job) {
    fake_.On("job.watch", [events](const FakeRequest& r) {
      const std::string id = r.params["job_id"];
      FakeReply reply =
          FakeReply::Result(proto::ToJson(proto::JobWatchResult{Job(id, "running"), true}));
      for (const auto& e : events) reply.after.push_back(FakeFruixd::Event(e));
      return reply;
    });
    fake_.OnResult("job.get", proto::ToJson(proto::JobGetResult{final_job}));
  }

  std::vector<proto::JobEvent> HappyEvents(const std::string& job) {
    std::vector<proto::JobEvent> e = {PhaseEvent(job, Phase("preflight", "ok", 80)),
                                      PhaseEvent(job, Phase("upload", "running"))};
    const uint64_t total = uint64_t{2} << 30;
    for (int pct = 0; pct <= 100; ++pct) e.push_back(ProgressEvent(job, total / 100 * pct, total));
    e.push_back(PhaseEvent(job, Phase("upload", "ok", 41000, "2 GiB, 212 data blocks")));
    e.push_back(PhaseEvent(job, Phase("boot", "running")));
    e.push_back(ConsoleEvent(job, 1, "Trying to mount root from ufs:/dev/ada0p2 [rw]..."));
    e.push_back(WaitingEvent(job, "waiting for the guest's address from guest-metrics, console"));
    e.push_back(MilestoneEvent(job, "dhcp-ack", "DHCPACK from 10.0.0.1", 12000));
    return e;
  }

  FakeFruixd fake_;
  std::string image_;
  std::string image_bytes_ = std::string("FRUIX-IMAGE") + std::string(100000, '\x5a') + "END";
};

// Given a target and an image with every option, When deployed without waiting, Then exit 0,
// stdout is the job id, and fruixd got the options, the absolute path for display and one
// descriptor through which the image's bytes read back.
TEST_F(DeployCommandTest, PassesImageDescriptorAndOptions) {
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(fake_.dir());
  const auto r = Fruixctl(fake_, {"deploy",
                                  "freebsd-nightly",
                                  "fruix.img",
                                  "--timeout",
                                  "boot=5m",
                                  "--format",
                                  "raw",
                                  "--zero-fill",
                                  "full",
                                  "--force",
                                  "--after-run",
                                  "shutdown",
                                  "--marker-content",
                                  "build-7",
                                  "--marker-path",
                                  "/etc/fruix-build",
                                  "--no-ssh",
                                  "--timeout",
                                  "ssh=90s",
                                  "--queue"});
  std::filesystem::current_path(cwd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "j-1\n");
  EXPECT_EQ(r.err, "");
  const auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 1u);
  ASSERT_EQ(requests[0].method, "deploy.start");
  auto p = proto::Decode<proto::DeployStartParams>(requests[0].params, "params");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->target, "freebsd-nightly");
  EXPECT_FALSE(p->explicit_target.has_value());
  EXPECT_TRUE(p->image.passed_fd);
  EXPECT_EQ(p->image.path, image_);
  EXPECT_EQ(p->options.format, "raw");
  EXPECT_EQ(p->options.zero_fill, "full");
  EXPECT_EQ(p->options.force, true);
  EXPECT_EQ(p->options.after_run, "shutdown");
  EXPECT_EQ(p->options.expected_marker, "build-7");
  EXPECT_EQ(p->options.marker_path, "/etc/fruix-build");
  EXPECT_EQ(p->options.ssh, false);
  EXPECT_TRUE(p->options.queue);
  EXPECT_EQ(p->options.timeouts_ms,
            (std::map<std::string, uint64_t>{{"boot", 300000}, {"ssh", 90000}}));
  ASSERT_EQ(requests[0].fds.size(), 1u);
  EXPECT_EQ(FakeFruixd::ReadAll(requests[0].fds[0]), image_bytes_);
}

// Given explicit --vm/--vdi/--network/--pool/--mac and only an image, When deployed, Then
// fruixd gets them as the explicit target and no target name; a queued job prints its position.
TEST_F(DeployCommandTest, ExplicitTargetQueued) {
  Started("j-2", "queued", 2);
  const auto r = Fruixctl(fake_, {"deploy", "--vm", "5f0c3e9a-1b2c-4d5e-8f90-0123456789ab", "--vdi",
                                  "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "--network",
                                  "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "--pool", "lab", "--mac",
                                  "aa:bb:cc:00:11:22", image_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "j-2\n");
  EXPECT_EQ(r.err, "queued at position 2\n");
  auto p = proto::Decode<proto::DeployStartParams>(fake_.requests().at(0).params, "params");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->target, "");
  ASSERT_TRUE(p->explicit_target.has_value());
  EXPECT_EQ(p->explicit_target->vm_uuid, "5f0c3e9a-1b2c-4d5e-8f90-0123456789ab");
  EXPECT_EQ(p->explicit_target->vdi_uuid, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
  EXPECT_EQ(p->explicit_target->network_uuid, "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a");
  EXPECT_EQ(p->explicit_target->pool, "lab");
  EXPECT_EQ(p->explicit_target->mac, "aa:bb:cc:00:11:22");
}

// Given --json, When deployed without waiting, Then stdout is the deploy.start result.
TEST_F(DeployCommandTest, JsonStartResult) {
  Started("j-3", "queued", 1);
  const auto r = Fruixctl(fake_, {"deploy", "t", image_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out),
            json({{"job_id", "j-3"}, {"state", "queued"}, {"queue_position", 1}}));
}

// Given an image path that cannot be opened (missing, a directory), When deployed, Then exit 1
// with a message naming the path, and nothing is sent to fruixd.
TEST_F(DeployCommandTest, UnopenableImage) {
  const auto missing = Fruixctl(fake_, {"deploy", "t", fake_.dir() + "/nope.img"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "fruixctl: cannot open image " + fake_.dir() +
                             "/nope.img: No such file or directory\n");
  const auto dir = Fruixctl(fake_, {"deploy", "t", fake_.dir()});
  EXPECT_EQ(dir.exit_code, 1);
  EXPECT_EQ(dir.err, "fruixctl: image " + fake_.dir() + " is a directory\n");
  EXPECT_TRUE(fake_.requests().empty());
}

// Given bad command lines, When run, Then exit 2 and nothing is sent.
TEST_F(DeployCommandTest, UsageErrors) {
  const std::vector<std::vector<std::string>> bad = {
      {"deploy"},
      {"deploy", image_},
      {"deploy", "t", image_, "extra"},
      {"deploy", "--vm", "u", image_},
      {"deploy", "--vm", "u", "--vdi", "v", "--network", "n", "--pool", "p", "t", image_},
      {"deploy", "t", image_, "--timeout", "boot"},
      {"deploy", "t", image_, "--timeout", "boot=soon"},
      {"deploy", "t", image_, "--timeout-total", "forever", "--wait"},
      {"deploy", "t", image_, "--format", "qcow2"},
      {"deploy", "t", image_, "--zero-fill", "some"},
      {"deploy", "t", image_, "--bogus"},
  };
  for (const auto& args : bad) {
    const auto r = Fruixctl(fake_, args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << "\n" << r.err;
    EXPECT_NE(r.err, "") << args.back();
  }
  EXPECT_TRUE(fake_.requests().empty());
}

// Given a job that goes through its phases to ready, When deployed with --follow on a non-TTY,
// Then each phase start and end is one line, progress lines come per 10 % without "\r", the wait
// and milestone are shown, console lines are not (no --console), the summary ends it, and the
// exit code is 0.
TEST_F(DeployCommandTest, FollowToReady) {
  auto events = HappyEvents("j-1");
  events.push_back(PhaseEvent("j-1", Phase("ssh", "ok", 4000)));
  events.push_back(EndEvent(ReadyJob("j-1")));
  Script(events, ReadyJob("j-1"));
  const auto r = Fruixctl(fake_, {"deploy", "freebsd-nightly", image_, "--follow"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string& o = r.out;
  EXPECT_EQ(o.rfind("job j-1: running, target freebsd-nightly", 0), 0u) << o;
  EXPECT_NE(o.find("\n  preflight  ok        0.0s\n"), std::string::npos) << o;
  EXPECT_NE(o.find("\n  upload     started\n"), std::string::npos) << o;
  EXPECT_NE(o.find("\n  upload     ok        41s      2 GiB, 212 data blocks\n"), std::string::npos)
      << o;
  EXPECT_NE(o.find("\n  waiting for the guest's address from guest-metrics, console\n"),
            std::string::npos)
      << o;
  EXPECT_NE(o.find("\n  milestone  dhcp-ack at 12s: DHCPACK from 10.0.0.1\n"), std::string::npos)
      << o;
  EXPECT_EQ(o.find("console|"), std::string::npos) << o;
  EXPECT_EQ(o.find('\r'), std::string::npos);
  const size_t progress = Count(o, "  upload     ") - 2;  // minus "started" and "ok"
  EXPECT_GE(progress, 10u) << o;
  EXPECT_LE(progress, 11u) << o;
  EXPECT_NE(o.find("\njob j-1: ready after 1m02s\n"), std::string::npos) << o;
  EXPECT_NE(o.find("  host key:   SHA256:"), std::string::npos) << o;
  EXPECT_NE(o.find("  ip:         10.0.0.57\n"), std::string::npos) << o;
  const auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].method, "job.watch");
  EXPECT_EQ(requests[1].params["job_id"], "j-1");
  EXPECT_EQ(requests[1].params.value("console", false), false);
  EXPECT_EQ(requests[2].method, "job.get");
  EXPECT_EQ(requests[2].params["report"], true);
}

// Given a job that fails in boot, When deployed with --console, Then the console lines stream
// with their prefix, the summary shows the failure and its console excerpt, and exit 1.
TEST_F(DeployCommandTest, ConsoleAndFailure) {
  auto events = HappyEvents("j-1");
  events.push_back(ConsoleEvent("j-1", 2, "UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY."));
  events.push_back(PhaseEvent("j-1", Phase("boot", "failed", 11000)));
  events.push_back(EndEvent(FailedJob("j-1")));
  Script(events, FailedJob("j-1"));
  const auto r = Fruixctl(fake_, {"deploy", "freebsd-nightly", image_, "--console"});
  EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
  EXPECT_NE(r.out.find("\nconsole| Trying to mount root from ufs:/dev/ada0p2 [rw]...\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nconsole| UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("\njob j-1: failed after 1m00s\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  failure:    boot: console:fsck-abort (guest failure)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  console excerpt:\n    | ** /dev/ada0p2\n"), std::string::npos);
  EXPECT_EQ(fake_.requests().at(1).params["console"], true);
}

// Given jobs ending cancelled, failed with code "timeout", and interrupted, When waited for with
// --wait, Then exit 4, 5 and 1, and no live lines are printed.
TEST_F(DeployCommandTest, WaitExitCodes) {
  struct Case {
    proto::JobInfo job;
    int exit_code;
  };
  const std::vector<Case> cases = {{Job("j-1", "cancelled"), 4},
                                   {FailedJob("j-1", "timeout"), 5},
                                   {Job("j-1", "interrupted"), 1},
                                   {ReadyJob("j-1"), 0}};
  for (const auto& c : cases) {
    Script({PhaseEvent("j-1", Phase("upload", "running")), EndEvent(c.job)}, c.job);
    const auto r = Fruixctl(fake_, {"deploy", "t", image_, "--wait"});
    EXPECT_EQ(r.exit_code, c.exit_code) << c.job.state << r.err;
    EXPECT_EQ(r.out.rfind("job j-1: " + c.job.state, 0), 0u) << r.out;
    EXPECT_EQ(r.out.find("upload     started"), std::string::npos) << r.out;
  }
}

// Given --wait --json, When the job ends, Then stdout is exactly one JSON document equal to
// job.get's result (with the report).
TEST_F(DeployCommandTest, WaitJsonIsFinalJob) {
  Script(HappyEvents("j-1"), ReadyJob("j-1"));
  fake_.On("job.watch", [](const FakeRequest&) {
    FakeReply reply =
        FakeReply::Result(proto::ToJson(proto::JobWatchResult{Job("j-1", "running"), true}));
    reply.after = {FakeFruixd::Event(PhaseEvent("j-1", Phase("upload", "running"))),
                   FakeFruixd::Event(EndEvent(ReadyJob("j-1")))};
    return reply;
  });
  const auto r = Fruixctl(fake_, {"--json", "deploy", "t", image_, "--follow"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), proto::ToJson(proto::JobGetResult{ReadyJob("j-1")}));
}

// Given a job that never ends, When waited for with --timeout-total 1s, Then exit 5 within a few
// seconds, saying the job keeps running and how to follow or cancel it.
TEST_F(DeployCommandTest, TimeoutTotal) {
  Script({PhaseEvent("j-1", Phase("upload", "running"))}, Job("j-1", "running"));
  const auto start = std::chrono::steady_clock::now();
  const auto r = Fruixctl(fake_, {"deploy", "t", image_, "--follow", "--timeout-total", "1s"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r.err,
            "fruixctl: stopped waiting after 1s (--timeout-total); job j-1 keeps running: follow "
            "it with `fruixctl watch j-1`, stop it with `fruixctl cancel j-1`\n");
  EXPECT_NE(r.out.find("  upload     started\n"), std::string::npos) << r.out;
}

// Given a VM busy with another job, When deployed (text and --json), Then exit 1 with fruixd's
// message naming the holding job and how to follow it or queue; JSON keeps the RPC code and data.
TEST_F(DeployCommandTest, BusyRefusal) {
  fake_.On("deploy.start", [](const FakeRequest& r) {
    std::string message = "VM 5f0c3e9a-1b2c-4d5e-8f90-0123456789ab already has job j-0";
    if (r.call_index == 2) message += "; pass --queue to run after it";
    return FakeReply::Error(
        proto::RpcError::Of(proto::RpcCode::kBusy, message, {{"job_id", "j-0"}}));
  });
  const auto r = Fruixctl(fake_, {"deploy", "t", image_, "--wait"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "fruixctl: VM 5f0c3e9a-1b2c-4d5e-8f90-0123456789ab already has job j-0 (follow it: "
            "fruixctl watch j-0; or deploy with --queue to run after it)\n");
  const auto j = Fruixctl(fake_, {"deploy", "t", image_, "--json"});
  EXPECT_EQ(j.exit_code, 1);
  const auto doc = json::parse(j.out);
  EXPECT_EQ(doc["error"]["code"], "failed_precondition");
  EXPECT_EQ(doc["error"]["rpc_code"], -32002);
  EXPECT_EQ(doc["error"]["data"]["job_id"], "j-0");
  // fruixd's own message already names --queue: it is not said twice.
  const auto again = Fruixctl(fake_, {"deploy", "t", image_});
  EXPECT_EQ(again.err,
            "fruixctl: VM 5f0c3e9a-1b2c-4d5e-8f90-0123456789ab already has job j-0; pass --queue "
            "to run after it (follow it: fruixctl watch j-0)\n");
}

// Given no daemon at the socket path, When deploying, Then exit 3 and the exact message.
TEST_F(DeployCommandTest, DaemonDown) {
  const std::string path = fake_.dir() + "/down.sock";
  const auto r = RunProcess({FRUIXCTL_PATH, "--socket", path, "deploy", "t", image_}, 30);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "fruixctl: cannot reach fruixd at " + path +
                       ": No such file or directory; is the service running?\n");
  EXPECT_EQ(r.out, "");
}

// Given a daemon that drops the connection while the client follows, When it happens, Then
// exit 3 saying the connection was lost.
TEST_F(DeployCommandTest, ConnectionLostWhileFollowing) {
  fake_.On("job.watch", [](const FakeRequest&) {
    FakeReply reply =
        FakeReply::Result(proto::ToJson(proto::JobWatchResult{Job("j-1", "running"), true}));
    reply.after = {FakeFruixd::Event(PhaseEvent("j-1", Phase("upload", "running")))};
    reply.close = true;
    return reply;
  });
  const auto r = Fruixctl(fake_, {"deploy", "t", image_, "--follow"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("lost the connection to fruixd at " + fake_.socket_path()),
            std::string::npos)
      << r.err;
}

// Given a job that already ended, When `watch JOB` runs, Then fruixd says it is not watching,
// the summary is printed and the exit code is the job's.
TEST_F(DeployCommandTest, WatchEndedJob) {
  fake_.OnResult("job.watch", proto::ToJson(proto::JobWatchResult{Job("j-9", "cancelled"), false}));
  fake_.OnResult("job.get", proto::ToJson(proto::JobGetResult{Job("j-9", "cancelled")}));
  const auto r = Fruixctl(fake_, {"watch", "j-9"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.out.find("job j-9: cancelled after 0.0s\n"), std::string::npos) << r.out;
  EXPECT_EQ(fake_.requests().at(0).params["job_id"], "j-9");
}

}  // namespace
}  // namespace fruix::client
