// End-to-end tests of fruixctl's query and control commands (status, list, logs, cancel,
// targets, health, version): the real binary against FakeFruixd.
#include <gtest/gtest.h>

#include <chrono>
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

class DaemonCommandsTest : public ::testing::Test {
 protected:
  FakeFruixd fake_;
};

// Given a failed job, When `status JOB` runs, Then the summary shows state, target, phases,
// failure and console excerpt, and job.get was asked for the report; --json prints the result.
TEST_F(DaemonCommandsTest, StatusOfOneJob) {
  const json result = proto::ToJson(proto::JobGetResult{FailedJob("j-20261123-0001")});
  fake_.OnResult("job.get", result);
  const auto r = Fruixctl(fake_, {"status", "j-20261123-0001"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("job j-20261123-0001: failed after 1m00s\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("  phases:\n    upload     ok        41s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  failure:    boot: console:fsck-abort (guest failure)\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("    | UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.\n"), std::string::npos);
  EXPECT_EQ(fake_.requests().at(0).params, json({{"job_id", "j-20261123-0001"}, {"report", true}}));
  const auto j = Fruixctl(fake_, {"status", "j-20261123-0001", "--json"});
  ASSERT_EQ(j.exit_code, 0);
  EXPECT_EQ(json::parse(j.out), result);
}

// Given running, queued and finished jobs, When `status` runs without JOB, Then it asks for the
// active jobs and the last 5 finished ones and shows both tables.
TEST_F(DaemonCommandsTest, StatusOverview) {
  fake_.On("job.list", [](const FakeRequest& r) {
    proto::JobListResult result;
    if (r.call_index == 0) {
      result.jobs = {Job("j-5", "running"), Job("j-6", "queued")};
    } else {
      result.jobs = {ReadyJob("j-4"), FailedJob("j-3")};
    }
    return FakeReply::Result(proto::ToJson(result));
  });
  const auto r = Fruixctl(fake_, {"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("running and queued:\nJOB  STATE    TARGET", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\nlast finished:\nJOB  STATE   TARGET"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nj-3  failed  freebsd-nightly  boot"), std::string::npos) << r.out;
  const auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].params["states"], json({"running", "queued"}));
  EXPECT_EQ(requests[1].params["states"], json({"ready", "failed", "cancelled", "interrupted"}));
  EXPECT_EQ(requests[1].params["limit"], 5);
}

// Given filters, When `list` runs, Then job.list gets them (--since 24h as a time about a day
// ago), the table is aligned, "more" is mentioned; --json prints the result.
TEST_F(DaemonCommandsTest, ListWithFilters) {
  proto::JobListResult result;
  result.jobs = {FailedJob("j-20261123-0001"), ReadyJob("j-2")};
  result.more = true;
  fake_.OnResult("job.list", proto::ToJson(result));
  const auto r = Fruixctl(fake_, {"list", "--state", "failed", "--state", "ready", "--target",
                                  "freebsd-nightly", "--since", "24h", "--limit", "10"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "JOB              STATE   TARGET           PHASE  CREATED               DURATION  BY\n"
            "j-20261123-0001  failed  freebsd-nightly  boot   2026-11-23 20:21:16Z  1m00s     "
            "alice\n"
            "j-2              ready   freebsd-nightly  ssh    2026-11-23 20:21:16Z  1m02s     "
            "alice\n"
            "(older jobs match too; raise --limit to see them)\n");
  const auto p = proto::Decode<proto::JobListParams>(fake_.requests().at(0).params, "params");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->states, (std::vector<std::string>{"failed", "ready"}));
  EXPECT_EQ(p->target, "freebsd-nightly");
  EXPECT_EQ(p->limit, 10u);
  ASSERT_TRUE(p->since.has_value());
  const auto ago = std::chrono::system_clock::now() - *p->since;
  EXPECT_GT(ago, std::chrono::hours(24) - std::chrono::minutes(1));
  EXPECT_LT(ago, std::chrono::hours(24) + std::chrono::minutes(1));
  const auto j = Fruixctl(fake_, {"--json", "list", "--since", "2026-11-23T00:00:00Z"});
  ASSERT_EQ(j.exit_code, 0);
  EXPECT_EQ(json::parse(j.out), proto::ToJson(result));
  EXPECT_EQ(fake_.requests().at(1).params["since"], "2026-11-23T00:00:00.000Z");
}

// Given bad filters, When `list` runs, Then exit 2 and nothing is sent.
TEST_F(DaemonCommandsTest, ListUsageErrors) {
  EXPECT_EQ(Fruixctl(fake_, {"list", "--state", "sleeping"}).exit_code, 2);
  EXPECT_EQ(Fruixctl(fake_, {"list", "--since", "yesterday"}).exit_code, 2);
  EXPECT_EQ(Fruixctl(fake_, {"list", "--limit", "0"}).exit_code, 2);
  EXPECT_TRUE(fake_.requests().empty());
}

// Given a job's log, When `logs JOB -n 20` runs, Then job.log gets tail_lines and the bytes are
// printed as they are.
TEST_F(DaemonCommandsTest, LogsTail) {
  proto::JobLogResult chunk{"j-1", "/var/log/j-1.log",
                            1000,  1100,
                            1100,  "Trying to mount root from ufs:/dev/ada0p2 [rw]...\r\n",
                            true};
  fake_.OnResult("job.log", proto::ToJson(chunk));
  const auto r = Fruixctl(fake_, {"logs", "j-1", "-n", "20"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, chunk.data);
  EXPECT_EQ(fake_.requests().at(0).params["tail_lines"], 20);
  EXPECT_EQ(fake_.requests().at(0).params["job_id"], "j-1");
}

// Given a running job whose log grows, When `logs JOB -f` runs, Then it polls from each
// next_offset until the log is complete and prints everything once; --json prints the chunks as
// one result.
TEST_F(DaemonCommandsTest, LogsFollow) {
  fake_.On("job.log", [](const FakeRequest& r) {
    proto::JobLogResult c;
    c.job_id = "j-1";
    c.path = "/var/log/j-1.log";
    if (r.call_index % 3 == 0) {
      c = {c.job_id, c.path, 0, 6, 6, "boot1\n", false};
    } else if (r.call_index % 3 == 1) {
      c = {c.job_id, c.path, 6, 6, 6, "", false};  // nothing new yet
    } else {
      c = {c.job_id, c.path, 6, 12, 12, "boot2\n", true};
    }
    return FakeReply::Result(proto::ToJson(c));
  });
  const auto r = Fruixctl(fake_, {"logs", "j-1", "-f"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "boot1\nboot2\n");
  const auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_FALSE(requests[0].params.contains("offset"));
  EXPECT_EQ(requests[1].params["offset"], 6);
  EXPECT_EQ(requests[2].params["offset"], 6);
  const auto j = Fruixctl(fake_, {"logs", "j-1", "-f", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(json::parse(j.out), proto::ToJson(proto::JobLogResult{"j-1", "/var/log/j-1.log", 0, 12,
                                                                  12, "boot1\nboot2\n", true}));
}

// Given a job that is not finished, When `logs JOB` runs without -f, Then one chunk is printed
// and it returns without polling.
TEST_F(DaemonCommandsTest, LogsWithoutFollowStopsAtEnd) {
  fake_.OnResult("job.log",
                 proto::ToJson(proto::JobLogResult{"j-1", "/l", 0, 4, 4, "abc\n", false}));
  const auto r = Fruixctl(fake_, {"logs", "j-1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "abc\n");
  EXPECT_EQ(fake_.requests().size(), 1u);
}

// Given a running job, When `cancel JOB` runs, Then job.cancel names it and the text says the job
// is stopping; a queued job reads "cancelled"; an unknown job exits 1 with fruixd's message.
TEST_F(DaemonCommandsTest, Cancel) {
  fake_.On("job.cancel", [](const FakeRequest& r) {
    const std::string id = r.params["job_id"];
    if (id == "j-404") {
      return FakeReply::Error(
          proto::RpcError::Of(proto::RpcCode::kNotFound, "no job j-404", {{"job_id", id}}));
    }
    return FakeReply::Result({{"job_id", id}, {"state", id == "j-1" ? "running" : "cancelled"}});
  });
  const auto running = Fruixctl(fake_, {"cancel", "j-1"});
  ASSERT_EQ(running.exit_code, 0) << running.err;
  EXPECT_EQ(running.out,
            "job j-1: cancelling (running); it stops at its next step: fruixctl watch j-1\n");
  const auto queued = Fruixctl(fake_, {"cancel", "j-2"});
  EXPECT_EQ(queued.out, "job j-2: cancelled\n");
  const auto missing = Fruixctl(fake_, {"cancel", "j-404"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "fruixctl: no job j-404\n");
  const auto j = Fruixctl(fake_, {"--json", "cancel", "j-404"});
  EXPECT_EQ(j.exit_code, 1);
  EXPECT_EQ(json::parse(j.out), json({{"error",
                                       {{"code", "not_found"},
                                        {"message", "no job j-404"},
                                        {"rpc_code", -32001},
                                        {"data", {{"job_id", "j-404"}}}}}}));
}

// Given configured targets, When `targets` runs, Then an aligned table with the job holding
// each; --json prints the result.
TEST_F(DaemonCommandsTest, Targets) {
  proto::TargetsListResult result;
  result.targets = {
      {"freebsd-nightly", "lab", "5f0c3e9a-1b2c-4d5e-8f90-0123456789ab",
       "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
       "aa:bb:cc:00:11:22", "xapi-vt100", true, "j-1"},
      {"linux", "dr", "6f0c3e9a-1b2c-4d5e-8f90-0123456789ab", "", "", "", "none", false, ""}};
  fake_.OnResult("targets.list", proto::ToJson(result));
  const auto r = Fruixctl(fake_, {"targets"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "TARGET           POOL  VM                                    CONSOLE     SSH  JOB\n"
            "freebsd-nightly  lab   5f0c3e9a-1b2c-4d5e-8f90-0123456789ab  xapi-vt100  yes  j-1\n"
            "linux            dr    6f0c3e9a-1b2c-4d5e-8f90-0123456789ab  none        no   -\n");
  const auto j = Fruixctl(fake_, {"targets", "--json"});
  EXPECT_EQ(json::parse(j.out), proto::ToJson(result));
}

// Given a degraded daemon, When `health` runs, Then pools and jobs are shown and exit 1; an ok
// daemon exits 0.
TEST_F(DaemonCommandsTest, Health) {
  proto::HealthResult h;
  h.status = "degraded";
  h.uptime_ms = 3'600'000;
  h.jobs_running = 2;
  h.jobs_queued = 1;
  h.max_concurrent_jobs = 4;
  h.store = "ok";
  h.pools = {{"lab", "connected", ""}, {"dr", "error", "HOST_IS_SLAVE 10.0.0.2"}};
  fake_.OnResult("daemon.health", proto::ToJson(h));
  const auto r = Fruixctl(fake_, {"health"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out,
            "fruixd:  degraded, up 1h00m00s\n"
            "jobs:    2 running (max 4), 1 queued\n"
            "store:   ok\n"
            "pool:    lab: connected\n"
            "pool:    dr: error (HOST_IS_SLAVE 10.0.0.2)\n");
  h.status = "ok";
  fake_.OnResult("daemon.health", proto::ToJson(h));
  EXPECT_EQ(Fruixctl(fake_, {"health"}).exit_code, 0);
  EXPECT_EQ(json::parse(Fruixctl(fake_, {"health", "--json"}).out), proto::ToJson(h));
}

// Given a daemon, When `version` runs, Then both versions; Given none, Then the client's version
// is still printed, the error follows and the exit code is 3 (also with --json: one document).
TEST_F(DaemonCommandsTest, Version) {
  fake_.OnResult("daemon.version",
                 {{"version", "0.5.0"}, {"protocol", 1}, {"report_schema", "fruix.job-report/1"}});
  const auto r = Fruixctl(fake_, {"version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("fruixctl ", 0), 0u);
  EXPECT_NE(r.out.find("\nfruixd   0.5.0 (protocol 1, reports fruix.job-report/1)\n"),
            std::string::npos)
      << r.out;
  const std::string down = fake_.dir() + "/down.sock";
  const auto d = RunProcess({FRUIXCTL_PATH, "--socket", down, "version"}, 30);
  EXPECT_EQ(d.exit_code, 3);
  EXPECT_EQ(d.out.rfind("fruixctl ", 0), 0u);
  EXPECT_EQ(d.out.find("fruixd "), std::string::npos);
  EXPECT_EQ(d.err, "fruixctl: cannot reach fruixd at " + down +
                       ": No such file or directory; is the service running?\n");
  const auto dj = RunProcess({FRUIXCTL_PATH, "--socket", down, "--json", "version"}, 30);
  EXPECT_EQ(dj.exit_code, 3);
  const auto doc = json::parse(dj.out);
  EXPECT_TRUE(doc["client"]["version"].is_string());
  EXPECT_EQ(doc["error"]["code"], "unavailable");
  EXPECT_FALSE(doc.contains("daemon"));
}

// Given $FRUIX_SOCKET and no --socket, When a command runs, Then it uses the environment's path.
TEST_F(DaemonCommandsTest, SocketFromEnvironment) {
  fake_.OnResult("targets.list", {{"targets", json::array()}});
  ::setenv("FRUIX_SOCKET", fake_.socket_path().c_str(), 1);
  const auto r = RunProcess({FRUIXCTL_PATH, "targets"}, 30);
  ::unsetenv("FRUIX_SOCKET");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "no targets configured\n");
}

// Given bad command lines for the daemon commands, When run, Then exit 2 without a call.
TEST_F(DaemonCommandsTest, UsageErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"cancel"},
                                             {"logs"},
                                             {"logs", "j-1", "-n", "many"},
                                             {"status", "a", "b"},
                                             {"targets", "x"},
                                             {"watch"},
                                             {"watch", "j-1", "--timeout-total", "0s"}}) {
    const auto r = Fruixctl(fake_, args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << r.err;
  }
  EXPECT_TRUE(fake_.requests().empty());
}

}  // namespace
}  // namespace fruix::client
