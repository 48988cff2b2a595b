#include "lib/image/allocation_scan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/image/content_digest.h"
#include "lib/image/image_source.h"
#include "tests/lib/vhd/test_images.h"

namespace fruix::image {
namespace {

namespace vt = fruix::vhd::testing;
constexpr uint64_t kMiB = 1024 * 1024;

std::shared_ptr<vhd::SourceFile> Open(const std::string& path) {
  auto f = vhd::SourceFile::Open(path);
  EXPECT_TRUE(f.ok());
  return f.ok() ? *f : nullptr;
}

ScanResult Scan(const std::string& path, uint64_t size, ScanOptions options) {
  auto r = ScanRaw(*Open(path), size, options);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? *r : ScanResult{};
}

class ScanTest : public ::testing::Test {
 protected:
  // 40 MiB + 1000 bytes (21 blocks, the last partial): data in blocks 3 (a 1 MiB extent at
  // 7 MiB), 10 (one byte at its very end) and 20 (the partial tail); real zeros written in blocks
  // 5-6; holes elsewhere.
  void SetUp() override {
    vt::CreateSparse(path_, size_);
    vt::WriteAt(path_, 7 * kMiB, vt::RandomBytes(kMiB, 1));
    vt::WriteAt(path_, 11 * 2 * kMiB - 1, {0x42});
    vt::WriteAt(path_, 10 * kMiB, std::vector<uint8_t>(4 * kMiB, 0));
    vt::WriteAt(path_, size_ - 10, std::vector<uint8_t>(10, 0x77));
  }
  vt::ScratchDir dir_;
  std::string path_ = dir_.File("disk.raw");
  uint64_t size_ = 40 * kMiB + 1000;
};

// Given a sparse file with data, real zeros and holes, When scanned, Then only the blocks with
// non-zero bytes are allocated, holes cost no reads, and zero blocks are counted.
TEST_F(ScanTest, HolesAndRealZeros) {
  const ScanResult r = Scan(path_, size_, {});
  EXPECT_EQ(r.map.block_count(), 21u);
  EXPECT_EQ(r.map.Blocks(), (std::vector<uint64_t>{3, 10, 20}));
  EXPECT_EQ(r.zero_blocks, 2u);             // blocks 5 and 6
  EXPECT_EQ(r.hole_blocks, 21u - 5);        // 3, 5, 6, 10, 20 hold data extents
  EXPECT_LE(r.bytes_read, 5 * kBlockSize);  // only those were read
  EXPECT_FALSE(r.digest.has_value());
}

// Given detect_zeros off, When scanned, Then every block with a data extent is kept.
TEST_F(ScanTest, WithoutZeroDetection) {
  ScanOptions o;
  o.detect_zeros = false;
  const ScanResult r = Scan(path_, size_, o);
  EXPECT_EQ(r.map.Blocks(), (std::vector<uint64_t>{3, 5, 6, 10, 20}));
  EXPECT_EQ(r.bytes_read, 0u);
}

// Given the same disk content stored sparse and dense, When digested with 1 and 3 threads, Then
// every digest is equal; changing one byte changes it.
TEST_F(ScanTest, DigestDependsOnlyOnContent) {
  ScanOptions o;
  o.digest = true;
  o.threads = 1;
  const ScanResult sparse = Scan(path_, size_, o);
  ASSERT_TRUE(sparse.digest.has_value());
  EXPECT_EQ(sparse.digest->rfind("sha256v1:", 0), 0u);
  EXPECT_EQ(sparse.digest->size(), 9u + 64);

  const std::string dense = dir_.File("dense.raw");
  vt::WriteFile(dense, vt::ReadFile(path_));  // every byte written: no holes
  o.threads = 3;
  const ScanResult full = Scan(dense, size_, o);
  EXPECT_EQ(full.digest, sparse.digest);
  EXPECT_EQ(full.map, sparse.map);
  EXPECT_EQ(full.hole_blocks, 0u);

  vt::WriteAt(dense, 30 * kMiB, {1});
  EXPECT_NE(Scan(dense, size_, o).digest, sparse.digest);
}

// Given a raw image and the same disk as a dynamic VHD (qemu-img), When the digest is computed
// from a zero-testing scan's map alone (ImageSource::Digest, what an upload does while sending),
// Then it equals the digest of a full digest scan, for both formats.
TEST_F(ScanTest, DigestOfTheDataMapEqualsTheScanDigest) {
  std::vector<std::string> paths = {path_};
  if (vt::HaveQemuImg()) {
    const std::string vhd = dir_.File("disk.vhd");
    vt::RunQemuImg({"convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic,force_size=on",
                    path_, vhd});
    paths.push_back(vhd);
  }
  std::optional<std::string> first;
  for (const auto& p : paths) {
    auto source = ImageSource::Open(p);
    ASSERT_TRUE(source.ok()) << source.error().ToString();
    ScanOptions zero_test;
    auto map = source->Scan(zero_test);
    ASSERT_TRUE(map.ok());
    ScanOptions full;
    full.digest = true;
    auto scanned = source->Scan(full);
    ASSERT_TRUE(scanned.ok());
    auto digest = source->Digest(map->map, ScanOptions{});
    ASSERT_TRUE(digest.ok()) << digest.error().ToString();
    EXPECT_EQ(*digest, *scanned->digest) << p;
    if (first) {
      EXPECT_EQ(*digest, *first) << "raw and VHD of one disk differ";
    }
    first = *digest;
  }
}

// Given two files differing only in trailing zeros up to the next 512 bytes, When digested, Then
// the digests are equal (same disk); a size one sector larger gives a different digest.
TEST(ScanDigestTest, SizeRoundsToSector) {
  vt::ScratchDir dir;
  const auto data = vt::RandomBytes(1000, 4);
  vt::WriteFile(dir.File("a"), data);
  auto padded = data;
  padded.resize(1024, 0);
  vt::WriteFile(dir.File("b"), padded);
  padded.resize(1536, 0);
  vt::WriteFile(dir.File("c"), padded);
  ScanOptions o;
  o.digest = true;
  EXPECT_EQ(Scan(dir.File("a"), 1000, o).digest, Scan(dir.File("b"), 1024, o).digest);
  EXPECT_NE(Scan(dir.File("b"), 1024, o).digest, Scan(dir.File("c"), 1536, o).digest);
}

// Given 3000 blocks (three windows), When scanned with a progress callback that stops after the
// first window, Then the scan fails with kCancelled; without stopping, progress reaches the total.
TEST(ScanProgressTest, ProgressAndCancel) {
  AllocationMap candidates = AllocationMap::Full(3000);
  auto read = [](uint64_t block, uint64_t, std::span<uint8_t> out) -> Result<void> {
    std::fill(out.begin(), out.end(), static_cast<uint8_t>(block % 3 == 0 ? 0 : 1));
    return Ok();
  };
  ScanOptions o;
  uint64_t last = 0;
  o.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, 3000u);
    last = done;
    return true;
  };
  auto r = ScanBlocks(candidates, 3000 * kBlockSize, read, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(last, 3000u);
  EXPECT_EQ(r->map.Count(), 2000u);
  EXPECT_EQ(r->zero_blocks, 1000u);

  o.progress = [](uint64_t, uint64_t) { return false; };
  auto cancelled = ScanBlocks(candidates, 3000 * kBlockSize, read, o);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code(), ErrorCode::kCancelled);
}

// Given a reader that fails on one block, When scanned on several threads, Then that error is
// returned.
TEST(ScanProgressTest, ReadErrorPropagates) {
  auto read = [](uint64_t block, uint64_t, std::span<uint8_t> out) -> Result<void> {
    if (block == 77) return Error::Io("disk on fire at block 77");
    std::fill(out.begin(), out.end(), 1);
    return Ok();
  };
  ScanOptions o;
  o.threads = 4;
  auto r = ScanBlocks(AllocationMap::Full(200), 200 * kBlockSize, read, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "disk on fire at block 77");
}

// Given buffers of many lengths and alignments with one non-zero byte anywhere, When tested, Then
// IsAllZero finds it; all-zero buffers pass.
TEST(IsAllZeroTest, FindsAnyNonZeroByte) {
  std::vector<uint8_t> buf(3 * 4096 + 77, 0);
  for (size_t start : {0u, 1u, 7u, 8u}) {
    for (size_t len : {0u, 1u, 7u, 8u, 9u, 4095u, 4096u, 4097u, 3u * 4096 + 60}) {
      const std::span<uint8_t> s(buf.data() + start, len);
      EXPECT_TRUE(IsAllZero(s));
      for (size_t at : {size_t{0}, len / 2, len - 1}) {
        if (len == 0) continue;
        s[at] = 0x10;
        EXPECT_FALSE(IsAllZero(s)) << start << " " << len << " " << at;
        s[at] = 0;
      }
    }
  }
}

}  // namespace
}  // namespace fruix::image
