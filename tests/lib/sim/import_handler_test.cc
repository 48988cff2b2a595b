// PUT /import_raw_vdi over real sockets (xenapi-spec.md §6).
#include "lib/sim/import_handler.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/sim/record_util.h"
#include "tests/support/sim_harness.h"

namespace fruix::sim {
namespace {

using testing::RawConnection;
using testing::SimHarness;
using xenapi::Struct;
using xenapi::Value;

std::string ReadFile(const std::filesystem::path& p, size_t n) {
  std::ifstream in(p, std::ios::binary);
  std::string out(n, '\0');
  in.read(out.data(), static_cast<std::streamsize>(n));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

// Bytes with a recognisable pattern (no long zero runs except where asked).
std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + (i * 7) % 251);
  return s;
}

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    session_ = *sim_->Login();
  }
  std::string NewTask() {
    auto t = sim_->CallOk("task.create", {Value(session_), Value("upload"), Value("")});
    EXPECT_TRUE(t.ok());
    return t.ok() ? t->string() : "";
  }
  std::string Put(const std::string& query, uint64_t length, const std::string& extra = "") {
    return "PUT /import_raw_vdi?" + query +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(length) + "\r\n" +
           extra + "\r\n";
  }
  std::filesystem::path BackingFile(const char* dir, const char* vdi_uuid) {
    return std::filesystem::path(sim_->state_dir()) / dir / (std::string(vdi_uuid) + ".img");
  }
  Struct Task(const std::string& task) {
    auto done = sim_->WaitForTask(session_, task);
    EXPECT_TRUE(done.ok()) << done.error().ToString();
    return done.ok() ? *done : Struct{};
  }
  std::unique_ptr<SimHarness> sim_;
  std::string session_;
};

// Given a raw import, When only the request head is sent, Then the 200 head with
// "task-id:<ref>" arrives before any body byte; after the body the task succeeds with the VDI
// ref and the backing file holds the bytes.
TEST_F(ImportTest, RawImportAnswersBeforeBodyAndWritesBackingFile) {
  std::string task = NewTask();
  std::string body = Pattern(3 * 1024 * 1024 + 5, 'a');
  auto c = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send(Put("session_id=" + session_ + "&task_id=" + task +
                              "&vdi=" + SimHarness::kVdi + "&format=RAW",
                          body.size()))
                  .ok());
  auto head = c->ReadHead();
  ASSERT_TRUE(head.ok()) << head.error().ToString();
  EXPECT_EQ(head->head,
            "HTTP/1.1 200 OK\r\nConnection: close\r\nCache-Control: no-cache, "
            "no-store\r\ntask-id:" +
                task + "\r\ncontent-type: application/octet-stream\r\n\r\n");
  ASSERT_TRUE(c->Send(body).ok());
  auto rest = c->ReadToEnd();  // the server closes when done
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(rest->empty());
  Struct t = Task(task);
  EXPECT_EQ(StrField(t, "status"), "success")
      << ::testing::PrintToString(StrSetField(t, "error_info"));
  EXPECT_EQ(StrField(t, "result"), "<value>" + sim_->RefOf("VDI", SimHarness::kVdi) + "</value>");
  EXPECT_EQ(FloatField(t, "progress"), 1.0);
  EXPECT_EQ(ReadFile(BackingFile("shared", SimHarness::kVdi), body.size() + 10),
            body + std::string(10, '\0'));
}

// Given no session, Then 401 with WWW-Authenticate, and the named task stays pending.
TEST_F(ImportTest, MissingSessionIs401AndTaskStaysPending) {
  std::string task = NewTask();
  auto r = testing::RawExchange("127.0.0.1", sim_->http_port(),
                                Put("task_id=" + task + "&vdi=" + SimHarness::kVdi, 0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->Header("WWW-Authenticate"), "Basic realm=\"VDI.import\"");
  auto status = sim_->CallOk("task.get_status", {Value(session_), Value(task)});
  EXPECT_EQ(*status, Value("pending"));
  auto bad = testing::RawExchange(
      "127.0.0.1", sim_->http_port(),
      Put("session_id=OpaqueRef:nope&vdi=" + std::string(SimHarness::kVdi), 0));
  EXPECT_EQ(bad->status, 401);
}

// Given HTTP chunked transfer encoding, Then 404 and the task fails INTERNAL_ERROR
// ["Cannot handle encoding: chunked"]; an unknown format likewise ["Unknown format x"].
TEST_F(ImportTest, ChunkedEncodingAndUnknownFormatAre404) {
  std::string task = NewTask();
  auto r = testing::RawExchange(
      "127.0.0.1", sim_->http_port(),
      "PUT /import_raw_vdi?session_id=" + session_ + "&task_id=" + task + "&vdi=" +
          SimHarness::kVdi + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->head.rfind("HTTP/1.0 404 Not Found\r\n", 0), 0u);
  EXPECT_EQ(StrSetField(Task(task), "error_info"),
            (std::vector<std::string>{"INTERNAL_ERROR", "Cannot handle encoding: chunked"}));
  std::string task2 = NewTask();
  auto r2 = testing::RawExchange("127.0.0.1", sim_->http_port(),
                                 Put("session_id=" + session_ + "&task_id=" + task2 +
                                         "&vdi=" + SimHarness::kVdi + "&format=qcow3",
                                     0));
  EXPECT_EQ(r2->status, 404);
  EXPECT_EQ(StrSetField(Task(task2), "error_info"),
            (std::vector<std::string>{"INTERNAL_ERROR", "Unknown format qcow3"}));
}

// Given a VDI on the member's local SR, When the import goes to the master, Then 302 to the
// member's address with the same port and query, before any body is read.
TEST_F(ImportTest, LocalSrRedirectsToOwningHost) {
  std::string query = "session_id=" + session_ + "&vdi=" + SimHarness::kLocalVdi + "&format=raw";
  auto r = testing::RawExchange("127.0.0.1", sim_->http_port(), Put(query, 1024));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->Header("Location"),
            "http://127.0.0.2:" + std::to_string(sim_->http_port()) + "/import_raw_vdi?" + query);
  // On the owning host the same request is served.
  std::string body = Pattern(1024, 'z');
  auto c = RawConnection::Connect("127.0.0.2", sim_->http_port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send(Put(query, body.size()) + body).ok());
  auto head = c->ReadHead();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->status, 200);
  ASSERT_TRUE(c->ReadToEnd().ok());
  EXPECT_EQ(ReadFile(BackingFile("local2", SimHarness::kLocalVdi), body.size()), body);
}

// Given a body shorter than Content-Length, Then the task fails VDI_IO_ERROR.
TEST_F(ImportTest, ShortBodyFailsWithVdiIoError) {
  std::string task = NewTask();
  auto c = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(
      c->Send(
           Put("session_id=" + session_ + "&task_id=" + task + "&vdi=" + SimHarness::kVdi, 4096) +
           std::string(100, 'x'))
          .ok());
  ASSERT_TRUE(c->ReadHead().ok());
  c->ShutdownWrite();
  EXPECT_EQ(StrSetField(Task(task), "error_info"),
            (std::vector<std::string>{"VDI_IO_ERROR", "Device I/O errors"}));
}

// Given a cut-after-N-bytes fault, Then the connection is closed and the task fails
// VDI_IO_ERROR.
TEST_F(ImportTest, CutFaultFailsTask) {
  ASSERT_TRUE(
      sim_->AdminPost("/faults", R"({"method":"import_raw_vdi","cut_after_bytes":1000})").ok());
  std::string task = NewTask();
  std::string body = Pattern(64 * 1024, 'c');
  auto c = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(
      c->Send(Put("session_id=" + session_ + "&task_id=" + task + "&vdi=" + SimHarness::kVdi,
                  body.size()))
          .ok());
  ASSERT_TRUE(c->ReadHead().ok());
  (void)c->Send(body);  // may fail half-way: the server hangs up
  EXPECT_EQ(StrSetField(Task(task), "error_info"),
            (std::vector<std::string>{"VDI_IO_ERROR", "Device I/O errors"}));
}

// Given an import holding a VDI, When a second import targets it, Then the second task fails
// VDI_IN_USE [] (SM's VDIInUse, raised by the dom0 attach after the 200 head) and its connection
// is reset with the body unread; the first completes normally.
TEST_F(ImportTest, ConcurrentImportIsVdiInUse) {
  std::string t1 = NewTask(), t2 = NewTask();
  auto c1 = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(
      c1->Send(Put("session_id=" + session_ + "&task_id=" + t1 + "&vdi=" + SimHarness::kVdi, 10))
          .ok());
  ASSERT_TRUE(c1->ReadHead().ok());
  // The first import now owns the VDI (it registers right after its 200 head).
  auto c2 = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(
      c2->Send(Put("session_id=" + session_ + "&task_id=" + t2 + "&vdi=" + SimHarness::kVdi, 10))
          .ok());
  ASSERT_TRUE(c2->ReadHead().ok());
  Struct second = Task(t2);
  EXPECT_EQ(StrSetField(second, "error_info"), (std::vector<std::string>{"VDI_IN_USE"}));
  char byte = 0;
  EXPECT_EQ(::recv(c2->fd(), &byte, 1, 0), -1);  // reset, not an orderly close
  EXPECT_EQ(errno, ECONNRESET);
  ASSERT_TRUE(c1->Send("0123456789").ok());
  EXPECT_EQ(StrField(Task(t1), "status"), "success");
}

// Given a dynamic VHD made by qemu-img, When imported with format=vhd, Then the backing file
// equals the raw source (only allocated sectors are written; the VDI started zeroed).
TEST_F(ImportTest, VhdImportMatchesRawSource) {
  if (std::system("qemu-img --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no qemu-img";
  std::filesystem::path dir = std::filesystem::path(sim_->state_dir()) / "vhdsrc";
  std::filesystem::create_directories(dir);
  std::string raw(4 * 1024 * 1024, '\0');
  std::string a = Pattern(100000, 'q'), b = Pattern(3000, 'r');
  raw.replace(0, a.size(), a);
  raw.replace(3 * 1024 * 1024 + 17, b.size(), b);
  {
    std::ofstream out(dir / "src.raw", std::ios::binary);
    out.write(raw.data(), static_cast<std::streamsize>(raw.size()));
  }
  std::string cmd = "qemu-img convert -f raw -O vpc -o subformat=dynamic,force_size=on '" +
                    (dir / "src.raw").string() + "' '" + (dir / "src.vhd").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string vhd = ReadFile(dir / "src.vhd", 64 * 1024 * 1024);
  std::string task = NewTask();
  auto c = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(c->Send(Put("session_id=" + session_ + "&task_id=" + task +
                              "&vdi=" + SimHarness::kVdi + "&format=vhd",
                          vhd.size()))
                  .ok());
  ASSERT_TRUE(c->ReadHead().ok());
  ASSERT_TRUE(c->Send(vhd).ok());
  Struct t = Task(task);
  EXPECT_EQ(StrField(t, "status"), "success")
      << ::testing::PrintToString(StrSetField(t, "error_info"));
  EXPECT_EQ(ReadFile(BackingFile("shared", SimHarness::kVdi), raw.size()), raw);
}

// Given an "error" fault on the import (xapi's dom0 attach raising), When an import starts, Then
// the 200 head comes first, the task fails with exactly that error, the connection is reset with
// the body unread, and the VDI is untouched.
TEST_F(ImportTest, ErrorFaultFailsTaskAfterHeadWithoutReadingBody) {
  ASSERT_TRUE(sim_->AdminPost("/faults",
                              R"({"method":"import_raw_vdi","error":["TOO_MANY_PENDING_TASKS"]})")
                  .ok());
  std::string task = NewTask();
  auto c = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c->Send(Put("session_id=" + session_ + "&task_id=" + task + "&vdi=" + SimHarness::kVdi, 4096))
          .ok());
  auto head = c->ReadHead();
  ASSERT_TRUE(head.ok()) << head.error().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(StrSetField(Task(task), "error_info"),
            (std::vector<std::string>{"TOO_MANY_PENDING_TASKS"}));
  char byte = 0;
  EXPECT_EQ(::recv(c->fd(), &byte, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(ReadFile(BackingFile("shared", SimHarness::kVdi), 4096), std::string(4096, '\0'));
}

// Given a task_pending_ms fault, When a whole body is sent, Then the task stays pending (also
// after task.cancel, which xapi's import ignores) until the delay has passed, then succeeds.
TEST_F(ImportTest, TaskPendingFaultDelaysVerdict) {
  ASSERT_TRUE(
      sim_->AdminPost("/faults", R"({"method":"import_raw_vdi","task_pending_ms":400})").ok());
  std::string task = NewTask();
  std::string body = Pattern(8192, 'p');
  auto c = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c->Send(Put("session_id=" + session_ + "&task_id=" + task + "&vdi=" + SimHarness::kVdi,
                  body.size()) +
              body)
          .ok());
  ASSERT_TRUE(c->ReadHead().ok());
  ASSERT_TRUE(sim_->CallOk("task.cancel", {Value(session_), Value(task)}).ok());
  auto early = sim_->WaitForTask(session_, task, std::chrono::milliseconds(150));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(StrField(Task(task), "status"), "success");
  EXPECT_EQ(ReadFile(BackingFile("shared", SimHarness::kVdi), body.size()), body);
}

// Given a device_error fault, When a whole body is sent, Then the server reads all of it, closes
// in order after its 200 head, and the task fails VDI_IO_ERROR ["Device I/O errors"].
TEST_F(ImportTest, DeviceErrorFaultFailsAfterCompleteBody) {
  ASSERT_TRUE(
      sim_->AdminPost("/faults", R"({"method":"import_raw_vdi","device_error":true})").ok());
  std::string task = NewTask();
  std::string body = Pattern(3 * 1024 * 1024, 'd');
  auto c = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c->Send(Put("session_id=" + session_ + "&task_id=" + task + "&vdi=" + SimHarness::kVdi,
                  body.size()))
          .ok());
  ASSERT_TRUE(c->ReadHead().ok());
  ASSERT_TRUE(c->Send(body).ok());
  char byte = 0;
  EXPECT_EQ(::recv(c->fd(), &byte, 1, 0), 0);  // orderly close
  EXPECT_EQ(StrSetField(Task(task), "error_info"),
            (std::vector<std::string>{"VDI_IO_ERROR", "Device I/O errors"}));
}

// Given a corrupt_block fault for block 1, When a 3 MiB raw body is imported, Then the task
// succeeds and the VDI holds the body except the first byte of block 1, inverted.
TEST_F(ImportTest, CorruptBlockFaultFlipsOneByte) {
  ASSERT_TRUE(sim_->AdminPost("/faults", R"({"method":"import_raw_vdi","corrupt_block":1})").ok());
  std::string task = NewTask();
  std::string body = Pattern(3 * 1024 * 1024, 'k');
  auto c = RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c->Send(Put("session_id=" + session_ + "&task_id=" + task + "&vdi=" + SimHarness::kVdi,
                  body.size()) +
              body)
          .ok());
  ASSERT_TRUE(c->ReadHead().ok());
  EXPECT_EQ(StrField(Task(task), "status"), "success");
  std::string expected = body;
  expected[2 * 1024 * 1024] = static_cast<char>(~expected[2 * 1024 * 1024]);
  EXPECT_EQ(ReadFile(BackingFile("shared", SimHarness::kVdi), body.size()), expected);
}

// Given the master's PBD of the shared SR unplugged (PBD.unplug), When an import goes to the
// master, Then 302 to the member, which still sees the SR; while an import runs through the
// member, unplugging the member's PBD is VDI_IN_USE [vdi].
TEST_F(ImportTest, UnpluggedPbdRedirectsAndRunningImportBlocksUnplug) {
  std::string master = sim_->RefOf("host", SimHarness::kMaster);
  std::string master_pbd, member_pbd;
  auto pbds = sim_->CallOk("SR.get_PBDs",
                           {Value(session_), Value(sim_->RefOf("SR", SimHarness::kSharedSr))});
  ASSERT_TRUE(pbds.ok());
  for (const Value& pbd : pbds->array()) {
    auto host = sim_->CallOk("PBD.get_host", {Value(session_), pbd});
    ASSERT_TRUE(host.ok());
    (host->string() == master ? master_pbd : member_pbd) = pbd.string();
  }
  ASSERT_TRUE(sim_->CallOk("PBD.unplug", {Value(session_), Value(master_pbd)}).ok());
  EXPECT_EQ(*sim_->CallOk("PBD.get_currently_attached", {Value(session_), Value(master_pbd)}),
            Value(false));
  std::string query = "session_id=" + session_ + "&vdi=" + SimHarness::kSpareVdi;
  auto r = testing::RawExchange("127.0.0.1", sim_->http_port(), Put(query, 0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->Header("Location"),
            "http://127.0.0.2:" + std::to_string(sim_->http_port()) + "/import_raw_vdi?" + query);

  auto c = RawConnection::Connect("127.0.0.2", sim_->http_port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send(Put(query, 10)).ok());
  ASSERT_TRUE(c->ReadHead().ok());  // the member's import now holds the VDI
  auto refused = sim_->CallOk("PBD.unplug", {Value(session_), Value(member_pbd)});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().xapi_description(),
            (std::vector<std::string>{"VDI_IN_USE", sim_->RefOf("VDI", SimHarness::kSpareVdi)}));
  ASSERT_TRUE(c->Send("0123456789").ok());
  ASSERT_TRUE(c->ReadToEnd().ok());
  ASSERT_TRUE(sim_->CallOk("PBD.plug", {Value(session_), Value(master_pbd)}).ok());
  EXPECT_EQ(*sim_->CallOk("PBD.get_currently_attached", {Value(session_), Value(master_pbd)}),
            Value(true));
}

}  // namespace
}  // namespace fruix::sim
