#include "lib/vhd/writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "lib/vhd/format.h"
#include "lib/vhd/stream_plan.h"
#include "tests/lib/vhd/test_images.h"

namespace fruix::vhd {
namespace {

namespace vt = fruix::vhd::testing;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kStride = 512 + kDefaultBlockSize;

std::vector<uint8_t> Bytes(const StreamPlan& plan) {
  std::vector<uint8_t> out(plan.size());
  PlanReader reader(plan);
  EXPECT_EQ(*reader.Read(out), plan.size());
  return out;
}

// Appends a block of the full bitmap and bytes equal to index + 1.
Result<void> Emit(uint64_t size, uint32_t index, StreamPlan& p) {
  p.AddBytes(FullBitmap(size, index));
  p.AddBytes(std::vector<uint8_t>(kDefaultBlockSize, static_cast<uint8_t>(index + 1)));
  return Ok();
}

// Given a 7 MiB + 1536 B disk with blocks 1 and 3, When laid out, Then footer, header, BAT and
// blocks sit where the layout table says, with exact-size footer fields.
TEST(WriterTest, Layout) {
  const uint64_t size = 7 * kMiB + 1536;  // 4 blocks, the last partial
  StreamPlan plan;
  const std::vector<uint32_t> blocks = {1, 3};
  const DynamicVhdParams params{size, RandomUniqueId(), 4242};
  ASSERT_TRUE(AppendDynamicVhd(
                  params, blocks, [&](uint32_t i, StreamPlan& p) { return Emit(size, i, p); }, plan)
                  .ok());
  const auto b = Bytes(plan);
  ASSERT_EQ(b.size(), DynamicVhdLength(size, 2));
  ASSERT_EQ(b.size(), 1536 + 512 + 2 * kStride + 512);

  auto copy = Footer::Unmarshal(std::span(b).first(512), 0);
  ASSERT_TRUE(copy.ok()) << copy.error().message();
  EXPECT_EQ(copy->current_size, size);
  EXPECT_EQ(copy->original_size, size);
  EXPECT_EQ(copy->geometry, kMaxGeometry);
  EXPECT_EQ(copy->creator_app, kFruixCreatorApp);
  EXPECT_EQ(copy->disk_type, DiskType::kDynamic);
  EXPECT_EQ(copy->data_offset, 512u);
  EXPECT_EQ(copy->features, kFeatureReserved);
  EXPECT_EQ(copy->timestamp, 4242u);
  EXPECT_EQ(copy->unique_id, params.unique_id);
  EXPECT_EQ(std::memcmp(b.data(), b.data() + b.size() - 512, 512), 0);

  auto header = DynamicHeader::Unmarshal(std::span(b).subspan(512, 1024), 512);
  ASSERT_TRUE(header.ok()) << header.error().message();
  EXPECT_EQ(header->table_offset, 1536u);
  EXPECT_EQ(header->max_table_entries, 4u);
  EXPECT_EQ(header->block_size, kDefaultBlockSize);

  auto bat = UnmarshalBat(std::span(b).subspan(1536, 512), 4);
  ASSERT_TRUE(bat.ok());
  EXPECT_EQ((*bat)[0], kBatUnused);
  EXPECT_EQ((*bat)[1], 2048u / 512);
  EXPECT_EQ((*bat)[2], kBatUnused);
  EXPECT_EQ((*bat)[3], (2048 + kStride) / 512);
  EXPECT_TRUE(
      std::all_of(b.begin() + 1536 + 16, b.begin() + 2048, [](uint8_t x) { return x == 0xFF; }));
  EXPECT_EQ(b[2048 + 512], 2);            // block 1's data
  EXPECT_EQ(b[2048 + kStride + 512], 4);  // block 3's data
}

// Given the last block of a disk that ends 1536 bytes into it, When its full bitmap is made, Then
// exactly its first 3 sectors are present; a middle block is all ones.
TEST(WriterTest, FullBitmapStopsAtDiskEnd) {
  const uint64_t size = 6 * kMiB + 1536;
  const auto last = FullBitmap(size, 3);
  EXPECT_EQ(last[0], 0xE0);
  EXPECT_TRUE(std::all_of(last.begin() + 1, last.end(), [](uint8_t x) { return x == 0; }));
  const auto middle = FullBitmap(size, 1);
  EXPECT_TRUE(std::all_of(middle.begin(), middle.end(), [](uint8_t x) { return x == 0xFF; }));
}

// Given bad inputs, When laid out, Then the writer refuses: unsorted or out-of-range blocks, a size
// not a multiple of 512, over 2040 GiB, and an emitter that appends the wrong number of bytes.
TEST(WriterTest, RefusesBadInput) {
  auto emit = [](uint32_t i, StreamPlan& p) { return Emit(8 * kMiB, i, p); };
  StreamPlan p1;
  EXPECT_EQ(
      AppendDynamicVhd({8 * kMiB, {}, 0}, std::vector<uint32_t>{2, 1}, emit, p1).error().code(),
      ErrorCode::kInvalidArgument);
  StreamPlan p2;
  EXPECT_FALSE(AppendDynamicVhd({8 * kMiB, {}, 0}, std::vector<uint32_t>{4}, emit, p2).ok());
  StreamPlan p3;
  EXPECT_FALSE(AppendDynamicVhd({8 * kMiB + 1, {}, 0}, {}, emit, p3).ok());
  StreamPlan p4;
  EXPECT_FALSE(AppendDynamicVhd({kMaxVirtualSize + 512, {}, 0}, {}, emit, p4).ok());
  StreamPlan p5;
  auto short_emit = [](uint32_t, StreamPlan& p) {
    p.AddZeros(100);
    return Ok();
  };
  EXPECT_EQ(
      AppendDynamicVhd({8 * kMiB, {}, 0}, std::vector<uint32_t>{0}, short_emit, p5).error().code(),
      ErrorCode::kInternal);
}

// Given a writer VHD of a size that is not a multiple of 2 MiB (nor of CHS geometry), When qemu-img
// converts it to raw, Then the result has exactly that size and the blocks' data.
TEST(WriterTest, QemuReadsExactSize) {
  if (!vt::HaveQemuImg()) GTEST_SKIP() << "*** qemu-img NOT FOUND: SKIPPED, NOT PASSED ***";
  vt::ScratchDir dir;
  const uint64_t size = 5 * kMiB + 512 * 7;
  StreamPlan plan;
  ASSERT_TRUE(AppendDynamicVhd(
                  {size, RandomUniqueId(), 1}, std::vector<uint32_t>{0, 2},
                  [&](uint32_t i, StreamPlan& p) { return Emit(size, i, p); }, plan)
                  .ok());
  const std::string vhd = dir.File("w.vhd"), raw = dir.File("w.raw");
  vt::WriteFile(vhd, Bytes(plan));
  ASSERT_EQ(vt::RunQemuImg({"convert", "-f", "vpc", "-O", "raw", vhd, raw}), "");
  const auto back = vt::ReadFile(raw);
  ASSERT_EQ(back.size(), size);
  EXPECT_EQ(back[0], 1);
  EXPECT_EQ(back[2 * kMiB], 0);
  EXPECT_EQ(back[4 * kMiB], 3);
  EXPECT_EQ(back[size - 1], 3);
}

}  // namespace
}  // namespace fruix::vhd
