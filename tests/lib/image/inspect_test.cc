#include "lib/image/inspect.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lib/image/convert.h"
#include "lib/vhd/reader.h"
#include "lib/vhd/writer.h"
#include "tests/lib/vhd/test_images.h"

namespace fruix::image {
namespace {

namespace vt = fruix::vhd::testing;
constexpr uint64_t kMiB = 1024 * 1024;

class InspectConvertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vt::CreateSparse(raw_, 32 * kMiB + 1000);
    vt::WriteAt(raw_, 3 * kMiB, vt::RandomBytes(kMiB, 1));
    vt::WriteAt(raw_, 20 * kMiB, std::vector<uint8_t>(2 * kMiB, 0));  // real zeros, block 10
  }
  // Names of the files in the scratch directory.
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  vt::ScratchDir dir_;
  std::string raw_ = dir_.File("disk.raw");
};

// Given a sparse raw image, When inspected with the digest, Then the report gives its format,
// exact size, allocation, stream sizes and a note about the size not being a multiple of 512.
TEST_F(InspectConvertTest, RawReport) {
  InspectOptions o;
  o.digest = true;
  auto r = InspectImage(raw_, o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->format.format, SourceFormat::kRaw);
  EXPECT_TRUE(r->usable());
  EXPECT_TRUE(r->scanned);
  EXPECT_EQ(r->virtual_size, 32 * kMiB + 1000);
  EXPECT_EQ(r->block_count, 17u);
  EXPECT_EQ(r->allocated_blocks, 1u);
  EXPECT_EQ(r->allocated_bytes, 2 * kMiB);
  EXPECT_EQ(r->zero_blocks, 1u);
  EXPECT_EQ(r->hole_blocks, 15u);
  EXPECT_EQ(r->allocation_map, "am1;n=17;r=1");
  EXPECT_EQ(r->vhd_stream_bytes, vhd::DynamicVhdLength(32 * kMiB + 1024, 1));
  EXPECT_EQ(r->raw_stream_bytes, 32 * kMiB + 1000);
  ASSERT_TRUE(r->digest.has_value());
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_NE(r->notes[0].find("not a multiple of 512"), std::string::npos);
}

// Given a qcow2-looking file and a broken VHD, When inspected, Then both reports are unusable:
// the first with one "format" problem carrying the conversion command, the second listing its
// structural problems; neither is scanned.
TEST_F(InspectConvertTest, UnusableReports) {
  std::vector<uint8_t> qcow(4096, 0);
  qcow[0] = 'Q', qcow[1] = 'F', qcow[2] = 'I', qcow[3] = 0xfb, qcow[7] = 3;
  const std::string q = dir_.File("x.img");
  vt::WriteFile(q, qcow);
  auto rq = InspectImage(q, {});
  ASSERT_TRUE(rq.ok());
  EXPECT_FALSE(rq->usable());
  ASSERT_EQ(rq->problems.size(), 1u);
  EXPECT_EQ(rq->problems[0].field, "format");
  EXPECT_NE(rq->problems[0].message.find("qemu-img convert -f qcow2 -O raw"), std::string::npos);
  EXPECT_FALSE(rq->scanned);

  const std::string vhd = dir_.File("v.vhd");
  ASSERT_TRUE(ConvertImage(raw_, vhd, {}).ok());
  auto bytes = vt::ReadFile(vhd);
  bytes[512 + 36] ^= 1;          // header checksum
  bytes[bytes.size() - 1] ^= 1;  // trailing footer reserved byte: checksum, differs from copy
  vt::WriteFile(vhd, bytes);
  auto rv = InspectImage(vhd, {});
  ASSERT_TRUE(rv.ok());
  EXPECT_FALSE(rv->usable());
  EXPECT_FALSE(rv->scanned);
  EXPECT_EQ(rv->problems.size(), 3u);  // header.checksum, footer.checksum, footer_copy
}

// Given a raw image, When converted to VHD with the digest, Then the output's length is the
// stream's, it is a usable VHD of the exact (512-rounded) size, the digest equals inspect's, and
// no temporary file remains.
TEST_F(InspectConvertTest, ConvertWritesTheStream) {
  const std::string out = dir_.File("out.vhd");
  ConvertOptions o;
  o.digest = true;
  auto c = ConvertImage(raw_, out, o);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(vt::ReadFile(out).size(), c->bytes_written);
  EXPECT_EQ(c->bytes_written, vhd::DynamicVhdLength(32 * kMiB + 1024, 1));
  EXPECT_EQ(c->data_blocks, 1u);
  auto file = vhd::SourceFile::Open(out);
  auto parsed = vhd::ReadVhd(**file);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->usable());
  EXPECT_EQ(parsed->virtual_size(), 32 * kMiB + 1024);
  InspectOptions io;
  io.digest = true;
  EXPECT_EQ(InspectImage(raw_, io)->digest, c->digest);
  EXPECT_EQ(InspectImage(out, io)->digest, c->digest);  // same disk, other format
  EXPECT_EQ(Files(), (std::vector<std::string>{"disk.raw", "out.vhd"}));
}

// Given an existing output, When converting without force, Then kAlreadyExists and the output is
// untouched; with force it is replaced. Converting onto the input itself or onto a device node
// (here a FIFO) is refused even with force.
TEST_F(InspectConvertTest, OverwriteRules) {
  const std::string out = dir_.File("out.vhd");
  vt::WriteFile(out, {1, 2, 3});
  auto refused = ConvertImage(raw_, out, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(refused.error().message().find("--force"), std::string::npos);
  EXPECT_EQ(vt::ReadFile(out), (std::vector<uint8_t>{1, 2, 3}));

  ConvertOptions force;
  force.force = true;
  ASSERT_TRUE(ConvertImage(raw_, out, force).ok());
  EXPECT_GT(vt::ReadFile(out).size(), 3u);

  const std::string fifo = dir_.File("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto special = ConvertImage(raw_, fifo, force);
  ASSERT_FALSE(special.ok());
  EXPECT_NE(special.error().message().find("not a regular file"), std::string::npos);
  ::unlink(fifo.c_str());

  auto self = ConvertImage(raw_, raw_, force);
  ASSERT_FALSE(self.ok());
  EXPECT_NE(self.error().message().find("input image itself"), std::string::npos);
  EXPECT_EQ(Files(), (std::vector<std::string>{"disk.raw", "out.vhd"}));
}

// Given an unusable input or an output directory that does not exist, When converting, Then it
// fails and leaves no file behind.
TEST_F(InspectConvertTest, FailuresLeaveNothing) {
  const std::string empty = dir_.File("empty.raw");
  vt::WriteFile(empty, {});
  EXPECT_FALSE(ConvertImage(empty, dir_.File("o1.vhd"), {}).ok());
  auto no_dir = ConvertImage(raw_, dir_.File("no/such/dir/o2.vhd"), {});
  ASSERT_FALSE(no_dir.ok());
  EXPECT_EQ(no_dir.error().code(), ErrorCode::kIo);
  EXPECT_EQ(Files(), (std::vector<std::string>{"disk.raw", "empty.raw"}));
}

// Given a VHD produced by convert, When converted again (VHD -> VHD and VHD -> raw), Then the raw
// output equals the source padded to 512 and the second VHD has the same allocation.
TEST_F(InspectConvertTest, ConvertChains) {
  const std::string v1 = dir_.File("1.vhd"), v2 = dir_.File("2.vhd"), r = dir_.File("back.raw");
  ASSERT_TRUE(ConvertImage(raw_, v1, {}).ok());
  auto c2 = ConvertImage(v1, v2, {});
  ASSERT_TRUE(c2.ok()) << c2.error().message();
  EXPECT_EQ(c2->allocation_map, "am1;n=17;r=1");
  ConvertOptions as_raw;
  as_raw.format = StreamFormat::kRaw;
  ASSERT_TRUE(ConvertImage(v2, r, as_raw).ok());
  auto expected = vt::ReadFile(raw_);
  expected.resize(32 * kMiB + 1024, 0);
  EXPECT_EQ(vt::ReadFile(r), expected);
}

}  // namespace
}  // namespace fruix::image
