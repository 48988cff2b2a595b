// Tests of daemon::ExplicitTarget and daemon::BuildJobSpec (daemon/target_spec.h).
#include "daemon/target_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

namespace fruix::daemon {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kConfig[] = R"(
[pools.lab]
url = "https://xcp.example.org"
password_file = "/etc/fruix/lab.pw"

[defaults]
format = "raw"
after_run = "shutdown"
[defaults.ssh]
key = "/keys/id"
marker = "/var/run/ready"
expected_marker = "build-1"
[defaults.timeouts]
boot = "7m"

[targets.bsd]
pool = "lab"
vm = "11111111-1111-4111-8111-000000000001"
vdi = "11111111-1111-4111-8111-000000000002"
network = "11111111-1111-4111-8111-000000000003"
mac = "02:AA:00:00:00:01"
[targets.bsd.console]
os = "freebsd"

[targets.quiet]
pool = "lab"
vm = "22222222-1111-4111-8111-000000000001"
vdi = "22222222-1111-4111-8111-000000000002"
network = "22222222-1111-4111-8111-000000000003"
[targets.quiet.ssh]
enabled = false
)";

Config LoadTestConfig() {
  auto config = ParseConfig(kConfig, "test.toml");
  EXPECT_TRUE(config.ok()) << config.error().ToString();
  return std::move(config).value();
}

// Given a configured target and no overrides, When its job is built, Then the spec carries the
// target's objects and its resolved settings ([defaults] included) and passes Validate.
TEST(TargetSpecTest, TargetWithoutOverrides) {
  Config config = LoadTestConfig();
  auto spec = BuildJobSpec(*config.FindTarget("bsd"), {}, "/tmp/bsd.log");
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  EXPECT_EQ(spec->target, "bsd");
  EXPECT_EQ(spec->vm_uuid, "11111111-1111-4111-8111-000000000001");
  EXPECT_EQ(spec->vdi_uuid, "11111111-1111-4111-8111-000000000002");
  EXPECT_EQ(spec->network_uuid, "11111111-1111-4111-8111-000000000003");
  EXPECT_EQ(spec->mac, "02:aa:00:00:00:01");  // normalised at load
  EXPECT_EQ(spec->image_path, "");
  EXPECT_EQ(spec->image_file, nullptr);
  EXPECT_EQ(spec->import.format, image::StreamFormat::kRaw);
  EXPECT_FALSE(spec->import.force);
  EXPECT_EQ(spec->after_run, job::AfterRun::kShutdown);
  EXPECT_EQ(spec->console.os, console::GuestOs::kFreeBsd);
  ASSERT_TRUE(spec->ssh.has_value());
  EXPECT_EQ(spec->ssh->endpoint.private_key_file, "/keys/id");
  EXPECT_EQ(spec->ssh->marker_path, "/var/run/ready");
  EXPECT_EQ(spec->ssh->expected_marker, "build-1");
  EXPECT_EQ(spec->timeouts.boot, minutes(7));
  EXPECT_EQ(spec->console_log, "/tmp/bsd.log");
  EXPECT_TRUE(job::Validate(*spec).ok());
}

// Given every kind of override, When the job is built, Then each override wins over the target
// and [defaults].
TEST(TargetSpecTest, OverridesWin) {
  Config config = LoadTestConfig();
  DeployOverrides o;
  o.image_path = "/proc/self/fd/7";
  o.format = image::StreamFormat::kVhd;
  o.zero_fill = image::ZeroFill::kFull;
  o.force = true;
  o.after_run = job::AfterRun::kLeaveRunning;
  o.expected_marker = "build-2";
  o.marker_path = "/etc/fruix-ready";
  o.mac = "02:BB:00:00:00:09";
  o.timeouts[job::Phase::kBoot] = seconds(30);
  o.timeouts[job::Phase::kUpload] = minutes(20);
  o.console_kind = "none";
  auto spec = BuildJobSpec(*config.FindTarget("bsd"), o, "/tmp/bsd.log");
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  EXPECT_EQ(spec->image_path, "/proc/self/fd/7");
  EXPECT_EQ(spec->import.format, image::StreamFormat::kVhd);
  EXPECT_EQ(spec->import.zero_fill, image::ZeroFill::kFull);
  EXPECT_TRUE(spec->import.force);
  EXPECT_EQ(spec->after_run, job::AfterRun::kLeaveRunning);
  EXPECT_EQ(spec->ssh->expected_marker, "build-2");
  EXPECT_EQ(spec->ssh->marker_path, "/etc/fruix-ready");
  EXPECT_EQ(spec->mac, "02:bb:00:00:00:09");
  EXPECT_EQ(spec->timeouts.boot, seconds(30));
  EXPECT_EQ(spec->timeouts.upload, minutes(20));
  EXPECT_EQ(spec->timeouts.network, seconds(300));  // not overridden
  EXPECT_EQ(spec->console.kind, "none");
  // Without a console, the console cannot be an address source; guest-metrics remains.
  EXPECT_EQ(spec->address.sources,
            std::vector<job::AddressSource>{job::AddressSource::kGuestMetrics});

  // An image the daemon already holds open (a client's descriptor) is handed to the job as is.
  auto file = vhd::SourceFile::Open("/dev/null");
  ASSERT_TRUE(file.ok()) << file.error().ToString();
  DeployOverrides with_image;
  with_image.image_file = *file;
  with_image.image_path = "fd 7 from uid 1000";
  auto handed = BuildJobSpec(*config.FindTarget("bsd"), with_image, "/tmp/bsd.log");
  ASSERT_TRUE(handed.ok()) << handed.error().ToString();
  EXPECT_EQ(handed->image_file, *file);
  EXPECT_EQ(handed->image_path, "fd 7 from uid 1000");

  DeployOverrides any_marker;
  any_marker.expected_marker = "";
  auto any = BuildJobSpec(*config.FindTarget("bsd"), any_marker, "/tmp/bsd.log");
  ASSERT_TRUE(any.ok()) << any.error().ToString();
  EXPECT_FALSE(any->ssh->expected_marker.has_value());
}

// Given a bad override, When the job is built, Then kInvalidArgument names the override and
// its value.
TEST(TargetSpecTest, BadOverridesAreRefused) {
  Config config = LoadTestConfig();
  struct Case {
    std::string target;
    DeployOverrides o;
    std::string named;
  };
  std::vector<Case> cases(7);
  cases[0] = {"bsd", {}, "serial"};
  cases[0].o.console_kind = "serial";
  cases[1] = {"bsd", {}, "02:00"};
  cases[1].o.mac = "02:00";
  cases[2] = {"bsd", {}, "ready"};
  cases[2].o.marker_path = "ready";
  cases[3] = {"bsd", {}, "ready"};
  cases[3].o.timeouts[job::Phase::kReady] = seconds(1);
  cases[4] = {"bsd", {}, "boot"};
  cases[4].o.timeouts[job::Phase::kBoot] = milliseconds(0);
  cases[5] = {"quiet", {}, "disabled for target quiet"};
  cases[5].o.expected_marker = "build-3";
  cases[6] = {"bsd", {}, "dom0-ssh needs a dom0 SSH key"};  // Validate's error
  cases[6].o.console_kind = "dom0-ssh";
  for (const auto& c : cases) {
    auto spec = BuildJobSpec(*config.FindTarget(c.target), c.o, "/tmp/x.log");
    ASSERT_FALSE(spec.ok()) << c.named;
    EXPECT_EQ(spec.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(spec.error().message().find(c.named), std::string::npos) << spec.error().message();
  }
}

// Given a target with ssh disabled, When its job is built, Then the spec has no ssh check.
TEST(TargetSpecTest, DisabledSshHasNoCheck) {
  Config config = LoadTestConfig();
  auto spec = BuildJobSpec(*config.FindTarget("quiet"), {}, "/tmp/q.log");
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  EXPECT_FALSE(spec->ssh.has_value());
}

// Given explicit uuids, When an explicit target is made, Then it inherits [defaults] (not any
// target's settings), normalises case, and builds a valid job.
TEST(TargetSpecTest, ExplicitTargetInheritsDefaults) {
  Config config = LoadTestConfig();
  auto t = ExplicitTarget(config, "lab", "AAAAAAAA-1111-4111-8111-000000000001",
                          "aaaaaaaa-1111-4111-8111-000000000002",
                          "aaaaaaaa-1111-4111-8111-000000000003", "02:CC:00:00:00:01");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->name, "");
  EXPECT_EQ(t->pool, "lab");
  EXPECT_EQ(t->vm_uuid, "aaaaaaaa-1111-4111-8111-000000000001");
  EXPECT_EQ(t->mac, "02:cc:00:00:00:01");
  EXPECT_EQ(t->settings.format, image::StreamFormat::kRaw);
  EXPECT_EQ(t->settings.console.os, console::GuestOs::kAny);  // bsd's os is not inherited
  auto spec = BuildJobSpec(*t, {}, "/tmp/e.log");
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  EXPECT_EQ(spec->timeouts.boot, minutes(7));

  // The only pool is the default pool.
  auto implicit_pool = ExplicitTarget(config, "", "aaaaaaaa-1111-4111-8111-000000000001",
                                      "aaaaaaaa-1111-4111-8111-000000000002",
                                      "aaaaaaaa-1111-4111-8111-000000000003");
  ASSERT_TRUE(implicit_pool.ok()) << implicit_pool.error().ToString();
  EXPECT_EQ(implicit_pool->pool, "lab");
}

// Given a bad explicit request, Then an unknown pool is kNotFound listing the configured ones and
// a malformed uuid or MAC is kInvalidArgument naming the field and value.
TEST(TargetSpecTest, ExplicitTargetValidates) {
  Config config = LoadTestConfig();
  const std::string vm = "aaaaaaaa-1111-4111-8111-000000000001";
  const std::string vdi = "aaaaaaaa-1111-4111-8111-000000000002";
  const std::string net = "aaaaaaaa-1111-4111-8111-000000000003";

  auto pool = ExplicitTarget(config, "prod", vm, vdi, net);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(pool.error().message().find("\"prod\""), std::string::npos);
  EXPECT_NE(pool.error().message().find("configured: lab"), std::string::npos);

  auto bad_vdi = ExplicitTarget(config, "lab", vm, "vdi-7", net);
  ASSERT_FALSE(bad_vdi.ok());
  EXPECT_EQ(bad_vdi.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_vdi.error().message().find("vdi \"vdi-7\""), std::string::npos);

  auto bad_mac = ExplicitTarget(config, "lab", vm, vdi, net, "02-00-00-00-00-01");
  ASSERT_FALSE(bad_mac.ok());
  EXPECT_NE(bad_mac.error().message().find("02-00-00-00-00-01"), std::string::npos);

  Config two = config;
  two.pools.emplace("prod", PoolConfig{});
  auto ambiguous = ExplicitTarget(two, "", vm, vdi, net);
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.error().message().find("no pool given"), std::string::npos);
}

}  // namespace
}  // namespace fruix::daemon
