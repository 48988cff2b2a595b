// Tests of job::Validate (lib/job/job_spec.h).
#include "lib/job/job_spec.h"

#include <gtest/gtest.h>

#include <functional>

namespace fruix::job {
namespace {

JobSpec Good() {
  JobSpec s;
  s.vm_uuid = "aaaaaaaa-0000-4000-8000-000000000051";
  s.vdi_uuid = "aaaaaaaa-0000-4000-8000-000000000041";
  s.network_uuid = "aaaaaaaa-0000-4000-8000-000000000021";
  s.console_log = "/tmp/console.log";
  return s;
}

// Given a good spec, Then it validates; Given each kind of bad value, Then Validate refuses it
// with kInvalidArgument and a message naming the value.
TEST(JobSpecTest, ValidateNamesTheBadValue) {
  ASSERT_TRUE(Validate(Good()).ok());
  struct Case {
    std::function<void(JobSpec&)> mutate;
    std::string named;
  };
  const Case cases[] = {
      {[](JobSpec& s) { s.vm_uuid = "vm-1"; }, "vm-1"},
      {[](JobSpec& s) { s.vdi_uuid = ""; }, "vdi"},
      {[](JobSpec& s) { s.mac = "aa:bb"; }, "aa:bb"},
      {[](JobSpec& s) { s.start_on_host = "host-9"; }, "host-9"},
      {[](JobSpec& s) { s.timeouts.boot = std::chrono::milliseconds(0); }, "boot"},
      {[](JobSpec& s) { s.console.kind = "serial"; }, "serial"},
      {[](JobSpec& s) { s.console_log.clear(); }, "console log"},
      {[](JobSpec& s) {
         s.address.sources = {AddressSource::kStatic};
         s.address.static_address = "10.0.0.300";
       },
       "10.0.0.300"},
      {[](JobSpec& s) { s.address.sources = {AddressSource::kLeaseFile}; }, "lease file"},
      {[](JobSpec& s) {
         s.console.kind = "none";
         s.address.sources = {AddressSource::kConsole};
       },
       "console"},
      {[](JobSpec& s) {
         s.ssh = ssh::ReadinessSpec{};
         s.ssh->endpoint.private_key_file = "/k";
         s.ssh->marker_path = "var/ready";
       },
       "var/ready"},
      {[](JobSpec& s) { s.ssh = ssh::ReadinessSpec{}; }, "key"},
  };
  for (const Case& c : cases) {
    JobSpec s = Good();
    c.mutate(s);
    auto r = Validate(s);
    ASSERT_FALSE(r.ok()) << c.named;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << c.named;
    EXPECT_NE(r.error().message().find(c.named), std::string::npos)
        << c.named << " not in: " << r.error().message();
  }
}

}  // namespace
}  // namespace fruix::job
