// The XenAPI client against the in-process simulator (tests/support/sim_harness.h): the real
// transport (CurlHttpClient, HTTPS with the simulator's certificate pinned), real sessions, tasks
// and event.from, checked against the simulator's own counters for leaks.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "lib/http/curl_http_client.h"
#include "lib/xenapi/api.h"
#include "lib/xenapi/events.h"
#include "lib/xenapi/session.h"
#include "lib/xenapi/tasks.h"
#include "tests/support/sim_harness.h"

namespace fruix::xenapi {
namespace {

using fruix::testing::SimHarness;
using namespace std::chrono_literals;

class SimIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    http::CurlHttpClientOptions options;
    options.tls.pin_sha256 = sim_->tls_fingerprint();
    options.connect_timeout = 5s;
    options.timeout = 30s;
    auto http = http::CurlHttpClient::Create(options);
    ASSERT_TRUE(http.ok()) << http.error().ToString();
    http_ = std::move(http).value();
  }
  void TearDown() override {
    session_.reset();
    http_.reset();
    sim_.reset();
  }
  Session& Connect(const std::string& address = "127.0.0.1") {
    SessionOptions o;
    o.url = sim_->HttpsUrl(address);
    o.username = SimHarness::kUsername;
    o.password = SimHarness::kPassword;
    session_ = std::make_unique<Session>(*http_, o);
    return *session_;
  }
  int64_t Counter(const std::string& name) {
    auto body = sim_->AdminGet("/counters");
    EXPECT_TRUE(body.ok());
    return body.ok() ? nlohmann::json::parse(*body).value(name, int64_t{-1}) : -1;
  }
  OpaqueRef Ref(const char* cls, const char* uuid) { return OpaqueRef(sim_->RefOf(cls, uuid)); }

  std::unique_ptr<SimHarness> sim_;
  std::unique_ptr<http::CurlHttpClient> http_;
  std::unique_ptr<Session> session_;
};

// Given the simulator over HTTPS with its certificate pinned, When the client logs in and reads
// records, Then typed records come back, and Logout leaves no session behind.
TEST_F(SimIntegrationTest, LoginAndReadRecords) {
  Session& session = Connect();
  Api api(session);
  auto vm_ref = api.GetByUuid<VmRecord>(SimHarness::kPvVm);
  ASSERT_TRUE(vm_ref.ok()) << vm_ref.error().ToString();
  auto vm = api.GetRecord<VmRecord>(*vm_ref);
  ASSERT_TRUE(vm.ok()) << vm.error().ToString();
  EXPECT_EQ(vm->name_label, "pv-guest");
  EXPECT_EQ(vm->power_state, VmPowerState::kHalted);
  EXPECT_EQ(vm->domid, -1);
  EXPECT_TRUE(vm->resident_on.is_null());
  EXPECT_EQ(vm->vbds.size(), 1u);
  EXPECT_EQ(vm->domain_type, "pv");

  auto vbd = api.GetRecord<VbdRecord>(vm->vbds[0]);
  ASSERT_TRUE(vbd.ok()) << vbd.error().ToString();
  auto vdi = api.GetRecord<VdiRecord>(vbd->vdi);
  ASSERT_TRUE(vdi.ok()) << vdi.error().ToString();
  EXPECT_EQ(vdi->virtual_size, 8388608);
  auto sr = api.GetRecord<SrRecord>(vdi->sr);
  ASSERT_TRUE(sr.ok()) << sr.error().ToString();
  EXPECT_TRUE(sr->shared);
  for (const auto& pbd_ref : sr->pbds) {
    auto pbd = api.GetRecord<PbdRecord>(pbd_ref);
    ASSERT_TRUE(pbd.ok()) << pbd.error().ToString();
  }
  auto hosts = api.GetAllRecords<HostRecord>();
  ASSERT_TRUE(hosts.ok()) << hosts.error().ToString();
  EXPECT_EQ(hosts->size(), 2u);
  auto master = api.PoolMaster();
  ASSERT_TRUE(master.ok()) << master.error().ToString();
  EXPECT_EQ(hosts->at(*master).address, "127.0.0.1");
  auto networks = api.GetAllRecords<NetworkRecord>();
  ASSERT_TRUE(networks.ok()) << networks.error().ToString();
  ASSERT_EQ(networks->size(), 1u);
  EXPECT_EQ(networks->begin()->second.mtu, 1500);
  auto pools = api.GetAllRecords<PoolRecord>();
  ASSERT_TRUE(pools.ok()) << pools.error().ToString();

  auto missing = api.GetByUuid<VmRecord>("00000000-0000-4000-8000-000000000000");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().IsXapi("UUID_INVALID")) << missing.error().ToString();

  EXPECT_EQ(Counter("sessions"), 1);
  ASSERT_TRUE(session.Logout().ok());
  EXPECT_EQ(Counter("sessions"), 0);
}

// Given a halted PV VM, When Async.VM.start runs through RunAsync, Then the task succeeds, the VM
// is Running on the master with a domid and a vt100 console, and no task is left behind; the
// same for Async.VM.hard_shutdown.
TEST_F(SimIntegrationTest, AsyncVmStartAndShutdown) {
  Session& session = Connect();
  Api api(session);
  OpaqueRef vm = Ref("VM", SimHarness::kPvVm);
  auto started = RunAsync(session, calls::VmStart(vm, false, false), Deadline(RealClock(), 20s));
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  auto rec = api.GetRecord<VmRecord>(vm);
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  EXPECT_EQ(rec->power_state, VmPowerState::kRunning);
  EXPECT_GE(rec->domid, 0);
  EXPECT_EQ(rec->resident_on, *api.PoolMaster());
  bool has_vt100 = false;
  for (const auto& c : rec->consoles) {
    auto console = api.GetRecord<ConsoleRecord>(c);
    ASSERT_TRUE(console.ok()) << console.error().ToString();
    has_vt100 |= console->protocol == ConsoleProtocol::kVt100;
  }
  EXPECT_TRUE(has_vt100);
  EXPECT_EQ(Counter("tasks"), 0);

  auto again = RunAsync(session, calls::VmStart(vm, false, false), Deadline(RealClock(), 20s));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().IsXapi("VM_BAD_POWER_STATE")) << again.error().ToString();
  EXPECT_EQ(Counter("tasks"), 0);

  auto stopped = RunAsync(session, calls::VmHardShutdown(vm), Deadline(RealClock(), 20s));
  ASSERT_TRUE(stopped.ok()) << stopped.error().ToString();
  EXPECT_EQ(api.GetRecord<VmRecord>(vm)->power_state, VmPowerState::kHalted);
  EXPECT_EQ(Counter("tasks"), 0);
}

// Given a slow VM (300 ms power operations), When RunAsync's deadline is shorter, Then it returns
// kTimeout and the task is still destroyed.
TEST_F(SimIntegrationTest, AsyncTimeoutDestroysTask) {
  Session& session = Connect();
  auto r = RunAsync(session, calls::VmStart(Ref("VM", SimHarness::kSlowVm), false, false),
                    Deadline(RealClock(), 50ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout) << r.error().ToString();
  // task.destroy on a pending task only marks it; it disappears once the operation completes.
  if (Counter("tasks") != 0) {
    (void)WaitFor(
        session, {"task"}, [](const Event& e) { return e.op == EventOp::kDel; },
        Deadline(RealClock(), 5s));
  }
  EXPECT_EQ(Counter("tasks"), 0);
}

// Given an HVM VM with guest tools, When one thread waits on events for it to run and for its
// guest metrics, and another starts it, Then the waiter wakes on events and reads the guest IP.
TEST_F(SimIntegrationTest, EventWakeUpOnVmStartAndGuestMetrics) {
  Session& session = Connect();
  Api api(session);
  OpaqueRef vm = Ref("VM", SimHarness::kHvmVm);
  auto waiter = std::async(std::launch::async, [&] {
    return WaitForRecord<VmRecord>(
        session, vm, [](const VmRecord& r) { return !r.guest_metrics.is_null(); },
        Deadline(RealClock(), 20s));
  });
  ASSERT_TRUE(api.VmStart(vm).ok());
  ASSERT_EQ(waiter.wait_for(20s), std::future_status::ready);
  auto rec = waiter.get();
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  EXPECT_EQ(rec->power_state, VmPowerState::kRunning);
  auto metrics = api.GetRecord<GuestMetricsRecord>(rec->guest_metrics);
  ASSERT_TRUE(metrics.ok()) << metrics.error().ToString();
  EXPECT_EQ(metrics->networks.at("0/ip"), "127.0.0.6");
}

// Given a login sent to the pool member 127.0.0.2, Then HOST_IS_SLAVE is followed to the master
// 127.0.0.1 on the same port; and after the master moves to host 2, a login at 127.0.0.1 lands
// on 127.0.0.2.
TEST_F(SimIntegrationTest, HostIsSlaveFollowsTheMaster) {
  {
    Session& session = Connect("127.0.0.2");
    ASSERT_TRUE(session.Login().ok());
    EXPECT_EQ(session.url(), sim_->HttpsUrl("127.0.0.1"));
    ASSERT_TRUE(Api(session).GetAllRecords<HostRecord>().ok());
    ASSERT_TRUE(session.Logout().ok());
  }
  ASSERT_TRUE(sim_->AdminPost("/master", R"({"host": "127.0.0.2"})").ok());
  Session& session = Connect("127.0.0.1");
  auto hosts = Api(session).GetAllRecords<HostRecord>();
  ASSERT_TRUE(hosts.ok()) << hosts.error().ToString();
  EXPECT_EQ(session.url(), sim_->HttpsUrl("127.0.0.2"));
}

// Given a session logged in at the master 127.0.0.1, When the pool master moves to 127.0.0.2 while
// the session is open, Then the next call's HOST_IS_SLAVE is followed: the client logs in at the
// new master and the call succeeds there.
TEST_F(SimIntegrationTest, HostIsSlaveOnACallFollowsTheNewMaster) {
  Session& session = Connect("127.0.0.1");
  Api api(session);
  ASSERT_TRUE(api.GetAllRecords<HostRecord>().ok());
  EXPECT_EQ(session.url(), sim_->HttpsUrl("127.0.0.1"));
  ASSERT_TRUE(sim_->AdminPost("/master", R"({"host": "127.0.0.2"})").ok());
  auto master = api.PoolMaster();
  ASSERT_TRUE(master.ok()) << master.error().ToString();
  EXPECT_EQ(session.url(), sim_->HttpsUrl("127.0.0.2"));
  EXPECT_EQ(session.login_count(), 2u);
  auto hosts = api.GetAllRecords<HostRecord>();
  ASSERT_TRUE(hosts.ok()) << hosts.error().ToString();
  EXPECT_EQ(hosts->at(*master).address, "127.0.0.2");
}

// Given a session the simulator expired, When the next call runs, Then the client logs in again
// transparently and the call succeeds; only the new session remains.
TEST_F(SimIntegrationTest, SessionInvalidRelogsIn) {
  Session& session = Connect();
  Api api(session);
  ASSERT_TRUE(api.GetByUuid<VmRecord>(SimHarness::kPvVm).ok());
  ASSERT_TRUE(sim_->AdminPost("/sessions/expire", "{}").ok());
  auto r = api.GetByUuid<VmRecord>(SimHarness::kPvVm);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(session.login_count(), 2u);
  EXPECT_EQ(Counter("sessions"), 1);
}

// Given EVENTS_LOST injected on the second event.from, When the watcher continues after a
// change, Then it restarts from scratch (token "") and still reports the VM's new state.
TEST_F(SimIntegrationTest, EventsLostRestartsTheWatcher) {
  Session& session = Connect();
  ASSERT_TRUE(
      sim_->AdminPost("/faults", R"({"method": "event.from", "nth": 2, "error": ["EVENTS_LOST"]})")
          .ok());
  OpaqueRef vm = Ref("VM", SimHarness::kPvVm);
  EventWatcher watcher(session, {ObjectSubscription("VM", vm)});
  Deadline deadline(RealClock(), 20s);
  auto first = watcher.Next(deadline);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  ASSERT_EQ(first->events.size(), 1u);
  ASSERT_TRUE(Api(session).VmStart(vm).ok());
  auto second = watcher.Next(deadline);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_TRUE(second->restarted);
  ASSERT_FALSE(second->events.empty());
  auto rec = VmRecord::Parse(*second->events.back().snapshot);
  ASSERT_TRUE(rec.ok()) << rec.error().ToString();
  EXPECT_EQ(rec->power_state, VmPowerState::kRunning);
  auto faults = sim_->AdminGet("/faults");
  ASSERT_TRUE(faults.ok());
  EXPECT_EQ(nlohmann::json::parse(*faults).at(0).value("fired", 0), 1);
}

// Given VBD.create and VIF.create with the member sets of spec §3.3/§3.4, Then the simulator
// (which enforces the required members) accepts them, and the devices can be destroyed.
TEST_F(SimIntegrationTest, CreateAndDestroyVbdAndVif) {
  Session& session = Connect();
  Api api(session);
  OpaqueRef vm = Ref("VM", SimHarness::kHvmVm);
  auto devices = api.VmGetAllowedVbdDevices(vm);
  ASSERT_TRUE(devices.ok()) << devices.error().ToString();
  ASSERT_FALSE(devices->empty());
  VbdSpec vbd;
  vbd.vm = vm;
  vbd.vdi = Ref("VDI", SimHarness::kSpareVdi);
  vbd.userdevice = devices->front();
  vbd.bootable = true;
  auto vbd_ref = api.VbdCreate(vbd);
  ASSERT_TRUE(vbd_ref.ok()) << vbd_ref.error().ToString();
  auto vbd_rec = api.GetRecord<VbdRecord>(*vbd_ref);
  ASSERT_TRUE(vbd_rec.ok()) << vbd_rec.error().ToString();
  EXPECT_EQ(vbd_rec->userdevice, devices->front());
  EXPECT_TRUE(vbd_rec->bootable);

  VifSpec vif;
  vif.device = "1";
  vif.network = Ref("network", SimHarness::kNetwork);
  vif.vm = vm;
  vif.mac = "aa:00:00:00:00:99";
  auto vif_ref = api.VifCreate(vif);
  ASSERT_TRUE(vif_ref.ok()) << vif_ref.error().ToString();
  auto vif_rec = api.GetRecord<VifRecord>(*vif_ref);
  ASSERT_TRUE(vif_rec.ok()) << vif_rec.error().ToString();
  EXPECT_EQ(vif_rec->mtu, 1500);

  ASSERT_TRUE(api.AddToOtherConfig<VmRecord>(vm, "fruix-job", "1").ok());
  EXPECT_EQ(api.GetRecord<VmRecord>(vm)->other_config.at("fruix-job"), "1");
  ASSERT_TRUE(api.RemoveFromOtherConfig<VmRecord>(vm, "fruix-job").ok());
  ASSERT_TRUE(api.AddToOtherConfig<VdiRecord>(vbd.vdi, "fruix-image", "x").ok());

  ASSERT_TRUE(api.VbdDestroy(*vbd_ref).ok());
  ASSERT_TRUE(api.VifDestroy(*vif_ref).ok());
  auto gone = api.GetRecord<VbdRecord>(*vbd_ref);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().IsXapi("HANDLE_INVALID")) << gone.error().ToString();
}

// Given a wrong pin, Then the client refuses the simulator's certificate before logging in.
TEST_F(SimIntegrationTest, WrongPinIsRefused) {
  http::CurlHttpClientOptions options;
  options.tls.pin_sha256 = std::string(64, '0');
  auto http = http::CurlHttpClient::Create(options);
  ASSERT_TRUE(http.ok());
  SessionOptions o;
  o.url = sim_->HttpsUrl();
  o.username = SimHarness::kUsername;
  o.password = SimHarness::kPassword;
  Session session(**http, o);
  auto r = session.Login();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kTls) << r.error().ToString();
  EXPECT_EQ(Counter("sessions"), 0);
}

}  // namespace
}  // namespace fruix::xenapi
