// Tests for upload::Importer (lib/upload/importer.h) against the in-process simulator, over plain
// HTTP and over HTTPS with the simulator's certificate pinned.
#include "lib/upload/importer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <stop_token>
#include <string>
#include <vector>

#include "lib/http/curl_http_client.h"
#include "lib/xenapi/api.h"
#include "lib/xenapi/records.h"
#include "lib/xenapi/session.h"
#include "tests/support/sim_harness.h"
#include "tests/support/sim_raw_http.h"

namespace fruix::upload {
namespace {

using namespace std::chrono_literals;
using testing::SimHarness;

constexpr uint64_t kMiB = 1024 * 1024;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<uint8_t> bytes(in ? static_cast<size_t>(in.tellg()) : 0);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

// A sparse raw image of `size` bytes with random bytes (seeded by `seed`) in [offset, offset+len)
// for each extent.
void MakeRaw(const std::string& path, uint64_t size,
             const std::vector<std::pair<uint64_t, uint64_t>>& extents, uint32_t seed) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  std::mt19937 rng(seed);
  for (auto [offset, len] : extents) {
    std::vector<uint8_t> data(len);
    for (auto& b : data) b = static_cast<uint8_t>(rng() | 1);  // never zero
    ASSERT_EQ(::pwrite(fd, data.data(), len, static_cast<off_t>(offset)),
              static_cast<ssize_t>(len));
  }
  ::close(fd);
}

class ImporterTest : public ::testing::TestWithParam<bool /*https*/> {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    http::CurlHttpClientOptions options;
    if (GetParam()) options.tls.pin_sha256 = sim_->tls_fingerprint();
    options.connect_timeout = 5s;
    options.timeout = 30s;
    auto http = http::CurlHttpClient::Create(options);
    ASSERT_TRUE(http.ok()) << http.error().ToString();
    http_ = std::move(http).value();
    xenapi::SessionOptions o;
    o.url = GetParam() ? sim_->HttpsUrl() : sim_->HttpUrl();
    o.username = SimHarness::kUsername;
    o.password = SimHarness::kPassword;
    session_ = std::make_unique<xenapi::Session>(*http_, o);
    importer_ = std::make_unique<Importer>(*session_, *http_);
    dir_ = sim_->state_dir() + "/images";
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    importer_.reset();
    session_.reset();
    http_.reset();
    sim_.reset();
  }
  std::string Backing(const char* vdi, const char* sr_dir = "shared") {
    return sim_->state_dir() + "/" + sr_dir + "/" + vdi + ".img";
  }
  // The VDI's content: its backing file, padded with zeros to `size` (a sparse file may be short).
  std::vector<uint8_t> VdiBytes(const char* vdi, uint64_t size, const char* sr_dir = "shared") {
    auto bytes = ReadAll(Backing(vdi, sr_dir));
    bytes.resize(size, 0);
    return bytes;
  }
  std::vector<uint8_t> Padded(const std::string& path, uint64_t size) {
    auto bytes = ReadAll(path);
    bytes.resize(size, 0);
    return bytes;
  }
  xenapi::VdiRecord Vdi(const char* uuid) {
    xenapi::Api api(*session_);
    auto ref = api.GetByUuid<xenapi::VdiRecord>(uuid);
    EXPECT_TRUE(ref.ok());
    auto rec = api.GetRecord<xenapi::VdiRecord>(*ref);
    EXPECT_TRUE(rec.ok());
    return rec.ok() ? *rec : xenapi::VdiRecord{};
  }
  int64_t Counter(const std::string& name) {
    auto body = sim_->AdminGet("/counters");
    EXPECT_TRUE(body.ok());
    return body.ok() ? nlohmann::json::parse(*body).value(name, int64_t{-1}) : -1;
  }
  // Adds a fault rule through the admin endpoint.
  void Fault(const std::string& json) {
    auto r = sim_->AdminPost("/faults", json);
    ASSERT_TRUE(r.ok()) << json << ": " << r.error().ToString();
  }
  // The master's PBD of the shared SR.
  std::string MasterSharedPbd(const std::string& session) {
    auto pbds = sim_->CallOk(
        "SR.get_PBDs",
        {xenapi::Value(session), xenapi::Value(sim_->RefOf("SR", SimHarness::kSharedSr))});
    EXPECT_TRUE(pbds.ok());
    const std::string master = sim_->RefOf("host", SimHarness::kMaster);
    for (const xenapi::Value& pbd : pbds.ok() ? pbds->array() : xenapi::Array{}) {
      auto host = sim_->CallOk("PBD.get_host", {xenapi::Value(session), pbd});
      if (host.ok() && host->string() == master) return pbd.string();
    }
    ADD_FAILURE() << "no master PBD";
    return "";
  }
  ImportOptions Fast() {
    ImportOptions o;
    o.retry_backoff = 10ms;
    o.timeout = 60s;
    return o;
  }

  std::unique_ptr<SimHarness> sim_;
  std::unique_ptr<http::CurlHttpClient> http_;
  std::unique_ptr<xenapi::Session> session_;
  std::unique_ptr<Importer> importer_;
  std::string dir_;
};

// Given a sparse raw image with data in two blocks, When it is imported (VHD stream) into the
// spare VDI, Then the VDI's backing file equals the image, the task verdict was success, the map
// and digest are recorded, and no task is left behind.
TEST_P(ImporterTest, RoundTripRawToVhdIsByteIdentical) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{100, 5000}, {3 * kMiB - 7, 1 * kMiB}}, 1);
  uint64_t progress_calls = 0;
  ImportOptions o = Fast();
  o.progress = [&](const ImportProgress& p) {
    EXPECT_LE(p.bytes_sent, p.bytes_total);
    ++progress_calls;
  };
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->skipped);
  EXPECT_EQ(r->data_blocks, 2u);
  EXPECT_GT(r->bytes_sent, 4 * kMiB);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(r->host_address, "127.0.0.1");
  EXPECT_GT(progress_calls, 0u);
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(img, 4 * kMiB));
  auto vdi = Vdi(SimHarness::kSpareVdi);
  EXPECT_EQ(vdi.other_config[std::string(kDigestKey)], r->digest);
  EXPECT_FALSE(vdi.other_config[std::string(kAllocMapKey)].empty());
  EXPECT_EQ(Counter("pending_tasks"), 0);
}

// Given image A (two data blocks) imported, When the sparser image B (one block) is imported with
// zero_fill=previous, Then the VDI equals B (zeros where A had data) and the result counts one
// zero block; with zero_fill=none, A's bytes remain in B's hole, the result says kNone, and a
// later `previous` import of B still zeroes them (no skip).
TEST_P(ImporterTest, ZeroFillPreviousClearsOldBlocksNoneKeepsThem) {
  const std::string a = dir_ + "/a.raw", b = dir_ + "/b.raw";
  MakeRaw(a, 4 * kMiB, {{0, 4 * kMiB}}, 1);
  MakeRaw(b, 4 * kMiB, {{10, 1000}}, 2);
  ASSERT_TRUE(importer_->Import(SimHarness::kSpareVdi, a, Fast()).ok());

  ImportOptions none = Fast();
  none.zero_fill = image::ZeroFill::kNone;
  auto rn = importer_->Import(SimHarness::kSpareVdi, b, none);
  ASSERT_TRUE(rn.ok()) << rn.error().ToString();
  EXPECT_EQ(rn->zero_fill, image::ZeroFill::kNone);
  EXPECT_EQ(rn->zero_blocks, 0u);
  auto after_none = VdiBytes(SimHarness::kSpareVdi, 4 * kMiB);
  auto a_bytes = Padded(a, 4 * kMiB);
  EXPECT_NE(after_none, Padded(b, 4 * kMiB));
  EXPECT_TRUE(
      std::equal(after_none.begin() + 2 * kMiB, after_none.end(), a_bytes.begin() + 2 * kMiB));

  // B again with previous: the map kept A's second block, so it is zeroed now, not skipped.
  auto rb = importer_->Import(SimHarness::kSpareVdi, b, Fast());
  ASSERT_TRUE(rb.ok()) << rb.error().ToString();
  EXPECT_FALSE(rb->skipped);
  EXPECT_EQ(rb->zero_blocks, 1u);
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(b, 4 * kMiB));

  // Back to A, then B with previous.
  ASSERT_TRUE(importer_->Import(SimHarness::kSpareVdi, a, Fast()).ok());
  auto rp = importer_->Import(SimHarness::kSpareVdi, b, Fast());
  ASSERT_TRUE(rp.ok()) << rp.error().ToString();
  EXPECT_EQ(rp->zero_fill, image::ZeroFill::kPrevious);
  EXPECT_EQ(rp->data_blocks, 1u);
  EXPECT_EQ(rp->zero_blocks, 1u);
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(b, 4 * kMiB));
}

// Given an image imported once, When the same image is imported again, Then it is skipped and
// nothing is sent; with force it is sent again.
TEST_P(ImporterTest, IdenticalReimportSkippedUnlessForced) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 3 * kMiB}}, 3);
  auto first = importer_->Import(SimHarness::kSpareVdi, img, Fast());
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  auto again = importer_->Import(SimHarness::kSpareVdi, img, Fast());
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_TRUE(again->skipped);
  EXPECT_EQ(again->bytes_sent, 0u);
  EXPECT_EQ(again->attempts, 0);
  EXPECT_EQ(again->digest, first->digest);
  ImportOptions force = Fast();
  force.force = true;
  auto forced = importer_->Import(SimHarness::kSpareVdi, img, force);
  ASSERT_TRUE(forced.ok()) << forced.error().ToString();
  EXPECT_FALSE(forced->skipped);
  EXPECT_EQ(forced->bytes_sent, first->bytes_sent);
}

// Given an image larger than the VDI, When imported, Then it is refused naming both sizes and
// the VDI is untouched.
TEST_P(ImporterTest, OversizeImageRefusedWithBothNumbers) {
  const std::string img = dir_ + "/big.raw";
  MakeRaw(img, 6 * kMiB, {{0, 4096}}, 4);
  auto before = VdiBytes(SimHarness::kSpareVdi, 4 * kMiB);
  auto r = importer_->Import(SimHarness::kSpareVdi, img, Fast());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find(std::to_string(6 * kMiB)), std::string::npos);
  EXPECT_NE(r.error().message().find(std::to_string(4 * kMiB)), std::string::npos);
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), before);
  EXPECT_EQ(Counter("tasks"), 0);
}

// Given a read-only VDI and an unknown uuid, When imported into, Then each is refused with a
// clear error and no task is created.
TEST_P(ImporterTest, ReadOnlyAndMissingVdiRefused) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 1 * kMiB, {{0, 4096}}, 5);
  auto ro = importer_->Import(SimHarness::kReadOnlyVdi, img, Fast());
  ASSERT_FALSE(ro.ok());
  EXPECT_EQ(ro.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(ro.error().message().find("read-only"), std::string::npos);
  const char* missing = "bbbbbbbb-0000-4000-8000-000000000099";
  auto nf = importer_->Import(missing, img, Fast());
  ASSERT_FALSE(nf.ok());
  EXPECT_TRUE(nf.error().IsXapi("UUID_INVALID")) << nf.error().ToString();
  EXPECT_NE(nf.error().message().find(missing), std::string::npos);
  EXPECT_EQ(Counter("tasks"), 0);
}

// Given the PV guest running with the 8 MiB disk attached, When that disk is imported into,
// Then the import is refused naming the running VM, and no task is created.
TEST_P(ImporterTest, VdiAttachedToRunningVmRefused) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 1 * kMiB, {{0, 4096}}, 10);
  xenapi::Api api(*session_);
  auto vm = api.GetByUuid<xenapi::VmRecord>(SimHarness::kPvVm);
  ASSERT_TRUE(vm.ok()) << vm.error().ToString();
  ASSERT_TRUE(api.VmStart(*vm).ok());
  const int64_t tasks_before = Counter("tasks");
  auto r = importer_->Import(SimHarness::kVdi, img, Fast());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition) << r.error().ToString();
  EXPECT_NE(r.error().message().find(SimHarness::kPvVm), std::string::npos);
  EXPECT_EQ(Counter("tasks"), tasks_before);
}

// Given a fault cutting the first import after 1 MiB (a reset our side sees), When imported, Then
// the task's VDI_IO_ERROR is taken as the break's echo: the import is retried and succeeds with
// the VDI equal to the image.
TEST_P(ImporterTest, CutConnectionRetriedThenSucceeds) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 4 * kMiB}}, 6);
  ASSERT_TRUE(
      sim_->AdminPost("/faults", R"({"method":"import_raw_vdi","cut_after_bytes":1048576})").ok());
  auto r = importer_->Import(SimHarness::kSpareVdi, img, Fast());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(img, 4 * kMiB));
  EXPECT_EQ(Counter("pending_tasks"), 0);
  EXPECT_EQ(Counter("tasks"), 0);
}

// Given every import cut, When imported with 2 retries, Then it fails with the task's
// VDI_IO_ERROR after 3 attempts, leaves no task and no recorded digest.
TEST_P(ImporterTest, RetriesExhaustedFailWithVdiIoError) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 4 * kMiB}}, 7);
  ASSERT_TRUE(sim_->AdminPost("/faults",
                              R"({"method":"import_raw_vdi","repeat":true,"cut_after_bytes":1000})")
                  .ok());
  ImportOptions o = Fast();
  o.retries = 2;
  int max_attempt = 0;
  o.progress = [&](const ImportProgress& p) { max_attempt = std::max(max_attempt, p.attempt); };
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsXapi("VDI_IO_ERROR")) << r.error().ToString();
  EXPECT_EQ(max_attempt, 3);
  EXPECT_EQ(Counter("tasks"), 0);
  EXPECT_EQ(Vdi(SimHarness::kSpareVdi).other_config.count(std::string(kDigestKey)), 0u);
}

// Given an import whose progress callback requests a stop after the first bytes, When imported,
// Then the result is kCancelled, the task is gone and no digest is recorded.
TEST_P(ImporterTest, CancelMidUploadReportsCancelled) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 4 * kMiB}}, 8);
  std::stop_source stop;
  ImportOptions o = Fast();
  o.cancel = stop.get_token();
  o.progress = [&](const ImportProgress& p) {
    if (p.bytes_sent > 0) stop.request_stop();
  };
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled) << r.error().ToString();
  EXPECT_EQ(Counter("tasks"), 0);
  EXPECT_EQ(Vdi(SimHarness::kSpareVdi).other_config.count(std::string(kDigestKey)), 0u);
}

// Given a VDI on the member's local SR, When imported through the master's session, Then the
// body goes to the member (127.0.0.2) and lands in the local SR's backing file.
TEST_P(ImporterTest, LocalSrVdiGoesToItsHost) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 2 * kMiB, {{4096, 8192}}, 9);
  auto r = importer_->Import(SimHarness::kLocalVdi, img, Fast());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->host_address, "127.0.0.2");
  EXPECT_EQ(VdiBytes(SimHarness::kLocalVdi, 2 * kMiB, "local2"), Padded(img, 2 * kMiB));
}

// Given the import's task failing TOO_MANY_PENDING_TASKS, then VDI_IN_USE (xapi's dom0 attach
// raising them after the 200 head), When imported, Then each is retried after a backoff that is
// announced with its reason, and the third attempt succeeds with the VDI equal to the image.
TEST_P(ImporterTest, BusyTaskErrorsRetriedThenSucceed) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 4 * kMiB}}, 11);
  Fault(R"({"method":"import_raw_vdi","nth":1,"error":["TOO_MANY_PENDING_TASKS"]})");
  // Over https each retry is preceded by a body-less probe import (it counts as an import).
  Fault(R"({"method":"import_raw_vdi","nth":)" + std::string(GetParam() ? "3" : "2") +
        R"(,"error":["VDI_IN_USE"]})");
  std::vector<std::string> reasons;
  ImportOptions o = Fast();
  o.progress = [&](const ImportProgress& p) {
    if (!p.retrying_because.empty()) reasons.push_back(p.retrying_because);
  };
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->attempts, 3);
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[0].find("TOO_MANY_PENDING_TASKS"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("VDI_IN_USE"), std::string::npos) << reasons[1];
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(img, 4 * kMiB));
  EXPECT_EQ(Counter("tasks"), 0);
}

// Given the import's task failing TOO_MANY_PENDING_TASKS every time, When imported with 2
// retries, Then after 3 attempts the result is that xapi error with its parameters (none), no
// task is left and nothing is recorded.
TEST_P(ImporterTest, BusyTaskErrorsExhaustedReturnTheXapiError) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 4 * kMiB}}, 12);
  Fault(R"({"method":"import_raw_vdi","repeat":true,"error":["TOO_MANY_PENDING_TASKS"]})");
  ImportOptions o = Fast();
  o.retries = 2;
  int max_attempt = 0;
  o.progress = [&](const ImportProgress& p) { max_attempt = std::max(max_attempt, p.attempt); };
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().xapi_description(), (std::vector<std::string>{"TOO_MANY_PENDING_TASKS"}))
      << r.error().ToString();
  EXPECT_EQ(max_attempt, 3);
  EXPECT_EQ(Counter("tasks"), 0);
  EXPECT_EQ(Vdi(SimHarness::kSpareVdi).other_config.count(std::string(kDigestKey)), 0u);
}

// Given another client's import holding the VDI (its body not yet sent), When imported, Then the
// task fails VDI_IN_USE [] (SM's VDIInUse) and the import is retried; once the other import
// finished (sent from the retry notice), the retry succeeds. With the VDI held throughout, the
// retries run out and the result is VDI_IN_USE with xapi's (empty) parameters.
TEST_P(ImporterTest, VdiInUseByAnotherImportRetriedUntilFree) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 4 * kMiB}}, 13);
  auto session = sim_->Login();
  ASSERT_TRUE(session.ok());
  const std::string put = "PUT /import_raw_vdi?session_id=" + *session +
                          "&vdi=" + SimHarness::kSpareVdi +
                          "&format=raw HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n";
  auto other = testing::RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other->Send(put).ok());
  ASSERT_TRUE(other->ReadHead().ok());  // the other import now holds the VDI

  ImportOptions o = Fast();
  o.progress = [&](const ImportProgress& p) {
    if (p.retrying_because.empty() || !other->Send("0123456789").ok()) return;
    EXPECT_TRUE(other->ReadToEnd().ok());  // the other import is over
  };
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(img, 4 * kMiB));

  auto held = testing::RawConnection::Connect("127.0.0.1", sim_->http_port());
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(held->Send(put).ok());
  ASSERT_TRUE(held->ReadHead().ok());
  ImportOptions forced = Fast();
  forced.force = true;
  forced.retries = 1;
  auto busy = importer_->Import(SimHarness::kSpareVdi, img, forced);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().xapi_description(), (std::vector<std::string>{"VDI_IN_USE"}))
      << busy.error().ToString();
}

// Given a sparse raw image of 3 MiB + 1000 bytes with data only in its first block, When
// imported as raw&chunked and then as raw into the fresh spare VDI, Then each time the VDI holds
// the image (padded with zeros) byte for byte; chunked sends one frame (the data block), raw every
// byte of the image.
TEST_P(ImporterTest, RawAndChunkedRoundTripAreByteIdentical) {
  const std::string img = dir_ + "/a.raw";
  const uint64_t size = 3 * kMiB + 1000;
  MakeRaw(img, size, {{0, 4096}, {100000, 1000}}, 14);
  for (image::StreamFormat format : {image::StreamFormat::kRawChunked, image::StreamFormat::kRaw}) {
    SCOPED_TRACE(std::string(image::StreamFormatName(format)));
    ImportOptions o = Fast();
    o.format = format;
    o.force = true;
    auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->data_blocks, 1u);
    const uint64_t frame_header = 12;
    EXPECT_EQ(r->bytes_sent, format == image::StreamFormat::kRaw
                                 ? size
                                 : 2 * kMiB + 2 * frame_header);  // one frame + terminator
    EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(img, 4 * kMiB));
  }
}

// Given image A (4 MiB of data) imported, When the 2 MiB image B (4 KiB of data) is imported as
// raw: with zero_fill=previous the disk reaches over A's second block, so the VDI equals B padded
// with zeros; with none only B's 2 MiB are sent (zeros inside B all the same) and A's second
// block remains. Without a record on the VDI (written by another tool), previous cannot know
// about A's second block, while full sends the whole VDI and clears it (also as vhd).
TEST_P(ImporterTest, RawZeroFillPreviousNoneFull) {
  const std::string a = dir_ + "/a.raw", b = dir_ + "/b.raw";
  MakeRaw(a, 4 * kMiB, {{0, 4 * kMiB}}, 15);
  MakeRaw(b, 2 * kMiB, {{0, 4096}}, 16);
  const auto a_bytes = Padded(a, 4 * kMiB);
  const auto b_bytes = Padded(b, 4 * kMiB);
  auto keeps_a_tail = [&](const std::vector<uint8_t>& vdi) {
    return std::equal(vdi.begin() + 2 * kMiB, vdi.end(), a_bytes.begin() + 2 * kMiB);
  };
  ImportOptions raw = Fast();
  raw.format = image::StreamFormat::kRaw;

  ASSERT_TRUE(importer_->Import(SimHarness::kSpareVdi, a, Fast()).ok());
  auto previous = importer_->Import(SimHarness::kSpareVdi, b, raw);
  ASSERT_TRUE(previous.ok()) << previous.error().ToString();
  EXPECT_EQ(previous->bytes_sent, 4 * kMiB);
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), b_bytes);

  ASSERT_TRUE(importer_->Import(SimHarness::kSpareVdi, a, Fast()).ok());
  ImportOptions none = raw;
  none.zero_fill = image::ZeroFill::kNone;
  auto rn = importer_->Import(SimHarness::kSpareVdi, b, none);
  ASSERT_TRUE(rn.ok()) << rn.error().ToString();
  EXPECT_EQ(rn->bytes_sent, 2 * kMiB);
  auto after_none = VdiBytes(SimHarness::kSpareVdi, 4 * kMiB);
  EXPECT_TRUE(std::equal(after_none.begin(), after_none.begin() + 2 * kMiB, b_bytes.begin()));
  EXPECT_TRUE(keeps_a_tail(after_none));

  for (image::StreamFormat format : {image::StreamFormat::kRaw, image::StreamFormat::kVhd}) {
    SCOPED_TRACE(std::string(image::StreamFormatName(format)));
    ASSERT_TRUE(importer_->Import(SimHarness::kSpareVdi, a, Fast()).ok());
    xenapi::Api api(*session_);
    auto ref = api.GetByUuid<xenapi::VdiRecord>(SimHarness::kSpareVdi);
    ASSERT_TRUE(ref.ok());
    ASSERT_TRUE(api.RemoveFromOtherConfig<xenapi::VdiRecord>(*ref, kAllocMapKey).ok());
    ImportOptions unknown = raw;
    unknown.format = format;
    ASSERT_TRUE(importer_->Import(SimHarness::kSpareVdi, b, unknown).ok());
    EXPECT_TRUE(keeps_a_tail(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB)));
    ImportOptions full = unknown;
    full.zero_fill = image::ZeroFill::kFull;
    auto rf = importer_->Import(SimHarness::kSpareVdi, b, full);
    ASSERT_TRUE(rf.ok()) << rf.error().ToString();
    EXPECT_FALSE(rf->skipped);
    EXPECT_EQ(rf->data_blocks + rf->zero_blocks, 2u);
    EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), b_bytes);
  }
}

// Given the first attempt failing TOO_MANY_PENDING_TASKS and the master's PBD of the shared SR
// unplugged during the backoff, When the second attempt goes to the master, Then xapi's 302 is
// followed once to the member (http: the PUT's own 302, read before any body byte; https: the
// body-less probe's 302), the import succeeds there, and host_address says so.
TEST_P(ImporterTest, RedirectFollowedToTheHostThatSeesTheSr) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 3 * kMiB}}, 17);
  auto session = sim_->Login();
  ASSERT_TRUE(session.ok());
  const std::string pbd = MasterSharedPbd(*session);
  Fault(R"({"method":"import_raw_vdi","nth":1,"error":["TOO_MANY_PENDING_TASKS"]})");
  ImportOptions o = Fast();
  o.progress = [&](const ImportProgress& p) {
    if (p.retrying_because.empty()) return;
    EXPECT_TRUE(sim_->CallOk("PBD.unplug", {xenapi::Value(*session), xenapi::Value(pbd)}).ok());
  };
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->host_address, "127.0.0.2");
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(img, 4 * kMiB));
  EXPECT_EQ(Counter("tasks"), 0);
}

// Given the first import cut after 1 MiB and its task then kept pending for 20 s (xapi stuck),
// When imported with task_wait_after_break = 300 ms, Then the Importer gives up on that task
// after the bound, cancels it, retries at once and succeeds long before the stuck task ends.
TEST_P(ImporterTest, StuckTaskAfterBreakIsCancelledAndRetried) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 4 * kMiB}}, 18);
  Fault(R"({"method":"import_raw_vdi","nth":1,"cut_after_bytes":1048576})");
  Fault(R"({"method":"import_raw_vdi","nth":1,"task_pending_ms":20000})");
  std::vector<std::string> reasons;
  ImportOptions o = Fast();
  o.task_wait_after_break = 300ms;
  o.progress = [&](const ImportProgress& p) {
    if (!p.retrying_because.empty()) reasons.push_back(p.retrying_because);
  };
  const auto started = std::chrono::steady_clock::now();
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  EXPECT_EQ(r->attempts, 2);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("still pending"), std::string::npos) << reasons[0];
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(img, 4 * kMiB));
}

// Given every import cut and left pending, When imported with 1 retry, Then after 2 bounded
// waits the result is kUnavailable saying the task stayed pending, and nothing is recorded.
TEST_P(ImporterTest, StuckTasksExhaustRetriesWithUnavailable) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 4 * kMiB}}, 19);
  Fault(R"({"method":"import_raw_vdi","repeat":true,"cut_after_bytes":1048576})");
  Fault(R"({"method":"import_raw_vdi","repeat":true,"task_pending_ms":20000})");
  ImportOptions o = Fast();
  o.task_wait_after_break = 300ms;
  o.retries = 1;
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable) << r.error().ToString();
  EXPECT_NE(r.error().message().find("still pending"), std::string::npos);
  EXPECT_EQ(Vdi(SimHarness::kSpareVdi).other_config.count(std::string(kDigestKey)), 0u);
}

// Given a device error after the whole body was read (the task fails VDI_IO_ERROR after an
// orderly close), When imported with retries left, Then it fails at once with the task's
// error_info: no second attempt, no task left, nothing recorded.
TEST_P(ImporterTest, VdiIoErrorAfterCompleteBodyFailsAtOnce) {
  const std::string img = dir_ + "/a.raw";
  MakeRaw(img, 4 * kMiB, {{0, 4 * kMiB}}, 20);
  Fault(R"({"method":"import_raw_vdi","repeat":true,"device_error":true})");
  int max_attempt = 0;
  ImportOptions o = Fast();
  o.progress = [&](const ImportProgress& p) { max_attempt = std::max(max_attempt, p.attempt); };
  auto r = importer_->Import(SimHarness::kSpareVdi, img, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().xapi_description(),
            (std::vector<std::string>{"VDI_IO_ERROR", "Device I/O errors"}))
      << r.error().ToString();
  EXPECT_EQ(max_attempt, 1);
  EXPECT_EQ(Counter("tasks"), 0);
  EXPECT_EQ(Vdi(SimHarness::kSpareVdi).other_config.count(std::string(kDigestKey)), 0u);
}

// Given image A imported with zero_fill=full (every block of the VDI sent), When A is imported
// again with full, Then it is sent again (full never skips); When the smaller image B then follows
// with previous, Then only B's data block and A's other data block are sent (blocks full filled
// with zeros need no zeroing), and the VDI equals B.
TEST_P(ImporterTest, FullRecordsOnlyDataBlocks) {
  const std::string a = dir_ + "/a.raw", b = dir_ + "/b.raw";
  MakeRaw(a, 4 * kMiB, {{0, 4096}, {2 * kMiB, 4096}}, 21);
  MakeRaw(b, 2 * kMiB, {{0, 4096}}, 22);
  ImportOptions full = Fast();
  full.zero_fill = image::ZeroFill::kFull;
  ASSERT_TRUE(importer_->Import(SimHarness::kSpareVdi, a, full).ok());
  auto again = importer_->Import(SimHarness::kSpareVdi, a, full);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_FALSE(again->skipped);
  auto rb = importer_->Import(SimHarness::kSpareVdi, b, Fast());
  ASSERT_TRUE(rb.ok()) << rb.error().ToString();
  EXPECT_EQ(rb->data_blocks, 1u);
  EXPECT_EQ(rb->zero_blocks, 1u);
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(b, 4 * kMiB));
  auto skipped = importer_->Import(SimHarness::kSpareVdi, b, Fast());
  ASSERT_TRUE(skipped.ok()) << skipped.error().ToString();
  EXPECT_TRUE(skipped->skipped);
}

// Given image A (two data blocks) imported, When an import of the sparser image B fails after its
// whole body (device error), Then the VDI records no digest and a map still covering A's blocks,
// so the next import of B with zero_fill=previous zeroes A's second block and the VDI equals B.
TEST_P(ImporterTest, FailedImportLeavesAMapThatStillCoversThePreviousImage) {
  const std::string a = dir_ + "/a.raw", b = dir_ + "/b.raw";
  MakeRaw(a, 4 * kMiB, {{0, 4 * kMiB}}, 23);
  MakeRaw(b, 4 * kMiB, {{10, 1000}}, 24);
  ASSERT_TRUE(importer_->Import(SimHarness::kSpareVdi, a, Fast()).ok());
  Fault(R"({"method":"import_raw_vdi","nth":1,"device_error":true})");
  ASSERT_FALSE(importer_->Import(SimHarness::kSpareVdi, b, Fast()).ok());
  auto vdi = Vdi(SimHarness::kSpareVdi);
  EXPECT_EQ(vdi.other_config.count(std::string(kDigestKey)), 0u);
  EXPECT_EQ(vdi.other_config[std::string(kAllocMapKey)], "am1;n=2;r=0-1");
  auto r = importer_->Import(SimHarness::kSpareVdi, b, Fast());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->zero_blocks, 1u);
  EXPECT_EQ(VdiBytes(SimHarness::kSpareVdi, 4 * kMiB), Padded(b, 4 * kMiB));
}

INSTANTIATE_TEST_SUITE_P(Transports, ImporterTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Https" : "Http";
                         });

}  // namespace
}  // namespace fruix::upload
