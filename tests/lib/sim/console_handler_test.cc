// CONNECT /console over real sockets (xenapi-spec.md §7).
#include "lib/sim/console_handler.h"

#include <gtest/gtest.h>

#include <chrono>

#include "lib/sim/record_util.h"
#include "tests/support/sim_harness.h"

namespace fruix::sim {
namespace {

using testing::RawConnection;
using testing::SimHarness;
using xenapi::Struct;
using xenapi::Value;

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    session_ = *sim_->Login();
    vm_ = sim_->RefOf("VM", SimHarness::kPvVm);
  }
  void StartVm() {
    ASSERT_TRUE(
        sim_->CallOk("VM.start", {Value(session_), Value(vm_), Value(false), Value(false)}).ok());
  }
  std::string ConsoleUuid(const char* protocol) {
    auto consoles = sim_->CallOk("VM.get_consoles", {Value(session_), Value(vm_)});
    for (const auto& c : consoles->array()) {
      auto rec = sim_->CallOk("console.get_record", {Value(session_), c})->structure();
      if (StrField(rec, "protocol") == protocol) return StrField(rec, "uuid");
    }
    ADD_FAILURE() << "no " << protocol << " console";
    return "";
  }
  Result<RawConnection> Connect(const std::string& query, const std::string& address = "127.0.0.1",
                                const std::string& extra = "") {
    FRUIX_ASSIGN_OR_RETURN(RawConnection c, RawConnection::Connect(address, sim_->http_port()));
    FRUIX_RETURN_IF_ERROR(c.Send("CONNECT /console?" + query + " HTTP/1.0\r\nHost: " + address +
                                 "\r\n" + extra + "\r\n"));
    return c;
  }
  // Reads console bytes until `needle` shows up (bounded by the connection's timeouts).
  std::string ReadUntil(RawConnection& c, const std::string& needle) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      auto more = c.ReadAvailable(std::chrono::milliseconds(200));
      if (!more.ok()) break;
      got += *more;
    }
    return got;
  }
  std::unique_ptr<SimHarness> sim_;
  std::string session_, vm_;
};

// Given a running PV guest, When its vt100 console is CONNECTed (session as cookie), Then the
// 200 head is xapi's and the scripted boot transcript streams, ending with the DHCP lease line.
TEST_F(ConsoleTest, StreamsScriptedLines) {
  StartVm();
  auto c = Connect("uuid=" + ConsoleUuid("vt100"), "127.0.0.1",
                   "Cookie: session_id=" + session_ + "\r\n");
  ASSERT_TRUE(c.ok());
  auto head = c->ReadHead();
  ASSERT_TRUE(head.ok()) << head.error().ToString();
  EXPECT_EQ(
      head->head,
      "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nCache-Control: no-cache, no-store\r\n\r\n");
  std::string text = ReadUntil(*c, SimHarness::kPvFinalLine);
  EXPECT_NE(text.find("Starting file system checks:\r\n"), std::string::npos);
  EXPECT_NE(text.find(std::string(SimHarness::kPvFinalLine) + "\r\n"), std::string::npos);
}

// Given a VM uuid, Then its rfb console is selected (RFB banner); a second connection with
// limit_console_sessions set is 503.
TEST_F(ConsoleTest, VmUuidSelectsRfbAndLimitGives503) {
  StartVm();
  std::string pool = sim_->RefOf("pool", SimHarness::kPool);
  ASSERT_TRUE(
      sim_->CallOk("pool.set_limit_console_sessions", {Value(session_), Value(pool), Value(true)})
          .ok());
  auto first = Connect(std::string("uuid=") + SimHarness::kPvVm + "&session_id=" + session_);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->ReadHead()->status, 200);
  EXPECT_EQ(*first->ReadExactly(12), "RFB 003.008\n");
  auto second = Connect(std::string("uuid=") + SimHarness::kPvVm + "&session_id=" + session_);
  auto resp = second->ReadResponse();
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->head.rfind("HTTP/1.0 503 Connection Limit Exceeded\r\n", 0), 0u);
  EXPECT_NE(resp->body.find("Connection Limit Exceeded"), std::string::npos);
}

// Given bad requests, Then: no session 401, halted VM 500, wrong host 500.
TEST_F(ConsoleTest, RejectsBadRequests) {
  auto no_session = Connect(std::string("uuid=") + SimHarness::kPvVm);
  EXPECT_EQ(no_session->ReadResponse()->status, 401);
  auto halted = Connect(std::string("uuid=") + SimHarness::kPvVm + "&session_id=" + session_);
  auto r = halted->ReadResponse();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->head.rfind("HTTP/1.1 500 Internal Error\r\n", 0), 0u);
  StartVm();
  auto elsewhere = Connect("uuid=" + ConsoleUuid("vt100") + "&session_id=" + session_, "127.0.0.2");
  EXPECT_EQ(elsewhere->ReadResponse()->status, 500);
}

// Given a console connection, When the VM is shut down, Then the server closes the stream.
TEST_F(ConsoleTest, ClosesWhenVmHalts) {
  StartVm();
  auto c = Connect("uuid=" + ConsoleUuid("vt100") + "&session_id=" + session_);
  ASSERT_EQ(c->ReadHead()->status, 200);
  ReadUntil(*c, SimHarness::kPvFinalLine);
  ASSERT_TRUE(sim_->CallOk("VM.hard_shutdown", {Value(session_), Value(vm_)}).ok());
  auto rest = c->ReadToEnd();
  EXPECT_TRUE(rest.ok()) << "the stream should end (EOF), not time out";
}

}  // namespace
}  // namespace fruix::sim
