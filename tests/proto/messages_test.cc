#include "proto/messages.h"

#include <gtest/gtest.h>

namespace fruix::proto {
namespace {

using nlohmann::json;

template <typename T>
std::string ErrorOf(const json& j) {
  auto r = Decode<T>(j, "params");
  return r.ok() ? std::string("(accepted)") : r.error().message();
}

TEST(MessagesTest, DeployStartNeedsExactlyOneWayToNameTheTarget) {
  // Given deploy requests naming no target, both kinds, or one, When decoded,
  // Then only exactly one is accepted and the error explains the choice.
  const json image = {{"passed_fd", true}};
  EXPECT_NE(ErrorOf<DeployStartParams>({{"image", image}}).find("exactly one of"),
            std::string::npos);
  const json expl = {{"pool", "lab"},
                     {"vm_uuid", "5f0c3e9a-1b2c-4d5e-8f90-0123456789ab"},
                     {"vdi_uuid", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
                     {"network_uuid", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}};
  EXPECT_NE(ErrorOf<DeployStartParams>({{"image", image}, {"target", "t"}, {"explicit", expl}})
                .find("exactly one of"),
            std::string::npos);
  EXPECT_EQ(ErrorOf<DeployStartParams>({{"image", image}, {"explicit", expl}}), "(accepted)");
  EXPECT_EQ(ErrorOf<DeployStartParams>({{"image", image}, {"target", "t"}}), "(accepted)");
  EXPECT_EQ(ErrorOf<DeployStartParams>({{"target", "t"}}), "params.image: missing (required)");
}

TEST(MessagesTest, RequestsAreStrictAndNameTheBadMember) {
  // Given requests with typos and out-of-range values, When decoded, Then each error names the
  // member path.
  EXPECT_EQ(ErrorOf<JobGetParams>({{"job_id", "j"}, {"jobid", "j"}}),
            "params.jobid: unknown parameter");
  EXPECT_NE(
      ErrorOf<DeployStartParams>({{"target", "t"}, {"image", {{"path", "relative/disk.img"}}}})
          .find("params.image.path: \"relative/disk.img\" is not absolute"),
      std::string::npos);
  EXPECT_NE(
      ErrorOf<DeployStartParams>({{"target", "t"}, {"image", json::object()}}).find("passed_fd"),
      std::string::npos);
  EXPECT_NE(ErrorOf<DeployStartParams>({{"target", "t"},
                                        {"image", {{"passed_fd", true}}},
                                        {"options", {{"timeouts_ms", {{"boot", 0}}}}}})
                .find("params.options.timeouts_ms.boot: a timeout must be positive"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf<DeployStartParams>(
          {{"target", "t"}, {"image", {{"passed_fd", true}}}, {"options", {{"zerofill", "full"}}}})
          .find("params.options.zerofill: unknown parameter"),
      std::string::npos);
  EXPECT_NE(ErrorOf<JobListParams>({{"states", {"done"}}}).find("unknown state \"done\""),
            std::string::npos);
  EXPECT_NE(ErrorOf<JobListParams>({{"limit", 5000}}).find("params.limit"), std::string::npos);
  EXPECT_NE(
      ErrorOf<JobLogParams>({{"job_id", "j"}, {"offset", 1}, {"tail_lines", 2}}).find("not both"),
      std::string::npos);
  EXPECT_NE(ErrorOf<JobGetParams>({{"job_id", std::string(65, 'j')}})
                .find("params.job_id: expected a string of at most 64 bytes"),
            std::string::npos);
}

TEST(MessagesTest, ResultsIgnoreMembersANewerDaemonAdds) {
  // Given a result with an unknown member, When a client decodes it, Then it is accepted.
  auto r =
      Decode<JobCancelResult>({{"job_id", "j"}, {"state", "running"}, {"new_fact", 1}}, "result");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, "running");
}

TEST(MessagesTest, JobInfoRoundTripsEveryField) {
  // Given a JobInfo with every member set, When encoded and decoded, Then nothing is lost.
  JobInfo j;
  j.job_id = "j1";
  j.state = "running";
  j.phase = "upload";
  j.waiting = "w";
  j.requested_by_uid = 0;
  j.created_at = FromUnixMillis(1000);
  j.ip = "10.0.0.5";
  j.upload = UploadProgressInfo{1, 2, 0.5, "connection reset"};
  j.failure = FailureInfo{"upload", "xapi:VDI_IO_ERROR", "infrastructure", "m", {"l"}};
  j.phases = {PhaseInfo{"upload", "running", FromUnixMillis(1000), 0, "d"}};
  j.report = {{"schema", "fruix.job-report/1"}};
  auto back = Decode<JobInfo>(ToJson(j), "job");
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(ToJson(*back), ToJson(j));
  EXPECT_EQ(back->requested_by_uid, 0);
  EXPECT_EQ(back->upload->retrying_because, "connection reset");
}

TEST(MessagesTest, StatesAreKnownAndTerminalOnesFlagged) {
  // Given the documented states, When classified, Then terminal ones are exactly the four ends.
  for (auto s : {"ready", "failed", "cancelled", "interrupted"}) {
    EXPECT_TRUE(IsTerminalState(s));
    EXPECT_TRUE(IsKnownState(s));
  }
  for (auto s : {"queued", "running"}) {
    EXPECT_FALSE(IsTerminalState(s));
    EXPECT_TRUE(IsKnownState(s));
  }
  EXPECT_FALSE(IsKnownState("upload"));
}

}  // namespace
}  // namespace fruix::proto
