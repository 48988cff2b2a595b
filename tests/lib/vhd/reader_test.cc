#include "lib/vhd/reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "lib/vhd/format.h"
#include "lib/vhd/stream_plan.h"
#include "lib/vhd/writer.h"
#include "tests/lib/vhd/test_images.h"

namespace fruix::vhd {
namespace {

namespace vt = fruix::vhd::testing;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kStride = 512 + kDefaultBlockSize;

// Writes a dynamic VHD of `size` bytes with `blocks` allocated (each filled with its index + 1)
// through the product's writer; returns the file's bytes.
std::vector<uint8_t> MakeDynamic(const std::string& path, uint64_t size,
                                 std::vector<uint32_t> blocks) {
  StreamPlan plan;
  DynamicVhdParams params{size, RandomUniqueId(), 12345};
  auto emit = [](uint32_t index, StreamPlan& p) -> Result<void> {
    std::vector<uint8_t> bytes(512 + kDefaultBlockSize, static_cast<uint8_t>(index + 1));
    std::fill(bytes.begin(), bytes.begin() + 512, 0xFF);
    p.AddBytes(bytes);
    return Ok();
  };
  EXPECT_TRUE(AppendDynamicVhd(params, blocks, emit, plan).ok());
  std::vector<uint8_t> out;
  PlanReader reader(plan);
  out.resize(plan.size());
  EXPECT_EQ(*reader.Read(out), plan.size());
  vt::WriteFile(path, out);
  return out;
}

void PutBe32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void PutBe64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  PutBe32(b, at, static_cast<uint32_t>(v >> 32));
  PutBe32(b, at + 4, static_cast<uint32_t>(v));
}
// Recomputes the checksum of the footer at `at` / header at `at`.
void FixFooterSum(std::vector<uint8_t>& b, size_t at) {
  PutBe32(b, at + kFooterChecksumOffset,
          Checksum(std::span(b).subspan(at, kFooterSize), kFooterChecksumOffset));
}
void FixHeaderSum(std::vector<uint8_t>& b, size_t at) {
  PutBe32(b, at + kHeaderChecksumOffset,
          Checksum(std::span(b).subspan(at, kDynamicHeaderSize), kHeaderChecksumOffset));
}

VhdImage Read(const std::string& path) {
  auto file = SourceFile::Open(path);
  EXPECT_TRUE(file.ok());
  auto image = ReadVhd(**file);
  EXPECT_TRUE(image.ok()) << image.error().message();
  return image.ok() ? *image : VhdImage{};
}

// The problem on `field`, or null.
const Problem* Find(const VhdImage& image, const std::string& field) {
  for (const auto& p : image.problems) {
    if (p.field == field) return &p;
  }
  return nullptr;
}

std::string All(const VhdImage& image) {
  std::string s;
  for (const auto& p : image.problems) s += p.ToString() + "\n";
  return s;
}

class ReaderTest : public ::testing::Test {
 protected:
  vt::ScratchDir dir_;
  std::string path_ = dir_.File("disk.vhd");
  // 8 MiB disk, blocks 0 and 2 allocated: BAT of 4 entries (512 B), first block at 2048.
  std::vector<uint8_t> bytes_ = MakeDynamic(path_, 8 * kMiB, {0, 2});
  size_t tail_ = bytes_.size() - 512;
};

// Given a VHD from the writer, When read, Then it is usable and its structure is exposed.
TEST_F(ReaderTest, ValidDynamicVhd) {
  const VhdImage image = Read(path_);
  EXPECT_TRUE(image.usable()) << All(image);
  EXPECT_EQ(image.disk_type, DiskType::kDynamic);
  EXPECT_EQ(image.virtual_size(), 8 * kMiB);
  ASSERT_TRUE(image.header.has_value());
  EXPECT_EQ(image.bat.size(), 4u);
  ASSERT_EQ(image.blocks.size(), 2u);
  EXPECT_EQ(image.blocks[0], (AllocatedBlock{0, 2048}));
  EXPECT_EQ(image.blocks[1], (AllocatedBlock{2, 2048 + kStride}));
}

// Given a qemu-img dynamic VHD (CHS-rounded size, 1025-style BAT), When read, Then it is usable.
TEST_F(ReaderTest, QemuDynamicVhdIsUsable) {
  if (!vt::HaveQemuImg()) GTEST_SKIP() << "*** qemu-img NOT FOUND: SKIPPED, NOT PASSED ***";
  const std::string raw = dir_.File("q.raw"), vhd = dir_.File("q.vhd");
  vt::CreateSparse(raw, 16 * kMiB);
  vt::WriteAt(raw, 5 * kMiB, vt::RandomBytes(100000, 1));
  ASSERT_EQ(vt::RunQemuImg({"convert", "-O", "vpc", "-o", "subformat=dynamic", raw, vhd}), "");
  const VhdImage image = Read(vhd);
  EXPECT_TRUE(image.usable()) << All(image);
  EXPECT_GE(image.virtual_size(), 16 * kMiB);
  EXPECT_EQ(image.blocks.size(), 1u);
}

// Given a trailing footer whose checksum is wrong, When read, Then footer.checksum names the
// offset of the checksum field and the footer copy is reported as different.
TEST_F(ReaderTest, BadFooterChecksum) {
  bytes_[tail_ + 64] ^= 0x01;
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  ASSERT_FALSE(image.usable());
  const Problem* p = Find(image, "footer.checksum");
  ASSERT_NE(p, nullptr) << All(image);
  EXPECT_EQ(p->offset, tail_ + 64);
  EXPECT_NE(p->message.find("computed"), std::string::npos);
  ASSERT_NE(Find(image, "footer_copy"), nullptr);
  EXPECT_NE(Find(image, "footer_copy")->message.find("checksum"), std::string::npos);
}

// Given a dynamic header whose checksum is wrong, When read, Then header.checksum at 512+36.
TEST_F(ReaderTest, BadHeaderChecksum) {
  bytes_[512 + 100] ^= 0x40;  // a reserved byte: only the checksum notices
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  const Problem* p = Find(image, "header.checksum");
  ASSERT_NE(p, nullptr) << All(image);
  EXPECT_EQ(p->offset, 512u + 36);
  EXPECT_EQ(image.problems.size(), 1u) << All(image);
}

// Given a VHD cut in the middle of its second block, When read, Then the missing trailing footer
// and the block that runs past the end are both reported.
TEST_F(ReaderTest, Truncated) {
  bytes_.resize(2048 + kStride + kMiB);
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  const Problem* cookie = Find(image, "footer.cookie");
  ASSERT_NE(cookie, nullptr) << All(image);
  EXPECT_EQ(cookie->offset, bytes_.size() - 512);
  EXPECT_NE(cookie->message.find("truncated"), std::string::npos);
  const Problem* bat = Find(image, "BAT[2]");
  ASSERT_NE(bat, nullptr) << All(image);
  EXPECT_EQ(bat->offset, 1536u + 8);
  EXPECT_NE(bat->message.find("past the trailing footer"), std::string::npos);
}

// Given a BAT entry pointing past the end of the file, When read, Then BAT[i] says so.
TEST_F(ReaderTest, BatEntryPastEnd) {
  PutBe32(bytes_, 1536 + 4 * 2, 0x00FFFFFF);
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  const Problem* p = Find(image, "BAT[2]");
  ASSERT_NE(p, nullptr) << All(image);
  EXPECT_EQ(p->offset, 1536u + 8);
  EXPECT_NE(p->message.find("past the trailing footer"), std::string::npos);
  EXPECT_EQ(image.problems.size(), 1u) << All(image);
}

// Given two BAT entries whose blocks overlap, When read, Then the later one names the earlier.
TEST_F(ReaderTest, OverlappingBlocks) {
  PutBe32(bytes_, 1536 + 4 * 2, 2048 / 512 + 8);  // block 2 starts 4 KiB into block 0
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  const Problem* p = Find(image, "BAT[2]");
  ASSERT_NE(p, nullptr) << All(image);
  EXPECT_NE(p->message.find("overlapping block 0"), std::string::npos) << p->message;
}

// Given a block placed inside the BAT region, When read, Then the forward-only rule is named.
TEST_F(ReaderTest, BlockBeforeEndOfBat) {
  PutBe32(bytes_, 1536, 1536 / 512);
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  const Problem* p = Find(image, "BAT[0]");
  ASSERT_NE(p, nullptr) << All(image);
  EXPECT_NE(p->message.find("cannot go back"), std::string::npos);
}

// Given a header with a 1 MiB block size (valid VHD, not what fruixd streams), When read, Then
// header.block_size is reported; a non-power-of-two size is reported differently.
TEST_F(ReaderTest, WrongBlockSize) {
  PutBe32(bytes_, 512 + 32, 1 << 20);
  FixHeaderSum(bytes_, 512);
  vt::WriteFile(path_, bytes_);
  const VhdImage one = Read(path_);
  const Problem* p = Find(one, "header.block_size");
  ASSERT_NE(p, nullptr) << All(one);
  EXPECT_EQ(p->offset, 512u + 32);
  EXPECT_NE(p->message.find("2 MiB"), std::string::npos);

  PutBe32(bytes_, 512 + 32, 3 << 20);
  FixHeaderSum(bytes_, 512);
  vt::WriteFile(path_, bytes_);
  const VhdImage three = Read(path_);
  ASSERT_NE(Find(three, "header.block_size"), nullptr) << All(three);
  EXPECT_NE(Find(three, "header.block_size")->message.find("power of two"), std::string::npos);
}

// Given a footer copy that differs from the trailing footer (both with valid checksums), When
// read, Then footer_copy names the differing field.
TEST_F(ReaderTest, FooterCopyDiffers) {
  PutBe32(bytes_, 24, 999);  // timestamp of the copy
  FixFooterSum(bytes_, 0);
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  ASSERT_EQ(image.problems.size(), 1u) << All(image);
  EXPECT_EQ(image.problems[0].field, "footer_copy");
  EXPECT_NE(image.problems[0].message.find("timestamp"), std::string::npos);
}

// Given a header whose BAT is too small for the disk, When read, Then max_table_entries says so.
TEST_F(ReaderTest, TooFewBatEntries) {
  PutBe32(bytes_, 512 + 28, 3);
  FixHeaderSum(bytes_, 512);
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  const Problem* p = Find(image, "header.max_table_entries");
  ASSERT_NE(p, nullptr) << All(image);
  EXPECT_NE(p->message.find("needs 4 blocks"), std::string::npos) << p->message;
}

// Given a table offset inside the header, When read, Then header.table_offset is reported.
TEST_F(ReaderTest, TableOffsetBeforeHeaderEnd) {
  PutBe64(bytes_, 512 + 16, 1024);
  FixHeaderSum(bytes_, 512);
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  ASSERT_NE(Find(image, "header.table_offset"), nullptr) << All(image);
}

// Given both footers claiming 4 TiB, When read, Then current_size is over the 2040 GiB limit.
TEST_F(ReaderTest, TooLarge) {
  for (size_t at : {size_t{0}, tail_}) {
    PutBe64(bytes_, at + 48, 4ULL << 40);
    FixFooterSum(bytes_, at);
  }
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  const Problem* p = Find(image, "footer.current_size");
  ASSERT_NE(p, nullptr) << All(image);
  EXPECT_NE(p->message.find("2040 GiB"), std::string::npos);
}

// Given an extra, unused BAT entry (as old XO wrote), When read, Then it is tolerated; once used
// it is reported as a block past the end of the disk.
TEST_F(ReaderTest, ExtraBatEntry) {
  PutBe32(bytes_, 512 + 28, 5);  // 5 entries still fit in the 512-byte BAT
  FixHeaderSum(bytes_, 512);
  vt::WriteFile(path_, bytes_);
  EXPECT_TRUE(Read(path_).usable()) << All(Read(path_));
  PutBe32(bytes_, 1536 + 16, static_cast<uint32_t>((2048 + kStride) / 512));
  PutBe32(bytes_, 1536 + 8, kBatUnused);  // move block 2's data to entry 4
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  const Problem* p = Find(image, "BAT[4]");
  ASSERT_NE(p, nullptr) << All(image);
  EXPECT_NE(p->message.find("past the end"), std::string::npos);
}

// Given a fixed VHD, When read, Then it is usable with no BAT; with a corrupted footer the
// checksum is reported; with a size that does not match the file, current_size is.
TEST_F(ReaderTest, FixedVhd) {
  std::vector<uint8_t> fixed = vt::RandomBytes(4 * kMiB, 7);
  Footer f = MakeDynamicFooter({4 * kMiB, RandomUniqueId(), 1});
  f.disk_type = DiskType::kFixed;
  f.data_offset = kNoDataOffset;
  const auto footer = f.Marshal();
  fixed.insert(fixed.end(), footer.begin(), footer.end());
  const std::string path = dir_.File("fixed.vhd");
  vt::WriteFile(path, fixed);
  const VhdImage ok = Read(path);
  EXPECT_TRUE(ok.usable()) << All(ok);
  EXPECT_EQ(ok.disk_type, DiskType::kFixed);
  EXPECT_EQ(ok.virtual_size(), 4 * kMiB);

  fixed[4 * kMiB + 64] ^= 0xFF;
  vt::WriteFile(path, fixed);
  const VhdImage bad = Read(path);
  ASSERT_NE(Find(bad, "footer.checksum"), nullptr) << All(bad);
  EXPECT_EQ(Find(bad, "footer.checksum")->offset, 4 * kMiB + 64);

  fixed[4 * kMiB + 64] ^= 0xFF;
  PutBe64(fixed, 4 * kMiB + 48, 8 * kMiB);
  FixFooterSum(fixed, 4 * kMiB);
  vt::WriteFile(path, fixed);
  const VhdImage wrong = Read(path);
  ASSERT_NE(Find(wrong, "footer.current_size"), nullptr) << All(wrong);
}

// Given a dynamic VHD whose footer copy at 0 was wiped, When read, Then footer_copy.cookie says
// xapi needs it.
TEST_F(ReaderTest, MissingFooterCopy) {
  std::fill(bytes_.begin(), bytes_.begin() + 512, 0);
  vt::WriteFile(path_, bytes_);
  const VhdImage image = Read(path_);
  const Problem* p = Find(image, "footer_copy.cookie");
  ASSERT_NE(p, nullptr) << All(image);
  EXPECT_NE(p->message.find("xapi reads first"), std::string::npos);
}

// Given a file with no VHD cookie anywhere, When read, Then ReadVhd fails instead of reporting.
TEST_F(ReaderTest, NotAVhd) {
  vt::WriteFile(path_, std::vector<uint8_t>(4096, 1));
  auto file = SourceFile::Open(path_);
  ASSERT_TRUE(file.ok());
  auto image = ReadVhd(**file);
  ASSERT_FALSE(image.ok());
  EXPECT_NE(image.error().message().find("not a VHD"), std::string::npos);
}

// Given a BAT where every entry is broken, When read, Then the list is capped and the rest counted.
TEST_F(ReaderTest, ProblemsAreCapped) {
  const std::string path = dir_.File("many.vhd");
  std::vector<uint8_t> b = MakeDynamic(path, 400 * kMiB, {});
  for (size_t i = 0; i < 200; ++i) PutBe32(b, 1536 + 4 * i, 0x0FFFFFFF);
  vt::WriteFile(path, b);
  const VhdImage image = Read(path);
  EXPECT_EQ(image.problems.size(), VhdImage::kMaxProblems);
  // 200 entries past the end, and 199 overlapping the one before them.
  EXPECT_EQ(image.problems_omitted, 200 + 199 - VhdImage::kMaxProblems);
  EXPECT_FALSE(image.usable());
}

}  // namespace
}  // namespace fruix::vhd
