// Golden wire files: tests/proto/golden/<method>.request and <method>.response hold the exact
// line each end sends for a representative call. A failing comparison means the wire format
// changed: if that is deliberate, regenerate with FRUIX_UPDATE_GOLDEN=1 and review the diff.
#include "proto/methods.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fruix::proto {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const WallTime kT0 = FromUnixMillis(1795465276042);

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void CheckGolden(const std::string& name, const std::string& wire) {
  const fs::path p = fs::path(FRUIX_GOLDEN_DIR) / name;
  if (std::getenv("FRUIX_UPDATE_GOLDEN")) {
    std::ofstream(p, std::ios::binary) << wire;
    return;
  }
  ASSERT_TRUE(fs::exists(p)) << p << " is missing (FRUIX_UPDATE_GOLDEN=1 writes it)";
  EXPECT_EQ(ReadFile(p), wire) << "wire format of " << name << " changed";
}

// Encodes params and result, compares both with their golden files, and decodes each golden
// file back through the method's own types (re-encoding to the same bytes).
template <typename M>
void Golden(const M& m, const typename M::Params& params, const typename M::Result& result) {
  const std::string name(m.name);
  const std::string req = EncodeCall(json(1), m, params);
  const std::string resp = EncodeResult(json(1), ToJson(result));
  CheckGolden(name + ".request", req);
  CheckGolden(name + ".response", resp);

  auto decoded_req = DecodeRequest(req);
  ASSERT_TRUE(std::holds_alternative<Request>(decoded_req)) << name;
  auto p = Decode<typename M::Params>(std::get<Request>(decoded_req).params, "params");
  ASSERT_TRUE(p.ok()) << name << ": " << p.error().ToString();
  EXPECT_EQ(EncodeCall(json(1), m, *p), req) << name;

  auto incoming = DecodeIncoming(resp);
  ASSERT_TRUE(incoming.ok()) << name;
  auto r = DecodeResult(m, *std::get<Response>(*incoming).result);
  ASSERT_TRUE(r.ok()) << name << ": " << r.error().ToString();
  EXPECT_EQ(EncodeResult(json(1), ToJson(*r)), resp) << name;
}

JobInfo SampleJob(bool with_report) {
  JobInfo j;
  j.job_id = "j-20261123-0001";
  j.target = "freebsd-nightly";
  j.pool = "lab";
  j.vm_uuid = "5f0c3e9a-1b2c-4d5e-8f90-0123456789ab";
  j.vdi_uuid = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
  j.image = "/srv/images/fruix-20261123.img";
  j.state = "failed";
  j.phase = "boot";
  j.requested_by_uid = 1000;
  j.requested_by_user = "alice";
  j.created_at = kT0;
  j.started_at = kT0 + std::chrono::milliseconds(5);
  j.finished_at = kT0 + std::chrono::milliseconds(61000);
  j.duration_ms = 60995;
  j.console_log = "/var/lib/fruixd/logs/j-20261123-0001.console.log";
  j.failure = FailureInfo{"boot",
                          "console:fsck-abort",
                          "guest",
                          "console signature fsck-abort",
                          {"** /dev/ada0p2", "UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY."}};
  j.phases = {PhaseInfo{"upload", "ok", kT0, 41000, "2 GiB, 212 data blocks"},
              PhaseInfo{"boot", "failed", kT0 + std::chrono::milliseconds(50000), 11000, ""}};
  if (with_report) j.report = {{"schema", "fruix.job-report/1"}, {"job_id", j.job_id}};
  return j;
}

TEST(MethodsGoldenTest, EveryMethodMatchesItsGoldenWire) {
  // Given a representative call of each method, When encoded by both ends' types,
  // Then the bytes equal the golden files and decode back to the same bytes.
  Golden(kDaemonVersion, {}, {"0.5.0", 1, "fruix.job-report/1"});
  Golden(kDaemonHealth, {},
         {"degraded",
          3600000,
          2,
          1,
          4,
          "ok",
          {{"lab", "connected", ""}, {"dr", "error", "HOST_IS_SLAVE 10.0.0.2 (redirect failed)"}}});
  Golden(kTargetsList, {},
         {{{"freebsd-nightly", "lab", "5f0c3e9a-1b2c-4d5e-8f90-0123456789ab",
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            "aa:bb:cc:00:11:22", "xapi-vt100", true, "j-20261123-0001"}}});
  DeployStartParams deploy;
  deploy.target = "freebsd-nightly";
  deploy.image = {true, "/srv/images/fruix-20261123.img"};
  deploy.options.zero_fill = "previous";
  deploy.options.expected_marker = "build-20261123.1";
  deploy.options.timeouts_ms = {{"boot", 120000}};
  Golden(kDeployStart, deploy, {"j-20261123-0002", "queued", 1});
  Golden(kJobGet, {"j-20261123-0001", true}, {SampleJob(true)});
  JobListParams list;
  list.states = {"failed", "ready"};
  list.target = "freebsd-nightly";
  list.since = kT0;
  list.limit = 20;
  JobInfo brief = SampleJob(false);
  brief.phases.clear();
  Golden(kJobList, list, {{brief}, true});
  Golden(kJobCancel, {"j-20261123-0002"}, {"j-20261123-0002", "cancelled"});
  Golden(kJobWatch, {"j-20261123-0001", true, 0}, {brief, false});
  JobLogParams log;
  log.job_id = "j-20261123-0001";
  log.tail_lines = 50;
  Golden(kJobLog, log,
         {"j-20261123-0001", "/var/lib/fruixd/logs/j-20261123-0001.console.log", 1000, 1100, 1100,
          "Trying to mount root from ufs:/dev/ada0p2 [rw]...\r\n", true});
}

JobEvent Ev(const char* kind) {
  JobEvent e;
  e.job_id = "j1";
  e.kind = kind;
  return e;
}

TEST(MethodsGoldenTest, NotificationsAndErrorsMatchTheirGoldenWire) {
  // Given a job.event of each kind and a busy error, When encoded, Then they equal the goldens.
  std::string events;
  JobEvent phase = Ev("phase");
  phase.phase = PhaseInfo{"upload", "running", kT0, 0, ""};
  events += EncodeNotification(kJobEventNotification, ToJson(phase));
  JobEvent progress = Ev("progress");
  progress.progress = UploadProgressInfo{1048576, 2147483648, 0.25, ""};
  events += EncodeNotification(kJobEventNotification, ToJson(progress));
  JobEvent console = Ev("console");
  console.console = ConsoleLineInfo{42, "login: ", true};
  events += EncodeNotification(kJobEventNotification, ToJson(console));
  JobEvent milestone = Ev("milestone");
  milestone.milestone = MilestoneInfo{"dhcp-ack", "DHCPACK from 10.0.0.1", 12000};
  events += EncodeNotification(kJobEventNotification, ToJson(milestone));
  JobEvent waiting = Ev("waiting");
  waiting.waiting = "waiting for the guest's address from guest-metrics, console";
  events += EncodeNotification(kJobEventNotification, ToJson(waiting));
  JobEvent end = Ev("end");
  end.end = SampleJob(false);
  events += EncodeNotification(kJobEventNotification, ToJson(end));
  CheckGolden("job.event.notifications", events);

  std::istringstream lines(events);
  std::string line;
  while (std::getline(lines, line)) {
    auto n = DecodeIncoming(line);
    ASSERT_TRUE(n.ok());
    auto e = Decode<JobEvent>(std::get<Notification>(*n).params, "params");
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    EXPECT_EQ(EncodeNotification(kJobEventNotification, ToJson(*e)), line + "\n");
  }
  CheckGolden("error.busy", EncodeError(json(7), RpcError::Of(RpcCode::kBusy,
                                                              "VM 5f0c3e9a-1b2c-4d5e-8f90-"
                                                              "0123456789ab already has job "
                                                              "j-20261123-0001",
                                                              {{"job_id", "j-20261123-0001"}})));
}

TEST(MethodsTableTest, NamesAreUniqueFindableAndHaveGoldenFiles) {
  // Given the method table, When inspected, Then names are unique noun.verb, each is findable,
  // mutating methods are exactly deploy.start and job.cancel, and every golden file belongs to
  // a method (no stale goldens).
  std::set<std::string> names;
  for (const auto& m : kMethods) {
    EXPECT_TRUE(names.insert(std::string(m.name)).second) << m.name;
    EXPECT_NE(m.name.find('.'), std::string_view::npos) << m.name;
    EXPECT_EQ(FindMethod(m.name), &m);
    EXPECT_EQ(m.access == Access::kMutating, m.name == "deploy.start" || m.name == "job.cancel")
        << m.name;
  }
  EXPECT_EQ(FindMethod("job.nope"), nullptr);
  for (const auto& entry : fs::directory_iterator(FRUIX_GOLDEN_DIR)) {
    const std::string file = entry.path().filename().string();
    const std::string stem = file.substr(0, file.rfind('.'));
    EXPECT_TRUE(names.count(stem) || file == "job.event.notifications" || file == "error.busy")
        << "stale golden file " << file;
  }
}

}  // namespace
}  // namespace fruix::proto
