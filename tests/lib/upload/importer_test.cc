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
#include <iterator>
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

namespace fruix::upload {
namespace {

using namespace std::chrono_literals;
using testing::SimHarness;

constexpr uint64_t kMiB = 1024 * 1024;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
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

// Given a fault cutting the first import after 1 MiB, When imported, Then the import is retried
// and succeeds with the VDI equal to the image.
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
// VDI_IO_ERROR after 3 attempts, leaves no task and no recorded map.
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
  EXPECT_EQ(Vdi(SimHarness::kSpareVdi).other_config.count(std::string(kAllocMapKey)), 0u);
}

// Given an import whose progress callback requests a stop after the first bytes, When imported,
// Then the result is kCancelled, the task is gone and nothing is recorded.
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
  EXPECT_EQ(Vdi(SimHarness::kSpareVdi).other_config.count(std::string(kAllocMapKey)), 0u);
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

INSTANTIATE_TEST_SUITE_P(Transports, ImporterTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Https" : "Http";
                         });

}  // namespace
}  // namespace fruix::upload
