// End-to-end tests of `fruixctl image ...`: the real binary run as a process, checking what a
// user sees (exit codes, text, JSON) and the files it leaves.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/lib/image/run_process.h"
#include "tests/lib/vhd/test_images.h"

namespace fruix::client {
namespace {

namespace vt = fruix::vhd::testing;
using image::testing::ProcessResult;
using image::testing::RunProcess;

constexpr uint64_t kMiB = 1024 * 1024;

ProcessResult Fruixctl(std::vector<std::string> args) {
  args.insert(args.begin(), FRUIXCTL_PATH);
  return RunProcess(args, 60);
}

class FruixctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vt::CreateSparse(raw_, 16 * kMiB);
    vt::WriteAt(raw_, 5 * kMiB, vt::RandomBytes(kMiB, 2));
  }
  vt::ScratchDir dir_;
  std::string raw_ = dir_.File("disk.raw");
};

// Given a sparse raw image, When `image check` runs, Then it exits 0 and prints the format, exact
// virtual size, allocation and "usable".
TEST_F(FruixctlTest, CheckUsableRaw) {
  const auto r = Fruixctl({"image", "check", raw_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("format:        raw"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("16777216 bytes (16 MiB)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("8 of 2 MiB: 1 with data"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("status:        usable"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

// Given the same image, When `image check --json --digest` runs (global flag after the
// subcommand), Then stdout is one JSON document with the documented fields.
TEST_F(FruixctlTest, CheckJson) {
  const auto r = Fruixctl({"image", "check", "--digest", raw_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "raw");
  EXPECT_EQ(j["virtual_size"], 16 * kMiB);
  EXPECT_EQ(j["allocated_blocks"], 1);
  EXPECT_EQ(j["allocation_map"], "am1;n=8;r=2");
  EXPECT_EQ(j["usable"], true);
  EXPECT_TRUE(j["problems"].empty());
  EXPECT_EQ(j["digest"].get<std::string>().rfind("sha256v1:", 0), 0u);
  EXPECT_EQ(j["stream_bytes"]["vhd"], 1536 + 512 + (512 + 2 * kMiB) + 512);
}

// Given a qcow2 file named .raw, When checked, Then exit 1, the format is named and the exact
// conversion command printed.
TEST_F(FruixctlTest, CheckRefusedFormat) {
  if (!vt::HaveQemuImg()) GTEST_SKIP() << "*** qemu-img NOT FOUND: SKIPPED, NOT PASSED ***";
  const std::string q = dir_.File("sneaky.raw");
  ASSERT_EQ(vt::RunQemuImg({"convert", "-O", "qcow2", raw_, q}), "");
  const auto r = Fruixctl({"image", "check", q});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("qcow2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("qemu-img convert -f qcow2 -O raw " + q), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UNUSABLE"), std::string::npos) << r.out;
}

// Given a VHD with a corrupted header checksum, When checked (text and JSON), Then exit 1 and the
// problem names the field and its offset.
TEST_F(FruixctlTest, CheckBrokenVhd) {
  const std::string vhd = dir_.File("disk.vhd");
  ASSERT_EQ(Fruixctl({"image", "convert", raw_, vhd}).exit_code, 0);
  auto bytes = vt::ReadFile(vhd);
  bytes[512 + 40] ^= 0x01;
  vt::WriteFile(vhd, bytes);
  const auto r = Fruixctl({"image", "check", vhd});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("header.checksum at offset 548"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(Fruixctl({"--json", "image", "check", vhd}).out);
  EXPECT_EQ(j["usable"], false);
  EXPECT_EQ(j["problems"][0]["field"], "header.checksum");
  EXPECT_EQ(j["problems"][0]["offset"], 548);
}

// Given a missing file and a directory, When checked, Then exit 1 with an error naming the path
// (stderr in text mode, an "error" object in JSON mode).
TEST_F(FruixctlTest, CheckMissingAndDirectory) {
  const auto missing = Fruixctl({"image", "check", dir_.File("nope.raw")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.raw"), std::string::npos);
  const auto dir = Fruixctl({"--json", "image", "check", dir_.path().string()});
  EXPECT_EQ(dir.exit_code, 1);
  const auto j = nlohmann::json::parse(dir.out);
  EXPECT_EQ(j["error"]["code"], "invalid_argument");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("directory"), std::string::npos);
}

// Given a raw image, When converted, Then exit 0, the file is a VHD qemu-img finds identical to
// the source, and a second convert to the same path fails (exit 1) unless --force.
TEST_F(FruixctlTest, Convert) {
  const std::string vhd = dir_.File("out.vhd");
  const auto r = Fruixctl({"image", "convert", raw_, vhd});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + vhd), std::string::npos) << r.out;
  EXPECT_EQ(vt::ReadFile(vhd).size(), 1536 + 512 + (512 + 2 * kMiB) + 512);
  if (vt::HaveQemuImg()) {
    EXPECT_EQ(vt::RunQemuImg({"compare", "-f", "raw", "-F", "vpc", raw_, vhd}), "");
  }
  const auto again = Fruixctl({"image", "convert", raw_, vhd});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos);
  const auto forced =
      Fruixctl({"--json", "image", "convert", "--force", "--format", "raw", raw_, vhd});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  const auto j = nlohmann::json::parse(forced.out);
  EXPECT_EQ(j["format"], "raw");
  EXPECT_EQ(j["bytes"], 16 * kMiB);
  EXPECT_TRUE(vt::FilesEqual(raw_, vhd));
}

// Given bad command lines, When run, Then exit 2 (usage); --help exits 0.
TEST_F(FruixctlTest, UsageErrors) {
  EXPECT_EQ(Fruixctl({}).exit_code, 2);
  EXPECT_EQ(Fruixctl({"image"}).exit_code, 2);
  EXPECT_EQ(Fruixctl({"image", "check"}).exit_code, 2);
  EXPECT_EQ(Fruixctl({"image", "check", raw_, "--bogus"}).exit_code, 2);
  EXPECT_EQ(Fruixctl({"image", "convert", raw_, "x.vhd", "--format", "qcow2"}).exit_code, 2);
  EXPECT_EQ(Fruixctl({"frobnicate"}).exit_code, 2);
  const auto help = Fruixctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("image"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists("x.vhd"));
}

}  // namespace
}  // namespace fruix::client
