#include "lib/image/image_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "lib/vhd/format.h"
#include "lib/vhd/reader.h"
#include "lib/vhd/writer.h"
#include "tests/lib/image/plan_test_util.h"
#include "tests/lib/image/run_process.h"
#include "tests/lib/vhd/test_images.h"

namespace fruix::image {
namespace {

namespace vt = fruix::vhd::testing;
using testing::Body;
using testing::ImportPlan;
using testing::RunProcess;
using testing::WritePlanToFile;

constexpr uint64_t kMiB = 1024 * 1024;

#define REQUIRE_QEMU_IMG()                                                                  \
  do {                                                                                      \
    if (!vt::HaveQemuImg()) {                                                               \
      GTEST_SKIP() << "\n*** qemu-img NOT FOUND: this test needs it (Debian: qemu-utils). " \
                      "SKIPPED, NOT PASSED. ***\n";                                         \
    }                                                                                       \
  } while (0)

ImageSource OpenSource(const std::string& path) {
  auto s = ImageSource::Open(path);
  EXPECT_TRUE(s.ok()) << s.error().message();
  return std::move(s).value();
}

PlannedStream Plan(const ImageSource& source, PlanOptions options = {}) {
  auto p = PlanImageStream(source, options);
  EXPECT_TRUE(p.ok()) << p.error().message();
  return std::move(p).value();
}

// "virtual size: 64 MiB (67108864 bytes)" -> 67108864, from `qemu-img info`.
uint64_t QemuVirtualSize(const std::string& path) {
  const auto r = RunProcess({"qemu-img", "info", "--output=json", path});
  const auto at = r.out.find("\"virtual-size\": ");
  if (r.exit_code != 0 || at == std::string::npos) return 0;
  return std::stoull(r.out.substr(at + 16));
}

// "Media size : 64 MiB (67108864 bytes)" -> 67108864, from `vhdiinfo`.
uint64_t VhdiMediaSize(const std::string& path) {
  const auto r = RunProcess({"vhdiinfo", path});
  const auto at = r.out.find("Media size");
  if (r.exit_code != 0 || at == std::string::npos) return 0;
  const auto open = r.out.find('(', at);
  return open == std::string::npos ? 0 : std::stoull(r.out.substr(open + 1));
}

class ImageStreamTest : public ::testing::Test {
 protected:
  // A raw image: `size` bytes, sparse, with random 1 MiB extents at the given MiB offsets and real
  // zeros written over [zeros_at, zeros_at + 4 MiB) if zeros_at > 0.
  std::string MakeRaw(const std::string& name, uint64_t size, std::vector<uint64_t> extents_mib,
                      uint64_t zeros_at = 0) {
    const std::string path = dir_.File(name);
    vt::CreateSparse(path, size);
    uint32_t seed = 10;
    for (uint64_t m : extents_mib) {
      vt::WriteAt(path, m * kMiB, vt::RandomBytes(std::min(kMiB, size - m * kMiB), seed++));
    }
    if (zeros_at > 0) vt::WriteAt(path, zeros_at, std::vector<uint8_t>(4 * kMiB, 0));
    return path;
  }

  // Imports `stream` the way xapi would into `vdi` (created with `vdi_size` bytes if missing).
  void Import(const ImageStream& stream, const std::string& vdi, uint64_t vdi_size) {
    const Body body = stream.format == StreamFormat::kVhd   ? Body::kVhd
                      : stream.format == StreamFormat::kRaw ? Body::kRaw
                                                            : Body::kChunked;
    ASSERT_EQ(ImportPlan(stream.plan, body, vdi, vdi_size), "");
  }

  vt::ScratchDir dir_;
};

// Given a sparse raw image with data, real zeros and holes, When streamed as a dynamic VHD and
// imported by the xapi model into a fresh VDI, Then the VDI equals the image, only the non-zero
// blocks travel, and the plan's length is the documented one.
TEST_F(ImageStreamTest, RawToVhdRoundTrip) {
  const std::string raw = MakeRaw("a.raw", 64 * kMiB, {0, 9, 10, 33, 63}, 40 * kMiB);
  const ImageSource source = OpenSource(raw);
  const PlannedStream p = Plan(source);
  EXPECT_EQ(p.scan.map.Blocks(), (std::vector<uint64_t>{0, 4, 5, 16, 31}));
  EXPECT_EQ(p.stream.data_blocks, p.scan.map);
  EXPECT_TRUE(p.stream.zero_blocks.Empty());
  EXPECT_EQ(p.stream.plan.size(), vhd::DynamicVhdLength(64 * kMiB, 5));
  const std::string vdi = dir_.File("vdi");
  Import(p.stream, vdi, 64 * kMiB);
  EXPECT_TRUE(vt::FilesEqual(raw, vdi));
}

// Given raw images of sizes that are not multiples of 2 MiB or of CHS geometry, When converted to
// VHD files, Then qemu-img compare finds them identical to the source, and qemu-img info and
// vhdiinfo both report exactly the source's size; the xapi model imports them into VDIs of that
// exact size (the last block's bitmap stops at the end of the disk).
TEST_F(ImageStreamTest, VhdFilesReadByQemuAndLibvhdi) {
  REQUIRE_QEMU_IMG();
  for (uint64_t size : std::vector<uint64_t>{64 * kMiB, 63 * kMiB + 512 * 5, 2 * kMiB + 512, 512}) {
    SCOPED_TRACE(size);
    const std::string raw = MakeRaw("s" + std::to_string(size) + ".raw", size, {0});
    vt::WriteAt(raw, size - 1, {0x5A});
    const PlannedStream p = Plan(OpenSource(raw));
    const std::string vhd = raw + ".vhd";
    ASSERT_EQ(WritePlanToFile(p.stream.plan, vhd), "");
    EXPECT_EQ(vt::ReadFile(vhd).size(), p.stream.plan.size());
    EXPECT_EQ(vt::RunQemuImg({"compare", "-f", "raw", "-F", "vpc", raw, vhd}), "");
    EXPECT_EQ(QemuVirtualSize(vhd), size);
    EXPECT_EQ(VhdiMediaSize(vhd), size);
    const std::string vdi = raw + ".vdi";
    Import(p.stream, vdi, size);
    EXPECT_TRUE(vt::FilesEqual(raw, vdi));
  }
}

// Given a raw image whose size is not a multiple of 512, When streamed as VHD, Then the disk is
// rounded up to 512 (documented), qemu reads the data back followed by zeros, and the xapi model
// imports it into a VDI of the rounded size; as raw, the Content-Length is the exact size.
TEST_F(ImageStreamTest, SizeNotMultipleOf512IsPadded) {
  REQUIRE_QEMU_IMG();
  const uint64_t size = 3 * kMiB + 1000;
  const std::string raw = dir_.File("odd.raw");
  const auto data = vt::RandomBytes(size, 3);
  vt::WriteFile(raw, data);
  const ImageSource source = OpenSource(raw);
  EXPECT_EQ(source.virtual_size(), size);
  const PlannedStream p = Plan(source);
  EXPECT_EQ(p.stream.disk_size, 3 * kMiB + 1024);
  const std::string vhd = dir_.File("odd.vhd"), back = dir_.File("back.raw");
  ASSERT_EQ(WritePlanToFile(p.stream.plan, vhd), "");
  EXPECT_EQ(QemuVirtualSize(vhd), 3 * kMiB + 1024);
  ASSERT_EQ(vt::RunQemuImg({"convert", "-f", "vpc", "-O", "raw", vhd, back}), "");
  auto expected = data;
  expected.resize(3 * kMiB + 1024, 0);
  EXPECT_EQ(vt::ReadFile(back), expected);
  const std::string vdi = dir_.File("vdi");
  Import(p.stream, vdi, 3 * kMiB + 1024);
  EXPECT_EQ(vt::ReadFile(vdi), expected);

  PlanOptions raw_options;
  raw_options.format = StreamFormat::kRaw;
  EXPECT_EQ(Plan(source, raw_options).stream.plan.size(), size);
}

// Given a VDI holding an older image (all 0xAA), When a sparse image is imported with zero_fill
// previous (blocks 1 and 20 were the previous image's), none, and full, Then: previous zeroes
// exactly those blocks (other holes keep 0xAA), none leaves every hole as it was, full makes the
// VDI equal to the image.
TEST_F(ImageStreamTest, ZeroFillOverOldData) {
  const uint64_t size = 48 * kMiB;
  const std::string raw = MakeRaw("b.raw", size, {6, 30});  // blocks 3 and 15
  const ImageSource source = OpenSource(raw);
  const auto image = vt::ReadFile(raw);
  AllocationMap previous(BlocksForSize(size));
  previous.Set(1);
  previous.Set(3);
  previous.Set(20);

  for (ZeroFill mode : {ZeroFill::kPrevious, ZeroFill::kNone, ZeroFill::kFull}) {
    SCOPED_TRACE(std::string(ZeroFillName(mode)));
    PlanOptions o;
    o.zero_fill = mode;
    o.previous = previous;
    const PlannedStream p = Plan(source, o);
    const std::string vdi = dir_.File("vdi-" + std::string(ZeroFillName(mode)));
    vt::WriteFile(vdi, std::vector<uint8_t>(size, 0xAA));
    Import(p.stream, vdi, size);
    const auto after = vt::ReadFile(vdi);
    for (uint64_t b = 0; b < BlocksForSize(size); ++b) {
      const bool data = b == 3 || b == 15;
      const bool zeroed =
          data || mode == ZeroFill::kFull || (mode == ZeroFill::kPrevious && (b == 1 || b == 20));
      const auto begin = after.begin() + static_cast<long>(b * kBlockSize);
      const auto expect_begin = image.begin() + static_cast<long>(b * kBlockSize);
      if (zeroed) {
        EXPECT_TRUE(std::equal(begin, begin + kBlockSize, expect_begin)) << "block " << b;
      } else {
        EXPECT_TRUE(std::all_of(begin, begin + kBlockSize, [](uint8_t x) { return x == 0xAA; }))
            << "block " << b;
      }
    }
    if (mode == ZeroFill::kPrevious) {
      EXPECT_EQ(p.stream.zero_blocks.Blocks(), (std::vector<uint64_t>{1, 20}));
    }
    if (mode == ZeroFill::kFull) {
      EXPECT_EQ(p.stream.WrittenBlocks().Count(), 24u);
    }
  }
}

// Given a VDI larger than the image, When zero filling asks for blocks past the image's end with
// disk_size = the VDI's size, Then those blocks are zeroed too and the image's content is intact.
TEST_F(ImageStreamTest, DiskSizeReachesPastImage) {
  const std::string raw = MakeRaw("c.raw", 8 * kMiB, {1});
  const ImageSource source = OpenSource(raw);
  PlanOptions o;
  o.zero_fill = ZeroFill::kPrevious;
  o.previous = AllocationMap::Full(8);  // the previous image was 16 MiB
  o.disk_size = 16 * kMiB;
  const PlannedStream p = Plan(source, o);
  EXPECT_EQ(p.stream.disk_size, 16 * kMiB);
  EXPECT_EQ(p.stream.zero_blocks.Count(), 7u);
  const std::string vdi = dir_.File("vdi");
  vt::WriteFile(vdi, std::vector<uint8_t>(16 * kMiB, 0xAA));
  Import(p.stream, vdi, 16 * kMiB);
  auto expected = vt::ReadFile(raw);
  expected.resize(16 * kMiB, 0);
  EXPECT_EQ(vt::ReadFile(vdi), expected);

  o.disk_size = 4 * kMiB;
  auto small = PlanImageStream(source, o);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message().find("smaller than"), std::string::npos);
}

// Given raw and raw-chunked formats, When imported by the matching xapi model into a VDI full of
// 0xAA, Then raw rewrites every byte and chunked only the data blocks (plus zero-fill blocks).
TEST_F(ImageStreamTest, RawAndChunked) {
  const uint64_t size = 20 * kMiB + 4096;
  const std::string raw = MakeRaw("d.raw", size, {2, 3, 20});
  vt::WriteAt(raw, size - 100, vt::RandomBytes(100, 9));
  const ImageSource source = OpenSource(raw);
  const auto image = vt::ReadFile(raw);

  PlanOptions o;
  o.format = StreamFormat::kRaw;
  const PlannedStream r = Plan(source, o);
  EXPECT_EQ(r.stream.plan.size(), size);
  const std::string vdi_raw = dir_.File("vdi-raw");
  vt::WriteFile(vdi_raw, std::vector<uint8_t>(size, 0xAA));
  Import(r.stream, vdi_raw, size);
  EXPECT_EQ(vt::ReadFile(vdi_raw), image);

  o.format = StreamFormat::kRawChunked;
  o.zero_fill = ZeroFill::kPrevious;
  AllocationMap previous(11);
  previous.Set(7);
  o.previous = previous;
  const PlannedStream c = Plan(source, o);
  EXPECT_EQ(c.stream.data_blocks.Blocks(), (std::vector<uint64_t>{1, 10}));
  // Frames: blocks 1 and 7 whole, block 10 (the 4 KiB tail), then the terminator.
  EXPECT_EQ(c.stream.plan.size(), 3 * 12 + 2 * kBlockSize + 4096 + 12);
  const std::string vdi = dir_.File("vdi-chunked");
  vt::WriteFile(vdi, std::vector<uint8_t>(size, 0xAA));
  Import(c.stream, vdi, size);
  const auto after = vt::ReadFile(vdi);
  for (uint64_t b = 0; b < 11; ++b) {
    const uint64_t len = std::min(kBlockSize, size - b * kBlockSize);
    const auto at = after.begin() + static_cast<long>(b * kBlockSize);
    if (b == 1 || b == 10 || b == 7) {
      EXPECT_TRUE(std::equal(at, at + static_cast<long>(len),
                             image.begin() + static_cast<long>(b * kBlockSize)))
          << b;
    } else {
      EXPECT_TRUE(std::all_of(at, at + static_cast<long>(len), [](uint8_t x) { return x == 0xAA; }))
          << b;
    }
  }
}

// Given a qemu-made dynamic VHD, When re-streamed and imported, Then the VDI equals qemu's own raw
// conversion of it, and the digest equals the raw source's.
TEST_F(ImageStreamTest, DynamicVhdRestreamed) {
  REQUIRE_QEMU_IMG();
  const std::string raw = MakeRaw("e.raw", 30 * kMiB, {0, 7, 29});
  const std::string vhd = dir_.File("e.vhd");
  ASSERT_EQ(vt::RunQemuImg({"convert", "-O", "vpc", "-o", "subformat=dynamic", raw, vhd}), "");
  const ImageSource source = OpenSource(vhd);
  ASSERT_EQ(source.format().format, SourceFormat::kVhdDynamic);
  PlanOptions o;
  o.digest = true;
  const PlannedStream p = Plan(source, o);
  const std::string vdi = dir_.File("vdi");
  Import(p.stream, vdi, source.virtual_size());
  auto expected = vt::ReadFile(raw);
  expected.resize(source.virtual_size(), 0);  // qemu rounds the size up for CHS
  EXPECT_EQ(vt::ReadFile(vdi), expected);

  const PlannedStream from_raw = Plan(OpenSource(raw), o);
  // Different virtual sizes (qemu's CHS rounding) make different disks: compare with a raw file of
  // qemu's size instead.
  const std::string padded = dir_.File("padded.raw");
  vt::WriteFile(padded, expected);
  EXPECT_EQ(Plan(OpenSource(padded), o).scan.digest, p.scan.digest);
  EXPECT_NE(from_raw.scan.digest, p.scan.digest);
}

// Given a hand-made dynamic VHD whose blocks are stored in reverse virtual order and whose block 1
// has a partial bitmap, When re-streamed: without zero fill the bitmap is kept (absent sectors
// keep the VDI's old bytes); with zero fill the absent sectors become zeros. The output's blocks
// are consecutive and in increasing virtual order.
TEST_F(ImageStreamTest, VhdPartialBitmapAndOrder) {
  const uint64_t size = 6 * kMiB;
  const std::string path = dir_.File("hand.vhd");
  {
    vhd::StreamPlan plan;
    auto emit = [](uint32_t index, vhd::StreamPlan& p) -> Result<void> {
      std::array<uint8_t, 512> bm;
      bm.fill(0xFF);
      if (index == 1) bm.fill(0), bm[0] = 0xF0;  // sectors 0-3 present
      p.AddBytes(bm);
      p.AddBytes(std::vector<uint8_t>(kBlockSize, static_cast<uint8_t>(0x10 + index)));
      return Ok();
    };
    ASSERT_TRUE(vhd::AppendDynamicVhd({size, vhd::RandomUniqueId(), 1},
                                      std::vector<uint32_t>{0, 1, 2}, emit, plan)
                    .ok());
    std::vector<uint8_t> bytes(plan.size());
    vhd::PlanReader reader(plan);
    ASSERT_TRUE(reader.Read(bytes).ok());
    // Swap the BAT entries of blocks 0 and 2: block 2's data now comes first in the file.
    for (int i = 0; i < 4; ++i) std::swap(bytes[1536 + i], bytes[1536 + 8 + i]);
    std::swap_ranges(bytes.begin() + 2048 + 512, bytes.begin() + 2048 + 512 + kBlockSize,
                     bytes.begin() + 2048 + 2 * (512 + kBlockSize) + 512);
    vt::WriteFile(path, bytes);
  }
  const ImageSource source = OpenSource(path);
  ASSERT_EQ(source.vhd()->blocks.front().index, 2u);

  for (bool fill : {false, true}) {
    SCOPED_TRACE(fill);
    PlanOptions o;
    o.zero_fill = fill ? ZeroFill::kFull : ZeroFill::kNone;
    const PlannedStream p = Plan(source, o);
    const std::string out = dir_.File(fill ? "full.vhd" : "none.vhd");
    ASSERT_EQ(WritePlanToFile(p.stream.plan, out), "");
    auto out_file = vhd::SourceFile::Open(out);
    auto parsed = vhd::ReadVhd(**out_file);
    ASSERT_TRUE(parsed.ok() && parsed->usable());
    for (size_t k = 1; k < parsed->blocks.size(); ++k) {
      EXPECT_LT(parsed->blocks[k - 1].index, parsed->blocks[k].index);
    }
    const std::string vdi = dir_.File(fill ? "vdi-full" : "vdi-none");
    vt::WriteFile(vdi, std::vector<uint8_t>(size, 0xAA));
    Import(p.stream, vdi, size);
    const auto after = vt::ReadFile(vdi);
    EXPECT_EQ(after[0], 0x10);
    EXPECT_EQ(after[2 * kMiB], 0x11);  // present sector of block 1
    EXPECT_EQ(after[2 * kMiB + 2047], 0x11);
    EXPECT_EQ(after[2 * kMiB + 2048], fill ? 0x00 : 0xAA);  // absent sector
    EXPECT_EQ(after[4 * kMiB + 5], 0x12);
  }
}

// Given a fixed VHD, When streamed as raw, Then the body is the data part (file size - 512) and
// imports byte-identical; as VHD it imports identical too; its digest equals the raw source's.
TEST_F(ImageStreamTest, FixedVhd) {
  REQUIRE_QEMU_IMG();
  const std::string raw = MakeRaw("f.raw", 16 * kMiB, {3, 11});
  const std::string fixed = dir_.File("f.vhd");
  ASSERT_EQ(
      vt::RunQemuImg({"convert", "-O", "vpc", "-o", "subformat=fixed,force_size=on", raw, fixed}),
      "");
  const ImageSource source = OpenSource(fixed);
  ASSERT_EQ(source.format().format, SourceFormat::kVhdFixed);
  EXPECT_EQ(source.virtual_size(), 16 * kMiB);
  PlanOptions o;
  o.format = StreamFormat::kRaw;
  o.digest = true;
  const PlannedStream r = Plan(source, o);
  EXPECT_EQ(r.stream.plan.size(), vt::ReadFile(fixed).size() - 512);
  const std::string vdi = dir_.File("vdi-raw");
  Import(r.stream, vdi, 16 * kMiB);
  EXPECT_TRUE(vt::FilesEqual(raw, vdi));

  o.format = StreamFormat::kVhd;
  const PlannedStream v = Plan(source, o);
  const std::string vdi2 = dir_.File("vdi-vhd");
  Import(v.stream, vdi2, 16 * kMiB);
  EXPECT_TRUE(vt::FilesEqual(raw, vdi2));
  EXPECT_EQ(v.stream.data_blocks.Count(), 2u);
  EXPECT_EQ(Plan(OpenSource(raw), o).scan.digest, r.scan.digest);
}

// Given a VHD over 2040 GiB of disk_size, When planned as VHD, Then it is refused with a pointer to
// raw; a data block outside the image is refused; an unusable source is refused.
TEST_F(ImageStreamTest, Refusals) {
  const std::string raw = MakeRaw("g.raw", 4 * kMiB, {0});
  const ImageSource source = OpenSource(raw);
  StreamOptions o;
  o.disk_size = vhd::kMaxVirtualSize + 512;
  auto big = BuildImageStream(source, AllocationMap(2), o);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message().find("use format raw"), std::string::npos);

  AllocationMap outside(10);
  outside.Set(5);
  auto bad = BuildImageStream(source, outside, StreamOptions{});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("data block 5"), std::string::npos);

  const std::string broken = dir_.File("broken.vhd");
  auto bytes = vt::ReadFile(raw);
  const std::string vhd = dir_.File("g.vhd");
  ASSERT_EQ(WritePlanToFile(Plan(source).stream.plan, vhd), "");
  bytes = vt::ReadFile(vhd);
  bytes[bytes.size() - 512 + 64] ^= 1;
  vt::WriteFile(broken, bytes);
  auto refused = ImageSource::Open(broken);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("footer.checksum"), std::string::npos);
  auto allowed = ImageSource::Open(broken, /*allow_problems=*/true);
  ASSERT_TRUE(allowed.ok());
  auto streamed = BuildImageStream(*allowed, AllocationMap(2), StreamOptions{});
  ASSERT_FALSE(streamed.ok());
  EXPECT_EQ(streamed.error().code(), ErrorCode::kFailedPrecondition);
}

// Given the formats' names, When parsed, Then they round-trip and unknown names are refused.
TEST(StreamNamesTest, ParseNames) {
  for (StreamFormat f : {StreamFormat::kVhd, StreamFormat::kRaw, StreamFormat::kRawChunked}) {
    EXPECT_EQ(*ParseStreamFormat(StreamFormatName(f)), f);
  }
  for (ZeroFill m : {ZeroFill::kPrevious, ZeroFill::kFull, ZeroFill::kNone}) {
    EXPECT_EQ(*ParseZeroFill(ZeroFillName(m)), m);
  }
  EXPECT_FALSE(ParseStreamFormat("qcow2").ok());
  EXPECT_FALSE(ParseZeroFill("some").ok());
}

}  // namespace
}  // namespace fruix::image
