// XapiConsoleSource and ConsoleRecorder against the in-process simulator: the PV guest's vt100
// console over CONNECT (https with the simulator's pin), reconnect across a reboot, HVM guests
// without a text console.
#include "lib/console/xapi_console_source.h"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lib/console/console_recorder.h"
#include "lib/console/patterns.h"
#include "lib/http/curl_http_client.h"
#include "lib/xenapi/session.h"
#include "tests/lib/console/recorder_test_util.h"
#include "tests/support/sim_harness.h"

namespace fruix::console {
namespace {

using namespace std::chrono_literals;
using testing::Collector;
using testing::ReadFile;
using testing::SimHarness;
using testing::TempDir;
using xenapi::Value;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// Given console locations as xapi writes them, Then the CONNECT URL takes scheme and port from
// the session, host from the location (or the fallback), path+query from the location, and
// appends session_id.
TEST(XapiConsoleUrlTest, BuildsFromLocationAndSession) {
  OpaqueRef s("OpaqueRef:s1");
  EXPECT_EQ(*XapiConsoleSource::ConsoleUrl("https://10.0.0.5/console?uuid=c1",
                                           "https://10.0.0.1:8443/", "", s),
            "https://10.0.0.5:8443/console?uuid=c1&session_id=OpaqueRef:s1");
  EXPECT_EQ(
      *XapiConsoleSource::ConsoleUrl("https://10.0.0.5/console?uuid=c1", "https://pool/", "", s),
      "https://10.0.0.5/console?uuid=c1&session_id=OpaqueRef:s1");
  // A bare IPv6 host (as xapi writes host addresses) is bracketed.
  EXPECT_EQ(
      *XapiConsoleSource::ConsoleUrl("https://fd00::5/console?ref=r", "https://[fd00::1]/", "", s),
      "https://[fd00::5]/console?ref=r&session_id=OpaqueRef:s1");
  // No host in the location: the resident host's address.
  EXPECT_EQ(*XapiConsoleSource::ConsoleUrl("https:///console?uuid=c1", "http://127.0.0.1:80/",
                                           "127.0.0.2", s),
            "http://127.0.0.2:80/console?uuid=c1&session_id=OpaqueRef:s1");
  EXPECT_EQ(*XapiConsoleSource::ConsoleUrl("/console", "https://h:1/", "127.0.0.3", s),
            "https://127.0.0.3:1/console?session_id=OpaqueRef:s1");
  EXPECT_FALSE(XapiConsoleSource::ConsoleUrl("https://h", "https://p/", "", s).ok());
  EXPECT_FALSE(XapiConsoleSource::ConsoleUrl("/console", "https://p/", "", s).ok());
}

class XapiConsoleSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    http::CurlHttpClientOptions o;
    o.tls.pin_sha256 = sim_->tls_fingerprint();
    o.connect_timeout = 5s;
    o.timeout = 10s;
    auto client = http::CurlHttpClient::Create(std::move(o));
    ASSERT_TRUE(client.ok());
    http_ = std::move(client).value();
    xenapi::SessionOptions so;
    so.url = sim_->HttpsUrl();
    so.username = SimHarness::kUsername;
    so.password = SimHarness::kPassword;
    session_ = std::make_unique<xenapi::Session>(*http_, so);
    raw_session_ = *sim_->Login();
  }

  void Start(const char* vm_uuid, const char* host_uuid = nullptr) {
    std::string vm = sim_->RefOf("VM", vm_uuid);
    if (host_uuid == nullptr) {
      ASSERT_TRUE(
          sim_->CallOk("VM.start", {Value(raw_session_), Value(vm), Value(false), Value(false)})
              .ok());
    } else {
      std::string host = sim_->RefOf("host", host_uuid);
      ASSERT_TRUE(sim_->CallOk("VM.start_on", {Value(raw_session_), Value(vm), Value(host),
                                               Value(false), Value(false)})
                      .ok());
    }
  }

  std::unique_ptr<XapiConsoleSource> Source(const char* vm_uuid) {
    return std::make_unique<XapiConsoleSource>(*session_, *http_, Uuid(vm_uuid));
  }

  // A recorder on `vm_uuid` whose line callback also feeds a matcher with the FreeBSD defaults.
  std::unique_ptr<ConsoleRecorder> Record(const char* vm_uuid) {
    ConsoleRecorderOptions o;
    o.log_path = dir_.path() / "console.log";
    auto line_cb = collector_.LineCallback();
    o.on_line = [this, line_cb](const ConsoleLine& line, bool partial) {
      {
        std::lock_guard<std::mutex> lock(matches_mu_);
        for (auto& m : matcher_.Feed(line.text, partial)) matches_.push_back(std::move(m));
      }
      line_cb(line, partial);
    };
    o.on_state = collector_.StateCallback();
    auto r = ConsoleRecorder::Start(Source(vm_uuid), std::move(o));
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  std::unique_ptr<SimHarness> sim_;
  std::unique_ptr<http::CurlHttpClient> http_;
  std::unique_ptr<xenapi::Session> session_;
  std::string raw_session_;
  TempDir dir_;
  Collector collector_;
  std::mutex matches_mu_;
  PatternMatcher matcher_{DefaultPatterns(GuestOs::kFreeBsd)};
  std::vector<PatternMatch> matches_;  // guarded by matches_mu_
};

// Given the PV guest booting, When recorded through its xapi vt100 console, Then the log file
// holds exactly what the guest printed (every scripted line, in order), the last line reaches the
// callback, and the address pattern extracts 127.0.0.5.
TEST_F(XapiConsoleSourceTest, RecordsThePvGuestBoot) {
  Start(SimHarness::kPvVm);
  auto rec = Record(SimHarness::kPvVm);
  ASSERT_NE(rec, nullptr);
  ASSERT_TRUE(collector_.WaitForComplete(SimHarness::kPvFinalLine));
  auto transcript = sim_->AdminGet(std::string("/vms/") + SimHarness::kPvVm + "/console");
  ASSERT_TRUE(transcript.ok());
  EXPECT_EQ(ReadFile(rec->log_path()), *transcript);
  EXPECT_EQ(collector_.CompleteTexts().front(),
            "FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64");
  auto st = rec->Status();
  EXPECT_EQ(st.state, RecorderState::kConnected);
  EXPECT_EQ(st.source_kind, "xapi-vt100");
  EXPECT_EQ(st.bytes, transcript->size());
  std::lock_guard<std::mutex> lock(matches_mu_);
  std::vector<std::string> names;
  std::string address;
  for (const auto& m : matches_) {
    names.push_back(m.name);
    if (m.kind == PatternKind::kAddress) address = m.address;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"kernel-banner", "dhcp-ack", "dhcp-bound"}));
  EXPECT_EQ(address, "127.0.0.5");
}

// Given a recording PV guest, When the VM reboots (the console drops, a new console object
// appears), Then the recorder reconnects to the new console, the log keeps the first boot and
// grows with the second, and reconnects ≥ 1.
TEST_F(XapiConsoleSourceTest, ReconnectsAfterReboot) {
  Start(SimHarness::kPvVm);
  auto rec = Record(SimHarness::kPvVm);
  ASSERT_NE(rec, nullptr);
  ASSERT_TRUE(collector_.WaitForComplete(SimHarness::kPvFinalLine));
  std::string first_boot = ReadFile(rec->log_path());
  std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  ASSERT_TRUE(sim_->CallOk("VM.hard_reboot", {Value(raw_session_), Value(vm)}).ok());
  ASSERT_TRUE(collector_.WaitForComplete(SimHarness::kPvFinalLine, 10s, 2));
  std::string log = ReadFile(rec->log_path());
  EXPECT_TRUE(log.starts_with(first_boot));
  EXPECT_GT(log.size(), first_boot.size());
  EXPECT_EQ(Count(log, std::string(SimHarness::kPvFinalLine) + "\r\n"), 2u);
  auto st = rec->Status();
  EXPECT_GE(st.reconnects, 1u);
  EXPECT_EQ(st.bytes, log.size());
}

// Given an HVM guest (rfb console only), When recorded, Then the state is unavailable with the
// "no text console" error that points to dom0-ssh.
TEST_F(XapiConsoleSourceTest, HvmGuestHasNoTextConsole) {
  Start(SimHarness::kHvmVm);
  auto direct = Source(SimHarness::kHvmVm)->Open({});
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(direct.error().message(),
            std::string("VM ") + SimHarness::kHvmVm +
                " (hvm-guest) has no text console (HVM guests have none; use console source "
                "dom0-ssh)");
  auto rec = Record(SimHarness::kHvmVm);
  ASSERT_NE(rec, nullptr);
  ASSERT_TRUE(collector_.WaitForState(RecorderState::kUnavailable));
  auto st = rec->Status();
  ASSERT_TRUE(st.last_error.has_value());
  EXPECT_NE(st.last_error->message().find("has no text console"), std::string::npos);
  EXPECT_EQ(st.connects, 0u);
  rec->Stop();
}

// Given a halted VM or an unknown uuid, Then Open fails saying so.
TEST_F(XapiConsoleSourceTest, HaltedOrUnknownVm) {
  auto halted = Source(SimHarness::kPvVm)->Open({});
  ASSERT_FALSE(halted.ok());
  EXPECT_EQ(halted.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(halted.error().message().find("is Halted"), std::string::npos)
      << halted.error().message();
  auto unknown = Source("aaaaaaaa-0000-4000-8000-0000000000ff")->Open({});
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(unknown.error().IsXapi("UUID_INVALID")) << unknown.error().ToString();
}

// Given the PV guest started on the pool member (127.0.0.2) while the session talks to the master,
// Then the console is reached on the member's address (host from the location, port from the
// session).
TEST_F(XapiConsoleSourceTest, ConnectsToTheResidentHost) {
  Start(SimHarness::kPvVm, SimHarness::kMember);
  auto stream = Source(SimHarness::kPvVm)->Open({});
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  std::string got;
  char buf[512];
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (got.find(SimHarness::kPvFinalLine) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    auto n = (*stream)->Read(buf, 200ms);
    ASSERT_TRUE(n.ok()) << n.error().ToString();
    got.append(buf, *n);
  }
  // Success is the proof: the master answers 500 for a VM resident on another host.
  EXPECT_NE(got.find(SimHarness::kPvFinalLine), std::string::npos);
}

// Given a stop request before Open, Then Open returns kCancelled without a tunnel.
TEST_F(XapiConsoleSourceTest, OpenHonoursStop) {
  Start(SimHarness::kPvVm);
  std::stop_source stop;
  stop.request_stop();
  auto r = Source(SimHarness::kPvVm)->Open(stop.get_token());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled) << r.error().ToString();
}

}  // namespace
}  // namespace fruix::console
