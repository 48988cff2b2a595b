#include "lib/sim/vhd_tool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "lib/sim/fd_byte_reader.h"
#include "lib/sim/file_block_writer.h"
#include "lib/sim/memory_byte_reader.h"
#include "lib/vhd/format.h"
#include "tests/lib/vhd/test_images.h"

namespace fruix::sim {
namespace {

namespace vt = fruix::vhd::testing;
using vhd::kDefaultBlockSize;

constexpr uint64_t kMiB = 1024 * 1024;

#define REQUIRE_QEMU_IMG()                                                                  \
  do {                                                                                      \
    if (!vt::HaveQemuImg()) {                                                               \
      GTEST_SKIP() << "\n*** qemu-img NOT FOUND: this test needs it (Debian: qemu-utils). " \
                      "SKIPPED, NOT PASSED. ***\n";                                         \
    }                                                                                       \
  } while (0)

// A VDI in memory. Like a block device, writes past the end fail and write nothing.
class MemoryBlockWriter : public BlockWriter {
 public:
  explicit MemoryBlockWriter(uint64_t size, uint8_t fill = 0) : data(size, fill) {}
  uint64_t size() const override { return data.size(); }
  Result<void> WriteAt(uint64_t offset, const void* p, size_t n) override {
    if (offset > data.size() || n > data.size() - offset) {
      return Error::Io("memory VDI: write past the end");
    }
    std::memcpy(data.data() + offset, p, n);
    ++writes;
    return Ok();
  }
  Result<void> Sync() override {
    ++syncs;
    return Ok();
  }

  std::vector<uint8_t> data;
  int writes = 0;
  int syncs = 0;
};

struct Extent {
  uint64_t offset;
  size_t length;
};

// A sparse raw file of `size` bytes holding random data at `extents`.
std::string MakeRaw(const vt::ScratchDir& dir, const std::string& name, uint64_t size,
                    const std::vector<Extent>& extents) {
  const std::string path = dir.File(name);
  vt::CreateSparse(path, size);
  uint32_t seed = 7;
  for (const Extent& e : extents) vt::WriteAt(path, e.offset, vt::RandomBytes(e.length, seed++));
  return path;
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_size);
}

// Streams a VHD file through ServeVhd with Content-Length = its size.
Result<ImportStats> ServeVhdFile(const std::string& vhd, BlockWriter& out,
                                 const ProgressFn& progress = {}) {
  const int fd = ::open(vhd.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::Io("cannot open " + vhd);
  FdByteReader reader(fd);
  auto result = ServeVhd(reader, FileSize(vhd), out, progress);
  ::close(fd);
  return result;
}

Result<ImportStats> ServeBytes(const std::vector<uint8_t>& body, uint64_t content_length,
                               BlockWriter& out, size_t max_read = SIZE_MAX) {
  MemoryByteReader reader(body, max_read);
  return ServeVhd(reader, content_length, out, {});
}

// The allocated BAT entries of a VHD image (index -> sector), read with lib/vhd/format.
std::vector<std::pair<uint32_t, uint32_t>> AllocatedBlocks(const std::vector<uint8_t>& vhd) {
  auto footer = vhd::Footer::Unmarshal(std::span(vhd).first(512));
  EXPECT_TRUE(footer.ok());
  auto header = vhd::DynamicHeader::Unmarshal(std::span(vhd).subspan(footer->data_offset, 1024));
  EXPECT_TRUE(header.ok());
  auto bat =
      vhd::UnmarshalBat(std::span(vhd).subspan(header->table_offset), header->max_table_entries);
  EXPECT_TRUE(bat.ok());
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (uint32_t i = 0; i < bat->size(); ++i) {
    if ((*bat)[i] != vhd::kBatUnused) out.emplace_back(i, (*bat)[i]);
  }
  return out;
}

void SetBe32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The 64 MiB reference image, built once per suite: extents at 0, at an offset aligned only to
// sectors, one crossing the 20 MiB block boundary, one at 40 MiB and one filling the last MiB.
// Each test gets its own copy of the VHD bytes to corrupt.
class QemuVhdTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kRawSize = 64 * kMiB;

  struct Shared {
    vt::ScratchDir dir;
    std::string raw, vhd;
    std::vector<uint8_t> vhd_bytes, raw_bytes;
  };

  static void SetUpTestSuite() {
    if (!vt::HaveQemuImg()) return;
    shared_ = new Shared;
    shared_->raw = MakeRaw(shared_->dir, "src.raw", kRawSize,
                           {{0, kMiB},
                            {4 * kMiB + 1536, kMiB},
                            {20 * kMiB - 3 * 512, kMiB},
                            {40 * kMiB, kMiB},
                            {kRawSize - kMiB, kMiB}});
    shared_->vhd = shared_->dir.File("src.vhd");
    convert_error_ = new std::string(
        vt::RunQemuImg({"convert", "-O", "vpc", "-o", "subformat=dynamic,force_size=on",
                        shared_->raw, shared_->vhd}));
    if (convert_error_->empty()) {
      shared_->vhd_bytes = vt::ReadFile(shared_->vhd);
      shared_->raw_bytes = vt::ReadFile(shared_->raw);
    }
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
    delete convert_error_;
    convert_error_ = nullptr;
  }

  void SetUp() override {
    if (shared_ == nullptr) {
      GTEST_SKIP() << "\n*** qemu-img NOT FOUND: this test needs it (Debian: qemu-utils). "
                      "SKIPPED, NOT PASSED. ***\n";
    }
    ASSERT_EQ(*convert_error_, "");
    raw_ = shared_->raw;
    vhd_ = shared_->vhd;
    bytes_ = shared_->vhd_bytes;
  }

  const vt::ScratchDir& dir() const { return shared_->dir; }
  const std::vector<uint8_t>& raw_bytes() const { return shared_->raw_bytes; }

  static inline Shared* shared_ = nullptr;
  static inline std::string* convert_error_ = nullptr;
  std::string raw_, vhd_;
  std::vector<uint8_t> bytes_;  // this test's copy of the VHD
};

// ---- vhd: the happy paths ----

// Given a qemu force_size dynamic VHD of a sparse 64 MiB source, When it is served into a fresh
// backing file of the raw size, Then the file is byte-identical to the source, every body byte
// was consumed, and progress rose to 1.0 once per allocated block.
TEST_F(QemuVhdTest, ImportIsByteIdenticalToTheRawSource) {
  const std::string target = dir().File("vdi.img");
  auto writer = FileBlockWriter::Open(target, kRawSize);
  ASSERT_TRUE(writer.ok()) << writer.error().message();
  ASSERT_FALSE(vt::FilesEqual(raw_, target));  // the comparison can fail
  std::vector<double> progress;
  auto stats = ServeVhdFile(vhd_, **writer, [&](double f) { progress.push_back(f); });
  ASSERT_TRUE(stats.ok()) << stats.error().message();

  EXPECT_TRUE(vt::FilesEqual(raw_, target));
  const auto allocated = AllocatedBlocks(bytes_);
  EXPECT_EQ(allocated.size(), 6u);  // 20 MiB boundary crossing touches two blocks
  EXPECT_EQ(stats->blocks_total, allocated.size());
  EXPECT_EQ(stats->blocks_done, allocated.size());
  EXPECT_EQ(stats->bytes_read, bytes_.size());
  EXPECT_EQ(stats->bytes_written, allocated.size() * kDefaultBlockSize);  // qemu sets all bits
  ASSERT_EQ(progress.size(), allocated.size());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
}

// Given a VDI pre-filled with 0xAA, When the VHD is imported, Then allocated blocks hold the
// source and every unallocated block still holds 0xAA (xapi writes only allocated data).
TEST_F(QemuVhdTest, UnallocatedBlocksKeepTheVdisOldContent) {
  MemoryBlockWriter vdi(kRawSize, 0xAA);
  auto stats = ServeBytes(bytes_, bytes_.size(), vdi);
  ASSERT_TRUE(stats.ok()) << stats.error().message();

  std::vector<bool> allocated(kRawSize / kDefaultBlockSize, false);
  for (const auto& [index, sector] : AllocatedBlocks(bytes_)) allocated[index] = true;
  ASSERT_GT(std::count(allocated.begin(), allocated.end(), false), 0);
  for (size_t b = 0; b < allocated.size(); ++b) {
    const auto begin = b * kDefaultBlockSize, end = begin + kDefaultBlockSize;
    if (allocated[b]) {
      EXPECT_TRUE(
          std::equal(vdi.data.begin() + begin, vdi.data.begin() + end, raw_bytes().begin() + begin))
          << "block " << b;
    } else {
      EXPECT_TRUE(std::all_of(vdi.data.begin() + begin, vdi.data.begin() + end,
                              [](uint8_t v) { return v == 0xAA; }))
          << "block " << b;
    }
  }
  EXPECT_EQ(vdi.syncs, 1);
}

// Given a reader that returns at most 4093 bytes per call and a body followed by junk, When the
// VHD is served with the exact Content-Length, Then the import succeeds and not one byte past
// Content-Length is read.
TEST_F(QemuVhdTest, ShortReadsWorkAndNothingPastContentLengthIsRead) {
  std::vector<uint8_t> body = bytes_;
  body.resize(body.size() + 4096, 0x5A);
  MemoryByteReader reader(body, 4093);
  MemoryBlockWriter vdi(kRawSize);
  auto stats = ServeVhd(reader, bytes_.size(), vdi, {});
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(reader.position(), bytes_.size());
  EXPECT_TRUE(vdi.data == raw_bytes());
}

// ---- vhd: every malformed body is a distinct, clear error ----

// Given a footer copy whose checksum no longer matches, When served, Then the import fails before
// writing anything, naming the footer at offset 0 and the checksum.
TEST_F(QemuVhdTest, BadFooterChecksumFails) {
  bytes_[300] ^= 1;
  MemoryBlockWriter vdi(kRawSize);
  auto r = ServeBytes(bytes_, bytes_.size(), vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(r.error().message().find("VHD footer at offset 0: bad checksum 0x"), 0u)
      << r.error().message();
  EXPECT_EQ(vdi.writes, 0);
}

// Given a VHD whose trailing footer is corrupt, When served, Then all data is written first (the
// trailing footer is only checked at the end, as in vhd-tool) and the import fails without Sync.
TEST_F(QemuVhdTest, BadTrailingFooterFailsAfterTheData) {
  bytes_[bytes_.size() - 512 + 300] ^= 1;
  MemoryBlockWriter vdi(kRawSize);
  auto r = ServeBytes(bytes_, bytes_.size(), vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().find("trailing VHD footer at offset " +
                                     std::to_string(bytes_.size() - 512) + ": bad checksum"),
            0u)
      << r.error().message();
  EXPECT_TRUE(vdi.data == raw_bytes());
  EXPECT_EQ(vdi.syncs, 0);
}

// Given a header with a corrupted reserved byte, When served, Then the header checksum is named.
TEST_F(QemuVhdTest, BadHeaderChecksumFails) {
  bytes_[512 + 900] ^= 1;
  MemoryBlockWriter vdi(kRawSize);
  auto r = ServeBytes(bytes_, bytes_.size(), vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().find("VHD dynamic header at offset 512: bad checksum 0x"), 0u)
      << r.error().message();
  EXPECT_EQ(vdi.writes, 0);
}

// Given a header whose cookie is wrong, When served, Then the cookie and its bad value are named.
TEST_F(QemuVhdTest, WrongHeaderCookieFails) {
  std::memcpy(bytes_.data() + 512, "cxsparsf", 8);
  MemoryBlockWriter vdi(kRawSize);
  auto r = ServeBytes(bytes_, bytes_.size(), vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "VHD dynamic header at offset 512: bad cookie \"cxsparsf\" (expected \"cxsparse\")");
}

// Given a BAT entry pointing into the header (before the BAT), When served, Then the forward-only
// reader refuses to seek back, naming the block, and nothing is written.
TEST_F(QemuVhdTest, BatEntryBeforeTheBatFails) {
  const auto allocated = AllocatedBlocks(bytes_);
  const uint32_t index = allocated[2].first;
  SetBe32(bytes_, vhd::kDefaultTableOffset + 4 * index, 2);  // offset 1024, inside the header
  MemoryBlockWriter vdi(kRawSize);
  auto r = ServeBytes(bytes_, bytes_.size(), vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(r.error().message(),
            "block " + std::to_string(index) +
                " (BAT sector 2) at offset 1024 lies before the current stream position 2048 "
                "(vhd-tool reads the body forward-only and cannot seek back)");
  EXPECT_EQ(vdi.writes, 0);
}

// Given two BAT entries whose blocks overlap, When served, Then the first block is written and the
// second, which starts inside it, is refused as a backwards seek.
TEST_F(QemuVhdTest, OverlappingBlocksFail) {
  const auto allocated = AllocatedBlocks(bytes_);
  SetBe32(bytes_, vhd::kDefaultTableOffset + 4 * allocated[1].first, allocated[0].second + 8);
  MemoryBlockWriter vdi(kRawSize);
  auto r = ServeBytes(bytes_, bytes_.size(), vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message(), "block " + std::to_string(allocated[1].first)))
      << r.error().message();
  EXPECT_TRUE(Contains(r.error().message(), "lies before the current stream position"));
  EXPECT_TRUE(
      std::equal(vdi.data.begin(), vdi.data.begin() + kDefaultBlockSize, raw_bytes().begin()));
}

// Given a body cut in the middle of the data while Content-Length announces the whole file, When
// served, Then the error says where the body ended and what was being read.
TEST_F(QemuVhdTest, TruncatedBodyFails) {
  const uint64_t full = bytes_.size();
  std::vector<uint8_t> cut(bytes_.begin(), bytes_.begin() + static_cast<long>(full / 2));
  MemoryBlockWriter vdi(kRawSize);
  auto r = ServeBytes(cut, full, vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(r.error().message().find("body ended after " + std::to_string(full / 2) +
                                     " bytes of Content-Length " + std::to_string(full) +
                                     ", while reading the data of block "),
            0u)
      << r.error().message();
}

// Given a 64 MiB VHD and a 32 MiB VDI, When served, Then the first allocated block past the end
// fails the import with kIo, after every block before it was written (xapi has no size check).
TEST_F(QemuVhdTest, AllocatedBlockPastTheVdiEndFails) {
  MemoryBlockWriter vdi(32 * kMiB);
  auto r = ServeBytes(bytes_, bytes_.size(), vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_TRUE(Contains(r.error().message(), "lie past the end of the VDI (size 33554432)"))
      << r.error().message();
  EXPECT_TRUE(Contains(r.error().message(), "of block 20 "));
  EXPECT_TRUE(std::equal(vdi.data.begin(), vdi.data.end(), raw_bytes().begin()));
}

// Given a fixed VHD (qemu subformat=fixed), When served as format=vhd, Then it fails: there is no
// footer copy at offset 0, and the message says a fixed VHD cannot be streamed.
TEST_F(QemuVhdTest, FixedVhdIsRejected) {
  const std::string fixed = dir().File("fixed.vhd");
  ASSERT_EQ(vt::RunQemuImg({"convert", "-O", "vpc", "-o", "subformat=fixed", raw_, fixed}), "");
  MemoryBlockWriter vdi(kRawSize + 512);
  auto r = ServeVhdFile(fixed, vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(r.error().message().find("no VHD footer copy at offset 0 (VHD footer at offset 0: "
                                     "bad cookie "),
            0u)
      << r.error().message();
  EXPECT_TRUE(Contains(r.error().message(),
                       "a fixed VHD keeps its only footer at the end and "
                       "cannot be streamed as format=vhd"));
  EXPECT_EQ(vdi.writes, 0);
}

// Given a Content-Length that is not a multiple of 512, When served, Then the trailing footer at
// (Content-Length - 1) & ~511 would extend past the body, which is an error.
TEST_F(QemuVhdTest, TrailingFooterPastContentLengthFails) {
  bytes_.resize(bytes_.size() + 100, 0);
  MemoryBlockWriter vdi(kRawSize);
  auto r = ServeBytes(bytes_, bytes_.size(), vdi);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message(), "the trailing VHD footer at offset " +
                                                std::to_string(bytes_.size() - 100) + " (bytes "))
      << r.error().message();
  EXPECT_TRUE(Contains(r.error().message(), "extends past the end of the body"));
}

// ---- vhd: hand-built images ----

struct BlockSpec {
  uint32_t index;
  std::vector<uint8_t> bitmap;  // 512 bytes
  std::vector<uint8_t> data;    // 2 MiB
};

// A dynamic VHD of `size` with the given blocks stored in the given (physical) order.
std::vector<uint8_t> BuildVhd(uint64_t size, const std::vector<BlockSpec>& blocks) {
  vhd::Footer footer;
  footer.creator_app = {'t', 'e', 's', 't'};
  footer.current_size = footer.original_size = size;
  footer.geometry = vhd::GeometryForSize(size);
  vhd::DynamicHeader header;
  header.max_table_entries =
      static_cast<uint32_t>((size + kDefaultBlockSize - 1) / kDefaultBlockSize);
  std::vector<uint32_t> bat(header.max_table_entries, vhd::kBatUnused);
  uint64_t next = vhd::kDefaultTableOffset + vhd::BatSizeBytes(bat.size());
  for (const BlockSpec& b : blocks) {
    bat[b.index] = static_cast<uint32_t>(next / 512);
    next += 512 + kDefaultBlockSize;
  }
  std::vector<uint8_t> out;
  auto append = [&out](const auto& bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); };
  append(footer.Marshal());
  append(header.Marshal());
  append(vhd::MarshalBat(bat));
  for (const BlockSpec& b : blocks) {
    append(b.bitmap);
    append(b.data);
  }
  append(footer.Marshal());
  return out;
}

// Given a hand-built VHD whose bitmaps have cleared bits (including a byte-unaligned run and an
// isolated set bit), stored with block 3 before block 0, When served into a 0xAA VDI, Then exactly
// the sectors whose bit is set are written and every other sector keeps 0xAA.
TEST(VhdToolTest, ClearedBitmapBitsLeaveSectorsUntouched) {
  const uint64_t size = 8 * kMiB;
  BlockSpec b3{3, std::vector<uint8_t>(512, 0xFF), vt::RandomBytes(kDefaultBlockSize, 33)};
  for (uint64_t s = 10; s < 21; ++s) vhd::BitmapClear(b3.bitmap, s);  // crosses a byte edge
  vhd::BitmapClear(b3.bitmap, 4095);
  BlockSpec b0{0, std::vector<uint8_t>(512, 0x00), vt::RandomBytes(kDefaultBlockSize, 44)};
  vhd::BitmapSet(b0.bitmap, 0);
  for (uint64_t s = 1000; s < 1100; ++s) vhd::BitmapSet(b0.bitmap, s);
  vhd::BitmapSet(b0.bitmap, 4095);
  const auto body = BuildVhd(size, {b3, b0});

  MemoryBlockWriter vdi(size, 0xAA);
  auto stats = ServeBytes(body, body.size(), vdi, 1000);
  ASSERT_TRUE(stats.ok()) << stats.error().message();

  std::vector<uint8_t> expected(size, 0xAA);
  for (const BlockSpec* b : {&b3, &b0}) {
    for (uint64_t s = 0; s < 4096; ++s) {
      if (!vhd::BitmapTest(b->bitmap, s)) continue;
      std::copy_n(b->data.begin() + static_cast<long>(s * 512), 512,
                  expected.begin() + static_cast<long>(b->index * kDefaultBlockSize + s * 512));
    }
  }
  EXPECT_TRUE(vdi.data == expected);
  EXPECT_EQ(stats->bytes_written, (4096 - 12 + 1 + 100 + 1) * 512u);
  EXPECT_EQ(stats->blocks_total, 2u);
  // Coalesced: b3 has runs [0,10) [21,4095); b0 has {0} [1000,1100) {4095}.
  EXPECT_EQ(vdi.writes, 5);
}

// Given two BAT entries naming the same sector, When served, Then — as vhd-tool's sector-keyed map
// does — only the higher block index receives the data and the lower one is silently skipped.
TEST(VhdToolTest, DuplicateBatSectorsKeepTheHighestIndex) {
  const uint64_t size = 8 * kMiB;
  BlockSpec b1{1, std::vector<uint8_t>(512, 0xFF), vt::RandomBytes(kDefaultBlockSize, 5)};
  auto body = BuildVhd(size, {b1});
  const uint32_t sector =
      static_cast<uint32_t>((vhd::kDefaultTableOffset + vhd::BatSizeBytes(4)) / 512);
  SetBe32(body, vhd::kDefaultTableOffset + 4 * 0, sector);
  SetBe32(body, vhd::kDefaultTableOffset + 4 * 2, sector);
  MemoryBlockWriter vdi(size, 0xAA);
  auto stats = ServeBytes(body, body.size(), vdi);
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->blocks_total, 1u);
  EXPECT_TRUE(std::all_of(vdi.data.begin(), vdi.data.begin() + 4 * kMiB,
                          [](uint8_t v) { return v == 0xAA; }));
  EXPECT_TRUE(std::equal(b1.data.begin(), b1.data.end(), vdi.data.begin() + 4 * kMiB));
}

// ---- vhd: sizes (vhd-format.md §0.3) ----

// Given a source whose size is not a multiple of 2 MiB with data in the last, partial block, and
// its qemu force_size VHD (qemu sets every bitmap bit of that block), When served into a VDI
// rounded up to 2 MiB as SM rounds every VDI, Then the import succeeds, the first raw-size bytes
// equal the source and the rest of the last block is zero; into a VDI of exactly the raw size the
// import fails (the block's tail lies past the end) after writing everything that fits.
TEST(VhdToolTest, LastPartialBlockNeedsTheVdiRoundedToTwoMiB) {
  REQUIRE_QEMU_IMG();
  vt::ScratchDir dir;
  const uint64_t raw_size = 63 * kMiB + 3584;
  const std::string raw =
      MakeRaw(dir, "odd.raw", raw_size, {{2 * kMiB + 512, kMiB}, {raw_size - kMiB, kMiB}});
  const std::string vhd = dir.File("odd.vhd");
  ASSERT_EQ(
      vt::RunQemuImg({"convert", "-O", "vpc", "-o", "subformat=dynamic,force_size=on", raw, vhd}),
      "");
  const auto raw_bytes = vt::ReadFile(raw);

  MemoryBlockWriter rounded(64 * kMiB, 0);
  std::fill(rounded.data.begin() + static_cast<long>(raw_size), rounded.data.end(), 0xAA);
  auto ok = ServeVhdFile(vhd, rounded);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_TRUE(std::equal(raw_bytes.begin(), raw_bytes.end(), rounded.data.begin()));
  EXPECT_TRUE(std::all_of(rounded.data.begin() + static_cast<long>(raw_size), rounded.data.end(),
                          [](uint8_t v) { return v == 0; }));

  MemoryBlockWriter exact(raw_size, 0);
  auto r = ServeVhdFile(vhd, exact);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message(), "of block 31 ")) << r.error().message();
  EXPECT_TRUE(Contains(r.error().message(),
                       "lie past the end of the VDI (size " + std::to_string(raw_size) + ")"));
  EXPECT_TRUE(exact.data == raw_bytes);
}

// Given a 2 GiB sparse source with data up to its last MiB and qemu's default (CHS-rounded) VHD of
// it, whose current_size is 2,147,991,552, When served into a VDI of exactly 2 GiB, Then the import
// succeeds (the extra partial block is never allocated) and the VDI equals the source.
TEST(VhdToolTest, QemuChsRoundedVhdImportsIntoTheExactRawSize) {
  REQUIRE_QEMU_IMG();
  vt::ScratchDir dir;
  const uint64_t raw_size = 2048 * kMiB;
  const std::string raw = MakeRaw(dir, "big.raw", raw_size,
                                  {{0, kMiB}, {1024 * kMiB + 4096, kMiB}, {raw_size - kMiB, kMiB}});
  const std::string vhd = dir.File("big.vhd");
  ASSERT_EQ(vt::RunQemuImg({"convert", "-O", "vpc", "-o", "subformat=dynamic", raw, vhd}), "");
  const auto footer_bytes = vt::ReadAt(vhd, 0, 512);
  auto footer = vhd::Footer::Unmarshal(footer_bytes, 0);
  ASSERT_TRUE(footer.ok());
  ASSERT_EQ(footer->current_size, 2147991552ULL);

  const std::string target = dir.File("vdi.img");
  auto writer = FileBlockWriter::Open(target, raw_size);
  ASSERT_TRUE(writer.ok()) << writer.error().message();
  ASSERT_FALSE(vt::FilesEqual(raw, target));  // the comparison can fail
  auto stats = ServeVhdFile(vhd, **writer);
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->blocks_total, 3u);
  EXPECT_TRUE(vt::FilesEqual(raw, target));
}

// ---- raw ----

std::vector<uint8_t> RawBody(size_t n) {
  auto body = vt::RandomBytes(n, 99);
  std::fill(body.begin() + static_cast<long>(n / 4), body.begin() + static_cast<long>(n / 2), 0);
  return body;
}

// Given a raw body shorter than the VDI (zeros included), When served, Then exactly Content-Length
// bytes are written from offset 0 — zeros too — and the VDI's tail is untouched.
TEST(VhdToolTest, RawCopiesExactlyContentLength) {
  const size_t n = 5 * kMiB + 123;
  const auto body = RawBody(n);
  MemoryByteReader reader(body, 65536 + 7);
  MemoryBlockWriter vdi(8 * kMiB, 0xAA);
  std::vector<double> progress;
  auto stats = ServeRaw(reader, n, vdi, [&](double f) { progress.push_back(f); });
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_TRUE(std::equal(body.begin(), body.end(), vdi.data.begin()));
  EXPECT_TRUE(std::all_of(vdi.data.begin() + static_cast<long>(n), vdi.data.end(),
                          [](uint8_t v) { return v == 0xAA; }));
  EXPECT_EQ(stats->bytes_read, n);
  EXPECT_EQ(stats->bytes_written, n);
  EXPECT_EQ(stats->blocks_total, 3u);
  EXPECT_EQ(stats->blocks_done, 3u);
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_DOUBLE_EQ(progress[0], 2.0 * kMiB / static_cast<double>(n));
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
  EXPECT_EQ(vdi.syncs, 1);
}

// Given a body followed by more bytes, When served with a smaller Content-Length, Then only
// Content-Length bytes are consumed.
TEST(VhdToolTest, RawReadsNothingPastContentLength) {
  const auto body = RawBody(3 * kMiB);
  MemoryByteReader reader(body);
  MemoryBlockWriter vdi(4 * kMiB, 0xAA);
  auto stats = ServeRaw(reader, kMiB, vdi, {});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(reader.position(), kMiB);
  EXPECT_EQ(vdi.data[kMiB], 0xAA);
}

// Given Content-Length larger than the VDI, When served, Then everything up to the VDI's end is
// written and the import then fails with kIo (xapi's "unhelpful" failure on some write).
TEST(VhdToolTest, RawLargerThanTheVdiFailsAtTheEnd) {
  const size_t n = 5 * kMiB;
  const auto body = RawBody(n);
  MemoryByteReader reader(body);
  MemoryBlockWriter vdi(3 * kMiB + 512);
  auto r = ServeRaw(reader, n, vdi, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_EQ(r.error().message(),
            "raw upload of Content-Length 5242880: bytes 2097152..4194304 lie past the end of the "
            "VDI (size 3146240)");
  EXPECT_TRUE(std::equal(vdi.data.begin(), vdi.data.end(), body.begin()));
  EXPECT_EQ(vdi.syncs, 0);
}

// Given a body shorter than Content-Length, When served, Then the import fails naming both.
TEST(VhdToolTest, RawShortBodyFails) {
  const auto body = RawBody(3 * kMiB);
  MemoryByteReader reader(body);
  MemoryBlockWriter vdi(8 * kMiB);
  auto r = ServeRaw(reader, 4 * kMiB, vdi, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(r.error().message(),
            "body ended after 3145728 bytes of Content-Length 4194304, while reading raw data at "
            "offset 2097152");
  EXPECT_EQ(vdi.syncs, 0);
}

// Given Content-Length 0, When served, Then nothing is written and the import succeeds.
TEST(VhdToolTest, RawEmptyBody) {
  MemoryByteReader reader({});
  MemoryBlockWriter vdi(kMiB, 0xAA);
  auto stats = ServeRaw(reader, 0, vdi, {});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->bytes_written, 0u);
  EXPECT_EQ(vdi.writes, 0);
}

// ---- raw + chunked ----

void AppendFrame(std::vector<uint8_t>& body, uint64_t offset, const std::vector<uint8_t>& data) {
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<uint8_t>(offset >> (8 * i)));
  const auto len = static_cast<uint32_t>(data.size());
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<uint8_t>(len >> (8 * i)));
  body.insert(body.end(), data.begin(), data.end());
}

void AppendTerminator(std::vector<uint8_t>& body) { body.insert(body.end(), 12, 0); }

// Given frames out of order (one larger than the 2 MiB copy buffer, one empty at a non-zero
// offset) and the all-zero terminator, When served, Then exactly the framed bytes are written and
// bytes after the terminator are not read.
TEST(VhdToolTest, ChunkedWritesOnlyTheFrames) {
  const auto a = vt::RandomBytes(3 * kMiB + 5, 1), b = vt::RandomBytes(1000, 2);
  std::vector<uint8_t> body;
  AppendFrame(body, 4 * kMiB, b);
  AppendFrame(body, 12345, {});
  AppendFrame(body, 100, a);
  AppendTerminator(body);
  const size_t framed = body.size();
  body.resize(body.size() + 50, 0x77);

  MemoryByteReader reader(body, 333333);
  MemoryBlockWriter vdi(8 * kMiB, 0xAA);
  auto stats = ServeChunked(reader, vdi, {});
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  std::vector<uint8_t> expected(8 * kMiB, 0xAA);
  std::copy(a.begin(), a.end(), expected.begin() + 100);
  std::copy(b.begin(), b.end(), expected.begin() + 4 * kMiB);
  EXPECT_TRUE(vdi.data == expected);
  EXPECT_EQ(reader.position(), framed);
  EXPECT_EQ(stats->bytes_read, framed);
  EXPECT_EQ(stats->bytes_written, a.size() + b.size());
  EXPECT_EQ(stats->blocks_total, 3u);
  EXPECT_EQ(vdi.syncs, 1);
}

// Given a frame that ends one byte past the VDI, When served, Then it fails before writing any of
// that frame's bytes; earlier frames stay written.
TEST(VhdToolTest, ChunkedFramePastTheEndFails) {
  std::vector<uint8_t> body;
  AppendFrame(body, 0, std::vector<uint8_t>(512, 1));
  AppendFrame(body, kMiB - 511, std::vector<uint8_t>(512, 2));
  AppendTerminator(body);
  MemoryByteReader reader(body);
  MemoryBlockWriter vdi(kMiB);
  auto r = ServeChunked(reader, vdi, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_EQ(r.error().message(),
            "chunk 1 at offset 1048065 with length 512 ends past the end of the VDI (size "
            "1048576)");
  EXPECT_EQ(vdi.writes, 1);
  EXPECT_EQ(vdi.data[kMiB - 1], 0);
}

// Given a body that ends without the terminator, or inside a frame, When served, Then each fails.
TEST(VhdToolTest, ChunkedBodyMustEndWithTheTerminator) {
  std::vector<uint8_t> body;
  AppendFrame(body, 0, std::vector<uint8_t>(100, 1));
  {
    MemoryByteReader reader(body);
    MemoryBlockWriter vdi(kMiB);
    auto r = ServeChunked(reader, vdi, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(),
              "body ended after 112 bytes, while reading chunk header 1 (the body must end with a "
              "12-byte all-zero header)");
  }
  body.resize(body.size() - 10);
  {
    MemoryByteReader reader(body);
    MemoryBlockWriter vdi(kMiB);
    auto r = ServeChunked(reader, vdi, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "body ended after 102 bytes, while reading the data of chunk 0");
    EXPECT_EQ(vdi.writes, 0);
  }
}

// ---- FileBlockWriter ----

// Given a path that does not exist, When opened with a size, Then a sparse file of that size is
// created; writes inside land at their offsets; a write ending past the end fails and writes
// nothing; reopening without a size reports the file's size.
TEST(FileBlockWriterTest, FixedSizeBackingFile) {
  vt::ScratchDir dir;
  const std::string path = dir.File("vdi.img");
  auto w = FileBlockWriter::Open(path, 3 * kMiB);
  ASSERT_TRUE(w.ok()) << w.error().message();
  EXPECT_EQ((*w)->size(), 3 * kMiB);
  EXPECT_EQ(FileSize(path), 3 * kMiB);
  const std::vector<uint8_t> data(1000, 0x42);
  ASSERT_TRUE((*w)->WriteAt(kMiB + 3, data.data(), data.size()).ok());
  auto past = (*w)->WriteAt(3 * kMiB - 999, data.data(), data.size());
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code(), ErrorCode::kIo);
  EXPECT_TRUE(Contains(past.error().message(), "ends past the end of"));
  ASSERT_TRUE((*w)->Sync().ok());
  w->reset();  // closes the file

  EXPECT_EQ(vt::ReadAt(path, kMiB + 3, 1000), data);
  EXPECT_EQ(vt::ReadAt(path, 3 * kMiB - 999, 999), std::vector<uint8_t>(999, 0));
  auto reopened = FileBlockWriter::Open(path);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->size(), 3 * kMiB);
  EXPECT_FALSE(FileBlockWriter::Open(dir.File("missing")).ok());
}

}  // namespace
}  // namespace fruix::sim
