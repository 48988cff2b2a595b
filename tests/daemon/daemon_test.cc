// End to end: the real fruixd binary (tests/support/fruixd_harness.h) against the in-process
// simulator with scripted guests and a real OpenSSH sshd playing the guest's SSH server (the
// scripted guests announce 127.0.0.1 as their address). Requests go over the real control socket
// as JSON lines, images as descriptors (SCM_RIGHTS).
#include "daemon/daemon.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/deploy_fixture.h"
#include "tests/support/fruixd_harness.h"
#include "tests/support/sim_harness.h"
#include "tests/support/sshd_harness.h"

namespace fruix::daemon {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FruixdHarness;
using testing::RpcConnection;
using testing::SimHarness;
using testing::SshdHarness;

constexpr const char* kVm = testing::kDeployVm1;
constexpr const char* kVm2 = testing::kDeployVm2;
constexpr const char* kVdi = testing::kDeployVdi1;
constexpr const char* kVdi2 = testing::kDeployVdi2;
// The pool password: distinctive, so a test can prove it never reaches the log.
constexpr const char* kPassword = "Zq7-pool-s3cret-81x";

json Guest(int slow_ms = 5, bool panic = false) {
  return testing::ScriptedFreeBsdGuest(slow_ms, panic);
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = testing::DeployWorld::Create();
    ASSERT_NE(world_, nullptr);
    sshd_ = &world_->sshd();
    image_ = world_->image();
  }
  void TearDown() override { daemon_.reset(); }

  void Boot(json guest1 = Guest(), json guest2 = Guest(), std::string daemon_extra = "") {
    sim_ =
        SimHarness::Start(testing::DeployFixture(std::move(guest1), std::move(guest2), kPassword));
    ASSERT_NE(sim_, nullptr);
    daemon_ =
        FruixdHarness::Create(FRUIX_FRUIXD_PATH, Config(), std::move(daemon_extra), kPassword);
    ASSERT_NE(daemon_, nullptr);
    auto started = daemon_->Start();
    ASSERT_TRUE(started.ok()) << started.error().ToString();
  }

  std::string Target(const std::string& name, const char* vm, const char* vdi) {
    return testing::DeployTargetToml(name, vm, vdi, sshd_->Endpoint(),
                                     sshd_->marker_path().string());
  }
  std::string Config() {
    const ssh::Endpoint ep = sshd_->Endpoint();
    const std::string defaults = "[defaults.ssh]\nuser = \"" + ep.user + "\"\nkey = \"" +
                                 ep.private_key_file + "\"\nport = " + std::to_string(ep.port) +
                                 "\nmarker = \"" + sshd_->marker_path().string() + "\"\n\n";
    return testing::SimPoolToml(sim_->HttpUrl()) + defaults + Target("one", kVm, kVdi) +
           Target("two", kVm2, kVdi2);
  }

  // deploy.start with the image passed as a descriptor.
  json Deploy(const std::string& target, json options = json::object()) {
    const int fd = ::open(image_.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    auto r = daemon_->Call("deploy.start",
                           {{"target", target},
                            {"image", {{"passed_fd", true}, {"path", image_}}},
                            {"options", options}},
                           fd);
    ::close(fd);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : json();
  }

  // Watches `job` until its end event; returns every event (the answer's job first).
  std::vector<json> WatchToEnd(const std::string& job, bool console = true,
                               milliseconds timeout = seconds(60)) {
    std::vector<json> events;
    auto c = daemon_->Connect();
    EXPECT_TRUE(c.ok());
    if (!c.ok()) return events;
    auto id = (*c)->Send("job.watch", {{"job_id", job}, {"console", console}});
    EXPECT_TRUE(id.ok());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool answered = false;
    while (std::chrono::steady_clock::now() < deadline) {
      auto line = (*c)->Next(seconds(5));
      if (!line.ok()) break;
      if (line->contains("id")) {
        EXPECT_FALSE(answered) << "two answers";
        EXPECT_TRUE(events.empty()) << "an event came before the watch's answer";
        answered = true;
        events.push_back((*line)["result"]["job"]);
        if (!(*line)["result"].value("watching", false)) {
          // Already over: the answer's job is the end.
          events.push_back({{"kind", "end"}, {"end", (*line)["result"]["job"]}});
          break;
        }
        continue;
      }
      events.push_back((*line)["params"]);
      if ((*line)["params"]["kind"] == "end") break;
    }
    return events;
  }

  json GetJob(const std::string& id, bool report = true) {
    auto r = daemon_->Call("job.get", {{"job_id", id}, {"report", report}});
    EXPECT_TRUE(r.ok());
    return r.ok() && r->contains("result") ? (*r)["result"]["job"] : json();
  }

  // A session with the fixture's password (SimHarness::Login uses its default one).
  Result<std::string> Login() {
    auto v = sim_->CallOk("session.login_with_password", {"root", kPassword, "2.21", "test"});
    if (!v.ok()) return v.error();
    return v->string();
  }

  std::string VmOtherConfig(const char* vm, const std::string& key) {
    auto session = Login();
    EXPECT_TRUE(session.ok());
    auto oc = sim_->CallOk("VM.get_other_config", {*session, sim_->RefOf("VM", vm)});
    EXPECT_TRUE(oc.ok());
    const xenapi::Value* v = oc->structure().Find(key);
    return v == nullptr ? "" : v->string();
  }

  std::unique_ptr<testing::DeployWorld> world_;
  SshdHarness* sshd_ = nullptr;
  std::unique_ptr<SimHarness> sim_;
  std::unique_ptr<FruixdHarness> daemon_;
  std::string image_;
};

// Given a healthy scripted guest and a real sshd holding the marker, When a deployment is
// started with the image passed as a descriptor and watched with its console, Then the watch
// answers first, phases and console lines stream, the job ends ready with address, marker and
// host key in the report, the VDI holds the image, and the job survives a daemon restart.
TEST_F(DaemonTest, DeployToReadyStreamsEventsAndIsDurable) {
  Boot();
  json started = Deploy("one", {{"expected_marker", "build-42"}});
  ASSERT_TRUE(started.contains("result")) << started.dump();
  const std::string id = started["result"]["job_id"];
  EXPECT_EQ(started["result"]["state"], "running");

  std::vector<json> events = WatchToEnd(id);
  ASSERT_GE(events.size(), 3u);
  std::vector<std::string> phases;
  bool saw_console = false;
  for (const auto& e : events) {
    if (e.value("kind", "") == "phase") {
      phases.push_back(e["phase"]["phase"].get<std::string>() + ":" +
                       e["phase"]["status"].get<std::string>());
    }
    if (e.value("kind", "") == "console" &&
        e["console"]["text"].get<std::string>().find("bound to 127.0.0.1") != std::string::npos) {
      saw_console = true;
    }
  }
  EXPECT_TRUE(saw_console);
  EXPECT_NE(std::find(phases.begin(), phases.end(), "ssh:ok"), phases.end());
  ASSERT_EQ(events.back().value("kind", ""), "end");
  EXPECT_EQ(events.back()["end"]["state"], "ready") << events.back().dump();

  json job = GetJob(id);
  EXPECT_EQ(job["state"], "ready");
  EXPECT_EQ(job["ip"], "127.0.0.1");
  EXPECT_EQ(job["report"]["ssh"]["marker_content"], "build-42");
  EXPECT_EQ(job["report"]["ssh"]["host_key_sha256"], sshd_->host_key_sha256());
  EXPECT_EQ(job["requested_by_uid"], static_cast<int64_t>(::getuid()));
  EXPECT_EQ(job["image"], image_);
  // The VDI's backing file starts with the image's bytes.
  std::ifstream vdi(sim_->state_dir() + "/shared/" + kVdi + ".img", std::ios::binary);
  std::string head(testing::kTestImagePayload.size(), '\0');
  vdi.read(head.data(), static_cast<std::streamsize>(head.size()));
  EXPECT_EQ(head, testing::kTestImagePayload);
  // The lease was taken and released.
  EXPECT_EQ(VmOtherConfig(kVm, "fruix-lease"), "");

  daemon_->Signal(SIGTERM);
  ASSERT_EQ(daemon_->Wait(seconds(20)).value_or(-99), 0);
  ASSERT_TRUE(daemon_->Start().ok());
  json again = GetJob(id);
  EXPECT_EQ(again["state"], "ready");
  // What the store gives after a restart is exactly what the in-memory cache gave.
  EXPECT_EQ(again, job);
  auto list = daemon_->Call("job.list", {{"states", {"ready"}}});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)["result"]["jobs"].size(), 1u);
  EXPECT_EQ((*list)["result"]["jobs"][0]["job_id"], id);
  // The debug log saw every XenAPI call, including the login; never the password.
  const std::string log = daemon_->Stderr();
  EXPECT_NE(log.find("session.login_with_password"), std::string::npos);
  EXPECT_EQ(log.find(kPassword), std::string::npos);
}

// Given a job running on a VM, When a second deployment to the same VM is asked without and with
// queue, Then the first is refused with kBusy naming the running job, the second waits queued
// and runs to ready after the first; a deployment to another VM runs at once.
TEST_F(DaemonTest, OneJobPerVmBusyOrQueued) {
  Boot(Guest(1500));
  const std::string first = Deploy("one")["result"]["job_id"];
  json busy = Deploy("one");
  ASSERT_TRUE(busy.contains("error")) << busy.dump();
  EXPECT_EQ(busy["error"]["code"], -32002);
  EXPECT_EQ(busy["error"]["data"]["job_id"], first);
  EXPECT_NE(busy["error"]["message"].get<std::string>().find(first), std::string::npos);

  json queued = Deploy("one", {{"queue", true}});
  ASSERT_TRUE(queued.contains("result")) << queued.dump();
  EXPECT_EQ(queued["result"]["state"], "queued");
  EXPECT_EQ(queued["result"]["queue_position"], 1);
  json other = Deploy("two");
  EXPECT_EQ(other["result"]["state"], "running");

  auto targets = daemon_->Call("targets.list");
  ASSERT_TRUE(targets.ok());
  EXPECT_EQ((*targets)["result"]["targets"][0]["active_job"], first) << targets->dump();

  const std::string second = queued["result"]["job_id"];
  auto end = WatchToEnd(second, false);
  ASSERT_FALSE(end.empty());
  EXPECT_EQ(end.back()["end"]["state"], "ready") << end.back().dump();
  EXPECT_EQ(GetJob(first, false)["state"], "ready");
  const json a = GetJob(first, false);
  const json b = GetJob(second, false);
  EXPECT_LE(a["finished_at"].get<std::string>(), b["started_at"].get<std::string>());
  EXPECT_EQ(WatchToEnd(other["result"]["job_id"], false).back()["end"]["state"], "ready");
}

// Given [defaults] with an SSH check, When a deployment names its VM, VDI and network itself
// (no target), Then it runs with the defaults to ready; a malformed uuid is refused naming it.
TEST_F(DaemonTest, ExplicitDeployUsesTheDefaults) {
  Boot();
  const int fd = ::open(image_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto r = daemon_->Call("deploy.start",
                         {{"explicit",
                           {{"pool", "sim"},
                            {"vm_uuid", kVm2},
                            {"vdi_uuid", kVdi2},
                            {"network_uuid", testing::kDeployNet}}},
                          {"image", {{"passed_fd", true}, {"path", image_}}}},
                         fd);
  ::close(fd);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->contains("result")) << r->dump();
  const std::string id = (*r)["result"]["job_id"];
  EXPECT_EQ(WatchToEnd(id, false).back()["end"]["state"], "ready");
  EXPECT_EQ(GetJob(id, false)["target"], nullptr);
  EXPECT_EQ(GetJob(id, false)["vm_uuid"], kVm2);
  auto bad = daemon_->Call("deploy.start", {{"explicit",
                                             {{"pool", "sim"},
                                              {"vm_uuid", "not-a-uuid"},
                                              {"vdi_uuid", kVdi2},
                                              {"network_uuid", testing::kDeployNet}}},
                                            {"image", {{"path", image_}}}});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ((*bad)["error"]["code"], -32602) << bad->dump();
  EXPECT_NE((*bad)["error"]["message"].get<std::string>().find("not-a-uuid"), std::string::npos);
}

// Given a running job and a queued one, When both are cancelled, Then the queued one ends
// cancelled at once, the running one ends cancelled with its end event, and cancelling again is
// refused as already ended.
TEST_F(DaemonTest, CancelQueuedAndRunningJobs) {
  Boot(Guest(20000));
  const std::string running = Deploy("one")["result"]["job_id"];
  const std::string queued = Deploy("one", {{"queue", true}})["result"]["job_id"];
  auto c1 = daemon_->Call("job.cancel", {{"job_id", queued}});
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ((*c1)["result"]["state"], "cancelled");
  // Let the running job reach boot, then cancel it.
  for (int i = 0; i < 200 && GetJob(running, false)["phase"] != "boot"; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  auto c2 = daemon_->Call("job.cancel", {{"job_id", running}});
  ASSERT_TRUE(c2.ok());
  ASSERT_TRUE(c2->contains("result")) << c2->dump();
  auto events = WatchToEnd(running, false, seconds(30));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["end"]["state"], "cancelled");
  auto again = daemon_->Call("job.cancel", {{"job_id", running}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["error"]["code"], -32007) << again->dump();
  auto unknown = daemon_->Call("job.cancel", {{"job_id", "j-nope"}});
  EXPECT_EQ((*unknown)["error"]["code"], -32001);
}

// Given a guest that panics, When deployed, Then the job fails in boot with the console
// signature, its class and the guilty line.
TEST_F(DaemonTest, ConsoleSignatureFailsTheJobWithTheLine) {
  Boot(Guest(5, /*panic=*/true));
  const std::string id = Deploy("one")["result"]["job_id"];
  auto events = WatchToEnd(id, false);
  ASSERT_FALSE(events.empty());
  const json end = events.back()["end"];
  EXPECT_EQ(end["state"], "failed");
  EXPECT_EQ(end["failure"]["phase"], "boot");
  EXPECT_EQ(end["failure"]["code"], "console:panic");
  EXPECT_EQ(end["failure"]["class"], "guest");
  bool line = false;
  for (const auto& l : end["failure"]["console_excerpt"]) {
    line = line || l.get<std::string>().find("panic: vm_fault") != std::string::npos;
  }
  EXPECT_TRUE(line) << end.dump();
}

// Given a VM whose lease another fruixd holds, When deployed, Then the job fails in preflight
// with code lease-held naming the owner, and the foreign lease is left alone. Given an expired
// foreign lease, the job takes it over and succeeds.
TEST_F(DaemonTest, ForeignLeaseRefusesAndExpiredLeaseIsTakenOver) {
  Boot();
  auto session = Login();
  ASSERT_TRUE(session.ok());
  const std::string foreign =
      R"({"expires":"2099-01-01T00:00:00.000Z","job":"j-other","owner":"buildhost-7"})";
  ASSERT_TRUE(sim_->CallOk("VM.add_to_other_config",
                           {*session, sim_->RefOf("VM", kVm), "fruix-lease", foreign})
                  .ok());
  const std::string id = Deploy("one")["result"]["job_id"];
  auto events = WatchToEnd(id, false);
  ASSERT_FALSE(events.empty());
  const json end = events.back()["end"];
  EXPECT_EQ(end["state"], "failed");
  EXPECT_EQ(end["failure"]["phase"], "preflight");
  EXPECT_EQ(end["failure"]["code"], "lease-held");
  EXPECT_NE(end["failure"]["message"].get<std::string>().find("buildhost-7"), std::string::npos);
  EXPECT_EQ(VmOtherConfig(kVm, "fruix-lease"), foreign);

  ASSERT_TRUE(
      sim_->CallOk("VM.remove_from_other_config", {*session, sim_->RefOf("VM", kVm), "fruix-lease"})
          .ok());
  ASSERT_TRUE(
      sim_->CallOk("VM.add_to_other_config",
                   {*session, sim_->RefOf("VM", kVm), "fruix-lease",
                    R"({"expires":"2001-01-01T00:00:00.000Z","job":"j-old","owner":"gone"})"})
          .ok());
  const std::string id2 = Deploy("one")["result"]["job_id"];
  EXPECT_EQ(WatchToEnd(id2, false).back()["end"]["state"], "ready");
  EXPECT_EQ(VmOtherConfig(kVm, "fruix-lease"), "");
}

// Given a job in its upload phase (xapi's import task held pending), When fruixd is SIGKILLed
// and started again, Then the job is recorded as interrupted in upload with its history intact
// (nothing lost), the VM's lease, left behind, is released, and the VDI carries no digest that
// would let a later import be skipped.
TEST_F(DaemonTest, SigkillMidUploadThenRestartMarksInterruptedAndReleasesTheLease) {
  Boot();
  ASSERT_TRUE(
      sim_->AdminPost("/faults", R"({"method":"import_raw_vdi","task_pending_ms":60000})").ok());
  const std::string id = Deploy("one")["result"]["job_id"];
  for (int i = 0; i < 300 && GetJob(id, false)["phase"] != "upload"; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_EQ(GetJob(id, false)["phase"], "upload");
  EXPECT_NE(VmOtherConfig(kVm, "fruix-lease").find(id), std::string::npos);
  daemon_->Signal(SIGKILL);
  ASSERT_EQ(daemon_->Wait(seconds(10)).value_or(0), -SIGKILL);
  ASSERT_TRUE(daemon_->Start().ok());
  json job = GetJob(id, false);
  EXPECT_EQ(job["state"], "interrupted");
  EXPECT_EQ(job["failure"]["code"], "interrupted");
  EXPECT_EQ(job["phase"], "upload");
  std::vector<std::string> phases;
  for (const auto& p : job["phases"]) {
    phases.push_back(p["phase"].get<std::string>() + ":" + p["status"].get<std::string>());
  }
  EXPECT_EQ(phases, (std::vector<std::string>{"preflight:ok", "prepare:ok", "upload:interrupted"}))
      << job.dump();
  EXPECT_EQ(VmOtherConfig(kVm, "fruix-lease"), "");
  auto session = Login();
  ASSERT_TRUE(session.ok());
  auto vdi_oc = sim_->CallOk("VDI.get_other_config", {*session, sim_->RefOf("VDI", kVdi)});
  ASSERT_TRUE(vdi_oc.ok());
  EXPECT_EQ(vdi_oc->structure().Find("fruix-sha256"), nullptr);
}

// Given 200 clients connected at once, When each asks for health and the job list, Then every
// one is answered.
TEST_F(DaemonTest, TwoHundredConcurrentClients) {
  Boot();
  std::vector<std::unique_ptr<RpcConnection>> conns;
  for (int i = 0; i < 200; ++i) {
    auto c = daemon_->Connect();
    ASSERT_TRUE(c.ok()) << i << ": " << c.error().ToString();
    conns.push_back(std::move(c).value());
  }
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 200; i += 4) {
        auto h = conns[i]->Call("daemon.health", json::object());
        auto l = conns[i]->Call("job.list", {{"limit", 5}});
        if (h.ok() && h->contains("result") && l.ok() && l->contains("result")) ++answered;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(answered.load(), 200);
}

// Given a running job and shutdown_grace long enough, When fruixd gets SIGTERM, Then it refuses
// new jobs, lets the job finish ready, and exits 0. Given a short grace, the job is cancelled.
TEST_F(DaemonTest, SigtermDrainsWithinTheGraceThenCancels) {
  Boot(Guest(1500), Guest(60000), "shutdown_grace = \"20s\"");
  const std::string id = Deploy("one")["result"]["job_id"];
  auto watcher = daemon_->Connect();
  ASSERT_TRUE(watcher.ok());
  ASSERT_TRUE((*watcher)->Call("job.watch", {{"job_id", id}}).ok());
  daemon_->Signal(SIGTERM);
  std::this_thread::sleep_for(milliseconds(200));
  // The watcher still gets the job's end while the daemon drains.
  json end;
  for (int i = 0; i < 200; ++i) {
    auto line = (*watcher)->Next(seconds(30));
    ASSERT_TRUE(line.ok()) << line.error().ToString();
    if ((*line)["params"].value("kind", "") == "end") {
      end = (*line)["params"]["end"];
      break;
    }
  }
  EXPECT_EQ(end["state"], "ready");
  ASSERT_EQ(daemon_->Wait(seconds(20)).value_or(-99), 0);

  daemon_->RewriteConfig(Config(), "shutdown_grace = \"200ms\"");
  ASSERT_TRUE(daemon_->Start().ok());
  const std::string slow = Deploy("two")["result"]["job_id"];
  for (int i = 0; i < 300 && GetJob(slow, false)["phase"] != "boot"; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  daemon_->Signal(SIGTERM);
  ASSERT_EQ(daemon_->Wait(seconds(30)).value_or(-99), 0);
  ASSERT_TRUE(daemon_->Start().ok());
  EXPECT_EQ(GetJob(slow, false)["state"], "cancelled");
}

// Given fruixd started by a service manager (NOTIFY_SOCKET set), When it is ready and when it
// is told to stop, Then it sends READY=1 (only once the socket answers) and STOPPING=1.
TEST_F(DaemonTest, NotifiesTheServiceManager) {
  sim_ = SimHarness::Start(testing::DeployFixture(Guest(), Guest(), kPassword));
  ASSERT_NE(sim_, nullptr);
  daemon_ = FruixdHarness::Create(FRUIX_FRUIXD_PATH, Config(), "", kPassword);
  ASSERT_NE(daemon_, nullptr);
  const std::string notify = (daemon_->dir() / "notify.sock").string();
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notify.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  daemon_->SetEnv("NOTIFY_SOCKET", notify);
  ASSERT_TRUE(daemon_->Start().ok());
  auto receive = [&]() -> std::string {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return "";
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  };
  EXPECT_NE(receive().find("READY=1"), std::string::npos);
  daemon_->Signal(SIGTERM);
  EXPECT_NE(receive().find("STOPPING=1"), std::string::npos);
  EXPECT_EQ(daemon_->Wait(seconds(20)).value_or(-1), 0);
  ::close(fd);
}

// Given a running daemon, When its config gains a target and it gets SIGHUP, Then targets.list
// shows the new target; a broken config on SIGHUP is refused and the old one stays.
TEST_F(DaemonTest, SighupReloadsAndKeepsTheOldConfigOnErrors) {
  Boot();
  daemon_->RewriteConfig(Config() + Target("three", kVm, kVdi2));
  daemon_->Signal(SIGHUP);
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    auto t = daemon_->Call("targets.list");
    ASSERT_TRUE(t.ok());
    seen = (*t)["result"]["targets"].size() == 3;
    if (!seen) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(seen);
  daemon_->RewriteConfig(Config() + "[targets.broken]\npool = \"nope\"\n");
  daemon_->Signal(SIGHUP);
  for (int i = 0;
       i < 100 && daemon_->Stderr().find("keeping the running configuration") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_NE(daemon_->Stderr().find("keeping the running configuration"), std::string::npos);
  auto t = daemon_->Call("targets.list");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)["result"]["targets"].size(), 3u);
}

// Given a socket open to everyone and a mutating user list naming nobody, When uid 65534 calls,
// Then read-only methods work, and deploy.start with a path (not a descriptor) is refused:
// the daemon never opens a client's path with its own privileges. Another user may not deploy.
TEST_F(DaemonTest, AccessRulesForOtherUsers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to uid 65534";
  Boot(Guest(), Guest(), "socket_mode = \"0666\"\nmutating_users = [\"nobody\"]");
  ::chmod(daemon_->dir().c_str(), 0755);
  auto as_nobody = [&](const std::string& method, const json& params) -> json {
    int pipefd[2];
    EXPECT_EQ(::pipe(pipefd), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(pipefd[0]);
      std::string out = "{}";
      if (::setgid(65534) == 0 && ::setuid(65534) == 0) {
        auto c = RpcConnection::Connect(daemon_->socket());
        if (c.ok()) {
          auto r = (*c)->Call(method, params);
          if (r.ok()) out = r->dump();
        }
      }
      (void)!::write(pipefd[1], out.data(), out.size());
      ::_exit(0);
    }
    ::close(pipefd[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) out.append(buf, n);
    ::close(pipefd[0]);
    ::waitpid(pid, nullptr, 0);
    return json::parse(out, nullptr, false);
  };
  json version = as_nobody("daemon.version", json::object());
  EXPECT_EQ(version["result"]["version"], std::string(kVersion)) << version.dump();
  json by_path = as_nobody("deploy.start", {{"target", "one"}, {"image", {{"path", image_}}}});
  EXPECT_EQ(by_path["error"]["code"], -32003) << by_path.dump();
  EXPECT_NE(by_path["error"]["message"].get<std::string>().find("descriptor"), std::string::npos);
  json list = daemon_->Call("job.list", json::object()).value_or(json());
  EXPECT_TRUE(list["result"]["jobs"].empty());
}

// Given bad requests, When sent, Then each gets its JSON-RPC error and the daemon keeps serving.
TEST_F(DaemonTest, BadRequestsGetErrorsNamingTheProblem) {
  Boot();
  auto c = daemon_->Connect();
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->SendRaw("{\"jsonrpc\":\"2.0\",\"id\":1,\n").ok());
  auto parse = (*c)->Next(seconds(5));
  ASSERT_TRUE(parse.ok());
  EXPECT_EQ((*parse)["error"]["code"], -32700);
  auto unknown = (*c)->Call("deploy.start", {{"target", "nope"}, {"image", {{"path", image_}}}});
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ((*unknown)["error"]["code"], -32001);
  EXPECT_NE((*unknown)["error"]["message"].get<std::string>().find("one, two"), std::string::npos);
  auto no_fd = (*c)->Call("deploy.start", {{"target", "one"}, {"image", {{"passed_fd", true}}}});
  EXPECT_EQ((*no_fd)["error"]["code"], -32007) << no_fd->dump();
  auto bad_opt = (*c)->Call("deploy.start", {{"target", "one"},
                                             {"image", {{"path", image_}}},
                                             {"options", {{"zero_fill", "sometimes"}}}});
  EXPECT_EQ((*bad_opt)["error"]["code"], -32602);
  EXPECT_NE((*bad_opt)["error"]["message"].get<std::string>().find("sometimes"), std::string::npos);
  auto unknown_method = (*c)->Call("job.explode", json::object());
  EXPECT_EQ((*unknown_method)["error"]["code"], -32601);
  EXPECT_NE((*unknown_method)["error"]["message"].get<std::string>().find("job.explode"),
            std::string::npos);
  auto wrong_type = (*c)->Call("job.get", {{"job_id", 42}});
  EXPECT_EQ((*wrong_type)["error"]["code"], -32602);
  EXPECT_NE((*wrong_type)["error"]["message"].get<std::string>().find("params.job_id"),
            std::string::npos);
  ASSERT_TRUE((*c)->SendRaw(std::string(2 << 20, 'x') + "\n").ok());
  auto too_long = (*c)->Next(seconds(10));
  ASSERT_TRUE(too_long.ok());
  EXPECT_EQ((*too_long)["error"]["code"], -32600);
  auto missing = (*c)->Call("job.get", {{"job_id", "j-missing"}});
  EXPECT_EQ((*missing)["error"]["code"], -32001);
  auto log = (*c)->Call("job.log", {{"job_id", "j-missing"}});
  EXPECT_EQ((*log)["error"]["code"], -32001);
  auto health = (*c)->Call("daemon.health", json::object());
  EXPECT_EQ((*health)["result"]["status"], "ok");
}

// Given a finished job, When its log is read by tail and by offsets, Then the chunks join into
// the whole console log and `complete` is set at its end.
TEST_F(DaemonTest, JobLogTailAndOffsets) {
  Boot();
  const std::string id = Deploy("one")["result"]["job_id"];
  ASSERT_EQ(WatchToEnd(id, false).back()["end"]["state"], "ready");
  auto tail = daemon_->Call("job.log", {{"job_id", id}, {"tail_lines", 2}});
  ASSERT_TRUE(tail.ok());
  const std::string last = (*tail)["result"]["data"];
  EXPECT_NE(last.find("Starting sshd."), std::string::npos) << last;
  EXPECT_EQ(last.find("FreeBSD 15.0"), std::string::npos) << last;
  std::string all;
  uint64_t offset = 0;
  for (int i = 0; i < 100; ++i) {
    auto chunk = daemon_->Call("job.log", {{"job_id", id}, {"offset", offset}, {"max_bytes", 64}});
    ASSERT_TRUE(chunk.ok());
    all += (*chunk)["result"]["data"].get<std::string>();
    offset = (*chunk)["result"]["next_offset"];
    if ((*chunk)["result"]["complete"]) break;
  }
  std::ifstream f(GetJob(id, false)["console_log"].get<std::string>(), std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(all, ss.str());
  EXPECT_NE(all.find("bound to 127.0.0.1"), std::string::npos);
}

}  // namespace
}  // namespace fruix::daemon
