// Tests of job::JobRun (lib/job/runner.h) end to end against the in-process simulator's scripted
// guests, the real xapi console source, and a real OpenSSH sshd on 127.0.0.1 playing the guest's
// SSH server (the scripted guests announce 127.0.0.1 as their address).
#include "lib/job/runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lib/console/xapi_console_source.h"
#include "lib/http/curl_http_client.h"
#include "lib/ssh/ssh_client.h"
#include "lib/xenapi/api.h"
#include "tests/support/sim_harness.h"
#include "tests/support/sshd_harness.h"

namespace fruix::job {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::SimHarness;
using testing::SshdHarness;

constexpr const char* kVm = "aaaaaaaa-0000-4000-8000-000000000051";
constexpr const char* kVdi = "aaaaaaaa-0000-4000-8000-000000000041";
constexpr const char* kNet = "aaaaaaaa-0000-4000-8000-000000000021";

json Line(const std::string& text, int delay_ms = 5) {
  return {{"delay_ms", delay_ms}, {"line", text}};
}

// The boot of a healthy FreeBSD guest whose DHCP lease is 127.0.0.1.
std::vector<json> HealthyBoot() {
  return {Line("Copyright (c) 1992-2024 The FreeBSD Project."),
          Line("FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64"),
          Line("Trying to mount root from ufs:/dev/gpt/fruix-root [rw]..."),
          Line("Starting file system checks:"),
          Line("/dev/gpt/fruix-root: FILE SYSTEM CLEAN; SKIPPING CHECKS"),
          Line("DHCPACK from 127.0.0.254"),
          Line("bound to 127.0.0.1 -- renewal in 600 seconds."),
          Line("Starting sshd.")};
}

// One pool, one host (127.0.0.1), one SR, one 8 MiB VDI, one network, and one VM (kVm) whose
// `guest` object is given.
std::string Fixture(json guest, std::string domain_type = "pv", json extra_vm = json::object()) {
  json vm = {
      {"uuid", kVm},
      {"name_label", "fruix-guest"},
      {"domain_type", domain_type},
      {"actions_after_crash", "destroy"},
      {"vifs", json::array({{{"network", kNet}, {"device", "0"}, {"MAC", "aa:00:00:00:00:51"}}})},
      {"guest", std::move(guest)}};
  for (auto& [k, v] : extra_vm.items()) vm[k] = v;
  json f = {{"credentials", {{"username", "root"}, {"password", "password"}}},
            {"pool", {{"uuid", SimHarness::kPool}, {"master", SimHarness::kMaster}}},
            {"hosts", json::array({{{"uuid", SimHarness::kMaster}, {"address", "127.0.0.1"}}})},
            {"networks", json::array({{{"uuid", kNet}, {"name_label", "net0"}}})},
            {"srs",
             json::array(
                 {{{"uuid", SimHarness::kSharedSr}, {"shared", true}, {"backing_dir", "shared"}}})},
            {"vdis", json::array({{{"uuid", kVdi},
                                   {"name_label", "disk"},
                                   {"virtual_size", 8388608},
                                   {"sr", SimHarness::kSharedSr}}})},
            {"vms", json::array({vm})}};
  return f.dump();
}

json ConsoleGuest(std::vector<json> lines) {
  return {{"console", std::move(lines)}, {"console_scrollback_bytes", 65536}};
}

// Records what the observer sees; cancels the job when `cancel_in` starts.
class Recorder : public JobObserver {
 public:
  std::optional<Phase> cancel_in;
  std::stop_source* stop = nullptr;

  void OnPhase(const PhaseRecord& r) override {
    std::lock_guard lock(mu_);
    events_.push_back(std::string(ToString(r.phase)) + ":" + std::string(ToString(r.status)));
    if (cancel_in && r.phase == *cancel_in && r.status == PhaseStatus::kRunning && stop) {
      stop->request_stop();
    }
  }
  void OnUploadProgress(const upload::ImportProgress& p) override {
    std::lock_guard lock(mu_);
    last_progress_ = p.bytes_sent;
  }
  void OnWaiting(Phase, const std::string& what) override {
    std::lock_guard lock(mu_);
    waiting_.push_back(what);
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<std::string> waiting() const {
    std::lock_guard lock(mu_);
    return waiting_;
  }
  uint64_t last_progress() const {
    std::lock_guard lock(mu_);
    return last_progress_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> events_;
  std::vector<std::string> waiting_;
  uint64_t last_progress_ = 0;
};

class RunnerTest : public ::testing::Test {
 protected:
  void Boot(const std::string& fixture) {
    sim_ = SimHarness::Start(fixture);
    ASSERT_NE(sim_, nullptr);
    auto http = http::CurlHttpClient::Create({});
    ASSERT_TRUE(http.ok());
    http_ = std::move(http).value();
    xenapi::SessionOptions o;
    o.url = sim_->HttpUrl();
    o.username = SimHarness::kUsername;
    o.password = SimHarness::kPassword;
    session_ = std::make_unique<xenapi::Session>(*http_, o);
    ssh_ = ssh::NewLibsshClient();
    dir_ = sim_->state_dir() + "/job";
    std::filesystem::create_directories(dir_);
  }
  void StartSshd() {
    sshd_ = SshdHarness::Create();
    ASSERT_NE(sshd_, nullptr);
    ASSERT_TRUE(sshd_->Start().ok());
  }
  void TearDown() override {
    session_.reset();
    sim_.reset();
    sshd_.reset();
  }

  // A 4 MiB raw image with data in its first MiB.
  std::string Image(uint8_t fill = 0x5a) {
    std::string path = dir_ + "/image-" + std::to_string(fill) + ".raw";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::ftruncate(fd, 4 << 20), 0);
    std::vector<char> data(1 << 20, static_cast<char>(fill));
    EXPECT_EQ(::pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    ::close(fd);
    return path;
  }

  JobSpec Spec() {
    JobSpec s;
    s.target = "test-target";
    s.vm_uuid = kVm;
    s.vdi_uuid = kVdi;
    s.network_uuid = kNet;
    s.console_log = dir_ + "/console.log";
    s.console.os = console::GuestOs::kFreeBsd;
    s.address.sources = {AddressSource::kGuestMetrics, AddressSource::kConsole};
    s.import.retry_backoff = 10ms;
    s.timeouts.boot = 10s;
    s.timeouts.network = 10s;
    s.timeouts.ssh = 10s;
    if (sshd_) {
      ssh::ReadinessSpec r;
      r.endpoint = sshd_->Endpoint();
      r.endpoint.host.clear();  // filled from the discovered address
      r.marker_path = sshd_->marker_path().string();
      r.initial_backoff = 50ms;
      r.max_backoff = 200ms;
      s.ssh = r;
    }
    return s;
  }

  RunnerDeps Deps() {
    RunnerDeps d;
    d.session = session_.get();
    d.upload_http = http_.get();
    d.ssh = ssh_.get();
    d.console_factory =
        [this](const ConsoleRequest& req) -> Result<std::unique_ptr<console::ConsoleSource>> {
      return std::unique_ptr<console::ConsoleSource>(
          std::make_unique<console::XapiConsoleSource>(*session_, *http_, Uuid(req.vm_uuid)));
    };
    return d;
  }

  JobReport RunJob(const JobSpec& spec, Recorder* rec = nullptr, std::stop_source* stop = nullptr) {
    JobRun run(Deps(), "job-1", spec);
    std::stop_source local;
    std::stop_source& s = stop != nullptr ? *stop : local;
    if (rec != nullptr) rec->stop = &s;
    return run.Run(s.get_token(), rec);
  }

  xenapi::VmRecord Vm() {
    xenapi::Api api(*session_);
    auto ref = api.GetByUuid<xenapi::VmRecord>(kVm);
    EXPECT_TRUE(ref.ok());
    auto rec = api.GetRecord<xenapi::VmRecord>(*ref);
    EXPECT_TRUE(rec.ok());
    return rec.ok() ? *rec : xenapi::VmRecord{};
  }

  static std::string Phases(const JobReport& r) {
    std::string out;
    for (const auto& p : r.phases) {
      out += std::string(ToString(p.phase)) + ":" + std::string(ToString(p.status)) + " ";
    }
    return out;
  }

  std::unique_ptr<SimHarness> sim_;
  std::unique_ptr<http::CurlHttpClient> http_;
  std::unique_ptr<xenapi::Session> session_;
  std::unique_ptr<ssh::SshClient> ssh_;
  std::unique_ptr<SshdHarness> sshd_;
  std::string dir_;
};

// Given a PV guest without tools whose console announces its lease, a real sshd with the marker,
// When the job runs with an image, Then every phase passes in order, the address comes from the
// console, SSH readiness records the host key, marker and probes, the console log holds the boot,
// and the JSON report has the stable schema.
TEST_F(RunnerTest, HappyPathWithoutGuestToolsAddressFromConsole) {
  StartSshd();
  Boot(Fixture(ConsoleGuest(HealthyBoot())));
  sshd_->WriteMarker("build-42");
  JobSpec spec = Spec();
  spec.image_path = Image();
  spec.ssh->expected_marker = "build-42";
  Recorder rec;
  JobReport r = RunJob(spec, &rec);

  ASSERT_EQ(r.state, Phase::kReady) << Phases(r) << (r.failure ? r.failure->message : "");
  EXPECT_EQ(Phases(r),
            "preflight:ok prepare:ok upload:ok attach:ok start:ok boot:ok network:ok ssh:ok ");
  ASSERT_TRUE(r.upload);
  EXPECT_GT(r.upload->bytes_sent, 0u);
  EXPECT_FALSE(r.upload->skipped);
  EXPECT_EQ(rec.last_progress(), r.upload->bytes_sent);
  ASSERT_TRUE(r.address);
  EXPECT_EQ(r.address->address, "127.0.0.1");
  EXPECT_EQ(r.address->source, AddressSource::kConsole);
  EXPECT_EQ(r.address_silent, std::vector<AddressSource>{AddressSource::kGuestMetrics});
  ASSERT_TRUE(r.ssh && r.ssh->readiness);
  EXPECT_EQ(r.ssh->readiness->host_key_sha256, sshd_->host_key_sha256());
  EXPECT_EQ(r.ssh->readiness->marker_content, "build-42");
  ASSERT_EQ(r.ssh->readiness->probes.size(), 2u);
  EXPECT_EQ(r.ssh->readiness->probes[0].exit_status, 0);
  ASSERT_TRUE(r.console);
  EXPECT_EQ(r.console->source, "xapi-vt100");
  EXPECT_GT(r.console->bytes, 0u);
  bool saw_banner = false;
  for (const auto& m : r.console->milestones) saw_banner |= m.name == "kernel-banner";
  EXPECT_TRUE(saw_banner);
  ASSERT_TRUE(r.start);
  EXPECT_GT(r.start->domid, 0);
  EXPECT_FALSE(r.failure);
  ASSERT_TRUE(r.after_run);
  EXPECT_EQ(r.after_run->action, "left running");
  EXPECT_EQ(Vm().power_state, xenapi::VmPowerState::kRunning);

  std::ifstream log(spec.console_log);
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("bound to 127.0.0.1"), std::string::npos);

  json j = ToJson(r);
  EXPECT_EQ(j["schema"], "fruix.job-report/1");
  EXPECT_EQ(j["state"], "ready");
  EXPECT_EQ(j["address"]["source"], "console");
  EXPECT_EQ(j["phases"].size(), 8u);
  EXPECT_FALSE(j.contains("failure"));
}

// Given an HVM guest with tools (address from guest metrics, no text console), When the job runs
// without an image and with console none and shutdown-on-success, Then upload is skipped, boot is
// assumed, the address comes from guest metrics, and the VM is halted after ready.
TEST_F(RunnerTest, GuestToolsAddressAndShutdownOnSuccess) {
  StartSshd();
  Boot(Fixture({{"ip", "127.0.0.1"}, {"ip_after_ms", 30}, {"pv_drivers", true}}, "hvm"));
  sshd_->WriteMarker("ok");
  JobSpec spec = Spec();
  spec.console.kind = "none";
  spec.address.sources = {AddressSource::kGuestMetrics};
  spec.after_run = AfterRun::kShutdownOnSuccess;
  JobReport r = RunJob(spec);
  ASSERT_EQ(r.state, Phase::kReady) << Phases(r) << (r.failure ? r.failure->message : "");
  EXPECT_EQ(r.FindPhase(Phase::kUpload)->status, PhaseStatus::kSkipped);
  ASSERT_TRUE(r.address);
  EXPECT_EQ(r.address->source, AddressSource::kGuestMetrics);
  EXPECT_EQ(r.console->state, "none");
  EXPECT_EQ(r.after_run->action, "hard_shutdown");
  EXPECT_EQ(Vm().power_state, xenapi::VmPowerState::kHalted);
}

// Given a guest without tools and no console, When the address never appears, Then the job fails
// in the network phase with a timeout naming the sources it waited for, as infrastructure-free
// guest failure.
TEST_F(RunnerTest, AddressNeverAppearsTimeoutNamesSources) {
  Boot(Fixture(json::object(), "hvm"));
  JobSpec spec = Spec();
  spec.console.kind = "none";
  spec.address.sources = {AddressSource::kGuestMetrics, AddressSource::kLeaseFile};
  spec.address.lease_file = dir_ + "/dnsmasq.leases";
  spec.timeouts.network = 300ms;
  Recorder rec;
  JobReport r = RunJob(spec, &rec);
  ASSERT_EQ(r.state, Phase::kFailed) << Phases(r);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->phase, Phase::kNetwork);
  EXPECT_EQ(r.failure->code, "timeout");
  EXPECT_EQ(r.failure->failure_class, FailureClass::kGuest);
  EXPECT_NE(r.failure->message.find("guest-metrics"), std::string::npos) << r.failure->message;
  EXPECT_NE(r.failure->message.find("lease-file"), std::string::npos) << r.failure->message;
  bool said = false;
  for (const auto& w : rec.waiting()) said |= w.find("waiting for the guest's address") == 0;
  EXPECT_TRUE(said);
}

// Given a guest without tools and no console whose MAC gets a lease in a dnsmasq file after the
// VM starts (an old lease of the MAC is already there), When the job runs, Then the new lease is
// the address, not the stale one.
TEST_F(RunnerTest, LeaseFileAddressIgnoresStaleLease) {
  StartSshd();
  Boot(Fixture(json::object(), "hvm"));
  sshd_->WriteMarker("ok");
  const std::string leases = dir_ + "/dnsmasq.leases";
  { std::ofstream(leases) << "100 aa:00:00:00:00:51 127.0.0.9 old *\n"; }
  JobSpec spec = Spec();
  spec.console.kind = "none";
  spec.address.sources = {AddressSource::kLeaseFile};
  spec.address.lease_file = leases;
  std::thread writer([&] {
    std::this_thread::sleep_for(300ms);
    std::ofstream(leases) << "200 aa:00:00:00:00:51 127.0.0.1 new *\n";
  });
  JobReport r = RunJob(spec);
  writer.join();
  ASSERT_EQ(r.state, Phase::kReady) << Phases(r) << (r.failure ? r.failure->message : "");
  EXPECT_EQ(r.address->address, "127.0.0.1");
  EXPECT_EQ(r.address->source, AddressSource::kLeaseFile);
}

struct SignatureCase {
  const char* pattern;
  std::vector<std::string> lines;  // the last one is the guilty line
};

class RunnerSignatureTest : public RunnerTest,
                            public ::testing::WithParamInterface<SignatureCase> {};

// Given a guest whose boot prints a failure signature from field-notes.md, When the job runs,
// Then it fails in boot at once with "console:<pattern>", the guilty line last in the excerpt and
// the lines before it, classified as a guest failure.
TEST_P(RunnerSignatureTest, FailureSignatureEndsBoot) {
  const SignatureCase& c = GetParam();
  std::vector<json> lines = {
      Line("Copyright (c) 1992-2024 The FreeBSD Project."),
      Line("FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64")};
  for (const auto& l : c.lines) lines.push_back(Line(l));
  lines.push_back(Line("bound to 127.0.0.1 -- renewal in 600 seconds.", 15000));
  Boot(Fixture(ConsoleGuest(lines)));
  JobSpec spec = Spec();
  spec.timeouts.boot = 30s;
  const auto began = std::chrono::steady_clock::now();
  JobReport r = RunJob(spec);
  // Far below the boot timeout and the address line: the signature ended the job.
  EXPECT_LT(std::chrono::steady_clock::now() - began, 10s) << "did not fail fast";
  ASSERT_EQ(r.state, Phase::kFailed) << Phases(r);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->phase, Phase::kBoot);
  EXPECT_EQ(r.failure->code, std::string("console:") + c.pattern);
  EXPECT_EQ(r.failure->failure_class, FailureClass::kGuest);
  ASSERT_GE(r.failure->console_excerpt.size(), 2u);
  EXPECT_EQ(r.failure->console_excerpt.back(), c.lines.back());
  EXPECT_NE(r.failure->console_excerpt.front().find("FreeBSD Project"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    FieldNotes, RunnerSignatureTest,
    ::testing::Values(
        SignatureCase{
            "fsck-abort",
            {"Starting file system checks:",
             "fsck: exec fsck_devfs for devfs in /sbin:/usr/sbin: No such file or "
             "directory",
             "Unknown error 1; help!", "ERROR: ABORTING BOOT (sending SIGTERM to parent)!"}},
        SignatureCase{"panic", {"panic: vm_fault: fault on nofault entry, addr: 0xdeadc0de"}},
        SignatureCase{"fatal-signal",
                      {"pid 262 (guile), jid 0, uid 0: exited on signal 11 (core dumped)"}},
        SignatureCase{"pam-init-failed", {"PAM: initialisation failed"}}),
    [](const auto& param_info) {
      std::string n = param_info.param.pattern;
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

// Given a guest that drops to the single-user prompt (no newline after it), When the job runs,
// Then the partial prompt line fails the job in boot.
TEST_F(RunnerTest, SingleUserPromptWithoutNewlineFails) {
  // The simulator ends every scripted line with CRLF; the prompt is matched on the line anyway,
  // and on a real console (no CRLF) through the recorder's partial delivery.
  Boot(Fixture(
      ConsoleGuest({Line("FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64"),
                    Line("Enter full pathname of shell or RETURN for /bin/sh: ")})));
  JobReport r = RunJob(Spec());
  ASSERT_EQ(r.state, Phase::kFailed) << Phases(r);
  EXPECT_EQ(r.failure->phase, Phase::kBoot);
  EXPECT_EQ(r.failure->code, "console:single-user");
}

// Given a guest that powers off 100 ms into its boot, When the job runs, Then it fails in boot
// with vm-halted and the console lines printed so far.
TEST_F(RunnerTest, VmHaltsMidBoot) {
  json guest =
      ConsoleGuest({Line("FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64"),
                    Line("bound to 127.0.0.1 -- renewal in 600 seconds.", 5000)});
  guest["action"] = "halt";
  guest["action_after_ms"] = 100;
  Boot(Fixture(guest, "pv", {{"actions_after_shutdown", "destroy"}}));
  JobReport r = RunJob(Spec());
  ASSERT_EQ(r.state, Phase::kFailed) << Phases(r);
  EXPECT_EQ(r.failure->phase, Phase::kBoot);
  EXPECT_EQ(r.failure->code, "vm-halted");
  EXPECT_EQ(r.failure->failure_class, FailureClass::kGuest);
}

// Given a guest that reboots 100 ms into its boot, When the job runs, Then it fails in boot with
// vm-rebooted naming both domids.
TEST_F(RunnerTest, VmRebootsMidBoot) {
  json guest =
      ConsoleGuest({Line("FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64"),
                    Line("bound to 127.0.0.1 -- renewal in 600 seconds.", 5000)});
  guest["action"] = "reboot";
  guest["action_after_ms"] = 100;
  Boot(Fixture(guest, "pv", {{"actions_after_reboot", "restart"}}));
  JobReport r = RunJob(Spec());
  ASSERT_EQ(r.state, Phase::kFailed) << Phases(r);
  EXPECT_EQ(r.failure->phase, Phase::kBoot);
  EXPECT_EQ(r.failure->code, "vm-rebooted");
  EXPECT_NE(r.failure->message.find("->"), std::string::npos);
}

// Given sshd down when the ssh phase starts and up 700 ms later, When the job runs, Then it is
// ready and the waiting status said "port closed" first.
TEST_F(RunnerTest, SshRefusedThenAccepted) {
  sshd_ = SshdHarness::Create();
  ASSERT_NE(sshd_, nullptr);
  Boot(Fixture(ConsoleGuest(HealthyBoot())));
  sshd_->WriteMarker("ok");
  JobSpec spec = Spec();
  spec.timeouts.ssh = 15s;
  Recorder rec;
  std::thread later([&] {
    std::this_thread::sleep_for(700ms);
    ASSERT_TRUE(sshd_->Start(SshdHarness::PortPolicy::kKeepPort).ok());
  });
  JobReport r = RunJob(spec, &rec);
  later.join();
  ASSERT_EQ(r.state, Phase::kReady) << Phases(r) << (r.failure ? r.failure->message : "");
  bool port_closed = false;
  for (const auto& w : rec.waiting()) port_closed |= w.find("port closed") != std::string::npos;
  EXPECT_TRUE(port_closed);
}

// Given a pinned host key that is not sshd's, When the job runs, Then it fails in ssh with
// ssh:host-key-mismatch.
TEST_F(RunnerTest, WrongPinnedHostKeyFails) {
  StartSshd();
  Boot(Fixture(ConsoleGuest(HealthyBoot())));
  sshd_->WriteMarker("ok");
  JobSpec spec = Spec();
  spec.ssh->endpoint.host_key.mode = ssh::HostKeyMode::kPin;
  spec.ssh->endpoint.host_key.pin_sha256 = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
  JobReport r = RunJob(spec);
  ASSERT_EQ(r.state, Phase::kFailed) << Phases(r);
  EXPECT_EQ(r.failure->phase, Phase::kSsh);
  EXPECT_EQ(r.failure->code, "ssh:host-key-mismatch");
}

// Given a guest whose SSH works but whose marker never appears, When the ssh phase times out,
// Then the job fails in ssh with ssh:marker-missing, a guest failure, saying so.
TEST_F(RunnerTest, MarkerMissingFailsInSsh) {
  StartSshd();
  Boot(Fixture(ConsoleGuest(HealthyBoot())));
  JobSpec spec = Spec();
  spec.timeouts.ssh = 3s;
  JobReport r = RunJob(spec);
  ASSERT_EQ(r.state, Phase::kFailed) << Phases(r);
  EXPECT_EQ(r.failure->phase, Phase::kSsh);
  EXPECT_EQ(r.failure->code, "ssh:marker-missing") << r.failure->message;
  EXPECT_EQ(r.failure->failure_class, FailureClass::kGuest);
  EXPECT_NE(r.failure->message.find("marker"), std::string::npos);
}

// Given a job already deployed once, When the same job runs again, Then the VBD and VIF are
// reused, the identical upload is skipped, and the running VM was shut down in prepare.
TEST_F(RunnerTest, RerunIsIdempotent) {
  StartSshd();
  Boot(Fixture(ConsoleGuest(HealthyBoot())));
  sshd_->WriteMarker("ok");
  JobSpec spec = Spec();
  spec.image_path = Image();
  JobReport first = RunJob(spec);
  ASSERT_EQ(first.state, Phase::kReady) << Phases(first);
  EXPECT_TRUE(first.attach->vbd_created);
  JobReport second = RunJob(spec);
  ASSERT_EQ(second.state, Phase::kReady) << Phases(second);
  EXPECT_EQ(second.prepare->found, xenapi::VmPowerState::kRunning);
  EXPECT_TRUE(second.upload->skipped);
  EXPECT_FALSE(second.attach->vbd_created);
  EXPECT_FALSE(second.attach->vif_created);
  EXPECT_EQ(second.attach->vbd, first.attach->vbd);
  EXPECT_EQ(second.attach->vif, first.attach->vif);
  EXPECT_EQ(Vm().vbds.size(), 1u);
  EXPECT_EQ(Vm().vifs.size(), 1u);
}

class RunnerCancelTest : public RunnerTest, public ::testing::WithParamInterface<Phase> {};

// Given a job, When cancel is requested as phase P starts, Then the job ends cancelled in P and
// P's record says cancelled.
TEST_P(RunnerCancelTest, CancelInEachPhase) {
  StartSshd();
  // A slow boot (the address comes after 2 s) and no marker, so every phase has time to wait.
  Boot(Fixture(
      ConsoleGuest({Line("FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64"),
                    Line("bound to 127.0.0.1 -- renewal in 600 seconds.", 2000)})));
  JobSpec spec = Spec();
  spec.image_path = Image();
  Recorder rec;
  rec.cancel_in = GetParam();
  std::stop_source stop;
  const auto began = std::chrono::steady_clock::now();
  JobReport r = RunJob(spec, &rec, &stop);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 8s);
  ASSERT_EQ(r.state, Phase::kCancelled) << Phases(r);
  ASSERT_FALSE(r.phases.empty());
  EXPECT_EQ(r.phases.back().phase, GetParam()) << Phases(r);
  EXPECT_EQ(r.phases.back().status, PhaseStatus::kCancelled);
  EXPECT_FALSE(r.failure);
}

INSTANTIATE_TEST_SUITE_P(AllPhases, RunnerCancelTest,
                         ::testing::Values(Phase::kPreflight, Phase::kPrepare, Phase::kUpload,
                                           Phase::kAttach, Phase::kStart, Phase::kBoot,
                                           Phase::kNetwork, Phase::kSsh),
                         [](const auto& param_info) {
                           return std::string(ToString(param_info.param));
                         });

// Given a spec with a bad MAC and one with a relative marker path, When the job runs, Then it
// fails in preflight naming the bad value, before touching the VM.
TEST_F(RunnerTest, BadSpecFailsInPreflight) {
  Boot(Fixture(ConsoleGuest(HealthyBoot())));
  JobSpec spec = Spec();
  spec.mac = "not-a-mac";
  JobReport r = RunJob(spec);
  ASSERT_EQ(r.state, Phase::kFailed);
  EXPECT_EQ(r.failure->phase, Phase::kPreflight);
  EXPECT_EQ(r.failure->code, "invalid_argument");
  EXPECT_NE(r.failure->message.find("not-a-mac"), std::string::npos);
  EXPECT_EQ(r.failure->failure_class, FailureClass::kInfrastructure);
  EXPECT_EQ(Vm().power_state, xenapi::VmPowerState::kHalted);
  EXPECT_EQ(r.after_run->action, "none (VM not started)");
}

}  // namespace
}  // namespace fruix::job
