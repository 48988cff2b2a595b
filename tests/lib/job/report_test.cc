// Tests of the job report's JSON form (lib/job/report.h).
#include "lib/job/report.h"

#include <gtest/gtest.h>

namespace fruix::job {
namespace {

// Given a failed report, When it is turned into JSON, Then the failure, phases and address are
// there with their documented names and absent facts are omitted.
TEST(ReportTest, JsonSchema) {
  JobReport r;
  r.job_id = "j1";
  r.target = "t";
  r.state = Phase::kFailed;
  r.phases.push_back(
      {Phase::kBoot, PhaseStatus::kFailed, {}, std::chrono::milliseconds(1500), "x"});
  r.address_sources.push_back(
      {AddressSource::kConsole, "10.0.0.5", std::chrono::milliseconds(7), "bound to 10.0.0.5"});
  r.address = r.address_sources.front();
  r.failure = FailureReport{
      Phase::kBoot, "console:panic", "panic: x", FailureClass::kGuest, {"a", "panic: x"}};
  auto j = ToJson(r);
  EXPECT_EQ(j["schema"], "fruix.job-report/1");
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["phases"][0]["phase"], "boot");
  EXPECT_EQ(j["phases"][0]["status"], "failed");
  EXPECT_EQ(j["phases"][0]["duration_ms"], 1500);
  EXPECT_EQ(j["failure"]["class"], "guest");
  EXPECT_EQ(j["failure"]["code"], "console:panic");
  EXPECT_EQ(j["failure"]["console_excerpt"].size(), 2u);
  EXPECT_EQ(j["address"]["sources"][0]["source"], "console");
  EXPECT_FALSE(j.contains("upload"));
  EXPECT_FALSE(j.contains("finished_at"));
  EXPECT_EQ(FormatTime(std::chrono::system_clock::time_point(std::chrono::milliseconds(1234))),
            "1970-01-01T00:00:01.234Z");
}

}  // namespace
}  // namespace fruix::job
