#include "lib/vhd/format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "tests/lib/vhd/test_images.h"

namespace fruix::vhd {
namespace {

using testing::ReadAt;
using testing::ReadFile;
using testing::RunQemuImg;
using testing::ScratchDir;

#define REQUIRE_QEMU_IMG()                                                                  \
  do {                                                                                      \
    if (!testing::HaveQemuImg()) {                                                          \
      GTEST_SKIP() << "\n*** qemu-img NOT FOUND: this test needs it (Debian: qemu-utils). " \
                      "SKIPPED, NOT PASSED. ***\n";                                         \
    }                                                                                       \
  } while (0)

Footer SampleFooter() {
  Footer f;
  f.features = kFeatureReserved | kFeatureTemporary;
  f.data_offset = 512;
  f.timestamp = 0x2d3e4f50;
  f.creator_app = {'x', 'c', 'p', 'd'};
  f.creator_version = 0x00010003;
  f.creator_host_os = kCreatorHostWindows;
  f.original_size = 3ULL << 30;
  f.current_size = (3ULL << 30) + 512;
  f.geometry = GeometryForSize(f.current_size);
  f.disk_type = DiskType::kDynamic;
  for (size_t i = 0; i < f.unique_id.size(); ++i) f.unique_id[i] = static_cast<uint8_t>(i * 17 + 1);
  f.saved_state = 1;
  return f;
}

DynamicHeader SampleHeader() {
  DynamicHeader h;
  h.table_offset = 2048;
  h.max_table_entries = 1537;
  h.block_size = 4u << 20;
  for (size_t i = 0; i < h.parent_unique_id.size(); ++i) h.parent_unique_id[i] = uint8_t(200 - i);
  h.parent_timestamp = 12345;
  h.parent_unicode_name[1] = 'p';
  h.parent_unicode_name[3] = '.';
  h.parent_locators[0] = {0x4D616358, 1, 20, 0, 1536};  // MacX
  h.parent_locators[7] = {0x57326B75, 2, 40, 0, 4096};  // W2ku
  return h;
}

// Given a footer with every field set, When it is marshalled and parsed back, Then all fields
// survive and the stored checksum is the one Checksum() computes over the bytes.
TEST(FormatTest, FooterRoundTrip) {
  const Footer f = SampleFooter();
  const auto bytes = f.Marshal();
  EXPECT_EQ(std::memcmp(bytes.data(), "conectix", 8), 0);
  auto back = Footer::Unmarshal(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->checksum, Checksum(bytes, kFooterChecksumOffset));
  Footer expected = f;
  expected.checksum = back->checksum;
  EXPECT_EQ(*back, expected);
  // Reserved bytes are zero.
  EXPECT_TRUE(std::all_of(bytes.begin() + 85, bytes.end(), [](uint8_t b) { return b == 0; }));
}

// Given a header with parent locators, When marshalled and parsed back, Then it is unchanged.
TEST(FormatTest, HeaderRoundTrip) {
  const DynamicHeader h = SampleHeader();
  const auto bytes = h.Marshal();
  auto back = DynamicHeader::Unmarshal(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->checksum, Checksum(bytes, kHeaderChecksumOffset));
  DynamicHeader expected = h;
  expected.checksum = back->checksum;
  EXPECT_EQ(*back, expected);
  EXPECT_EQ(back->SectorsPerBlock(), 8192u);
  EXPECT_TRUE(std::all_of(bytes.begin() + 768, bytes.end(), [](uint8_t b) { return b == 0; }));
}

// Given 512 bytes holding only the cookie "conectix", When checksummed, Then the result is
// ~(sum of the cookie bytes = 861), whatever the checksum field holds.
TEST(FormatTest, ChecksumKnownAnswer) {
  std::vector<uint8_t> b(512, 0);
  std::memcpy(b.data(), "conectix", 8);
  EXPECT_EQ(Checksum(b, kFooterChecksumOffset), ~uint32_t{861});
  std::fill(b.begin() + 64, b.begin() + 68, 0xFF);
  EXPECT_EQ(Checksum(b, kFooterChecksumOffset), ~uint32_t{861});
  b[100] = 0x10;
  EXPECT_EQ(Checksum(b, kFooterChecksumOffset), ~uint32_t{861 + 16});
}

// Given the spec's CHS algorithm, When applied to the sizes vhd-format.md §1.5 works through,
// Then it yields the documented geometries (2 GiB -> 4161/16/63, rounded down; the maximum caps at
// 65535/16/255).
TEST(FormatTest, GeometryKnownAnswers) {
  EXPECT_EQ(GeometryForSize(2ULL << 30), (Geometry{4161, 16, 63}));
  EXPECT_EQ(GeometryForSize(2ULL << 30).TotalSectors() * 512, 2147475456ULL);
  EXPECT_EQ(GeometryForSize(2147991552ULL), (Geometry{4162, 16, 63}));
  EXPECT_EQ(GeometryForSize(kMaxVirtualSize), kMaxGeometry);
  EXPECT_EQ(GeometryForSize(0), (Geometry{0, 4, 17}));
}

// Given BAT and bitmap sizing rules, When asked for sizes, Then BATs pad to 512 (1025 entries =
// 4608 B as in qemu's default 2 GiB image) and a 2 MiB block's bitmap is one sector.
TEST(FormatTest, BatAndBitmapSizes) {
  EXPECT_EQ(BatSizeBytes(0), 0u);
  EXPECT_EQ(BatSizeBytes(1), 512u);
  EXPECT_EQ(BatSizeBytes(128), 512u);
  EXPECT_EQ(BatSizeBytes(129), 1024u);
  EXPECT_EQ(BatSizeBytes(1024), 4096u);
  EXPECT_EQ(BatSizeBytes(1025), 4608u);
  EXPECT_EQ(BitmapSizeBytes(kDefaultBlockSize), 512u);
  EXPECT_EQ(BitmapSizeBytes(512), 512u);
  EXPECT_EQ(BitmapSizeBytes(4u << 20), 1024u);
  EXPECT_EQ(BitmapSizeBytes(1u << 31), 512u * 1024);
}

// Given BAT entries, When marshalled, Then they are big-endian and padded with 0xFF; parsing
// returns them; a too-short buffer is an error.
TEST(FormatTest, BatMarshal) {
  const std::vector<uint32_t> entries = {kBatUnused, 11, 0x01020304};
  const auto bytes = MarshalBat(entries);
  ASSERT_EQ(bytes.size(), 512u);
  EXPECT_EQ(bytes[4], 0x00);
  EXPECT_EQ(bytes[7], 11);
  EXPECT_EQ(bytes[8], 0x01);
  EXPECT_EQ(bytes[11], 0x04);
  EXPECT_TRUE(std::all_of(bytes.begin() + 12, bytes.end(), [](uint8_t b) { return b == 0xFF; }));
  auto back = UnmarshalBat(bytes, 3);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, entries);
  auto short_bat = UnmarshalBat(std::span(bytes).first(8), 3);
  ASSERT_FALSE(short_bat.ok());
  EXPECT_NE(short_bat.error().message().find("3 entries need 12 bytes, got 8"), std::string::npos);
}

// Given a zeroed bitmap, When sector bits are set and cleared, Then the order is MSB first.
TEST(FormatTest, BitmapBitsAreMsbFirst) {
  std::vector<uint8_t> bm(512, 0);
  BitmapSet(bm, 0);
  EXPECT_EQ(bm[0], 0x80);
  BitmapSet(bm, 7);
  EXPECT_EQ(bm[0], 0x81);
  BitmapSet(bm, 8);
  EXPECT_EQ(bm[1], 0x80);
  BitmapSet(bm, 4095);
  EXPECT_EQ(bm[511], 0x01);
  EXPECT_TRUE(BitmapTest(bm, 7));
  EXPECT_FALSE(BitmapTest(bm, 6));
  BitmapClear(bm, 0);
  EXPECT_EQ(bm[0], 0x01);
  EXPECT_FALSE(BitmapTest(bm, 0));
}

TEST(FormatTest, TimestampEpoch) {
  EXPECT_EQ(VhdTimestampFromUnix(946684800), 0u);
  EXPECT_EQ(VhdTimestampFromUnix(946684800 + 86400), 86400u);
  EXPECT_EQ(VhdTimestampFromUnix(0), 0u);
}

// ---- Validation: every rejected field names itself, the bad value and the offset ----

std::string FooterError(std::array<uint8_t, kFooterSize> bytes, std::optional<uint64_t> at) {
  auto r = Footer::Unmarshal(bytes, at);
  if (r.ok()) return "(accepted)";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  return r.error().message();
}

void Refresh(std::span<uint8_t> bytes, size_t checksum_offset) {
  const uint32_t c = Checksum(bytes, checksum_offset);
  for (int i = 0; i < 4; ++i) bytes[checksum_offset + i] = uint8_t(c >> (24 - 8 * i));
}

// Given footers each broken in one field, When parsed, Then each error is distinct and precise.
TEST(FormatTest, FooterValidationErrors) {
  const auto good = SampleFooter().Marshal();

  auto b = good;
  std::memcpy(b.data(), "conectiy", 8);
  EXPECT_EQ(FooterError(b, 4096),
            "VHD footer at offset 4096: bad cookie \"conectiy\" (expected \"conectix\")");

  b = good;
  b[12] = 0x00;
  b[13] = 0x02;
  Refresh(b, kFooterChecksumOffset);
  EXPECT_EQ(FooterError(b, 0),
            "VHD footer at offset 0: unsupported file format version 0x20000 (expected 0x10000)");

  b = good;
  b[63] = 7;
  Refresh(b, kFooterChecksumOffset);
  EXPECT_EQ(FooterError(b, std::nullopt),
            "VHD footer: bad disk type 7 (expected 2 = fixed, 3 = dynamic or 4 = differencing)");

  b = good;
  b[300] = 1;  // a reserved byte: only the checksum can notice
  const std::string msg = FooterError(b, 512);
  EXPECT_EQ(msg.find("VHD footer at offset 512: bad checksum 0x"), 0u) << msg;
  EXPECT_NE(msg.find("(computed 0x"), std::string::npos) << msg;

  auto short_bytes = Footer::Unmarshal(std::span(good).first(511));
  ASSERT_FALSE(short_bytes.ok());
  EXPECT_EQ(short_bytes.error().message(), "VHD footer: needs 512 bytes, got 511");
}

std::string HeaderError(std::array<uint8_t, kDynamicHeaderSize> bytes) {
  auto r = DynamicHeader::Unmarshal(bytes, 512);
  if (r.ok()) return "(accepted)";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  return r.error().message();
}

void SetBe32(std::span<uint8_t> b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (24 - 8 * i));
}

// Given headers each broken in one field (checksum kept valid), When parsed, Then each error
// names the field and the bad value.
TEST(FormatTest, HeaderValidationErrors) {
  const auto good = SampleHeader().Marshal();
  const std::string at = "VHD dynamic header at offset 512: ";

  auto b = good;
  std::memcpy(b.data(), "cxspars\0", 8);
  EXPECT_EQ(HeaderError(b), at + "bad cookie \"cxspars\\x00\" (expected \"cxsparse\")");

  b = good;
  SetBe32(b, 8, 0);  // the spec's literal "0xFFFFFFFF" in 8 bytes, which ocaml-vhd refuses
  Refresh(b, kHeaderChecksumOffset);
  EXPECT_EQ(HeaderError(b), at + "bad data offset 0xffffffff (expected 0xffffffffffffffff)");

  b = good;
  SetBe32(b, 24, 0x00020000);
  Refresh(b, kHeaderChecksumOffset);
  EXPECT_EQ(HeaderError(b), at + "unsupported header version 0x20000 (expected 0x10000)");

  for (uint32_t bad : {0u, 3u << 20, 256u}) {
    b = good;
    SetBe32(b, 32, bad);
    Refresh(b, kHeaderChecksumOffset);
    EXPECT_EQ(HeaderError(b), at + "bad block size " + std::to_string(bad) +
                                  " (must be a power of two of at least 512)");
  }

  b = good;
  SetBe32(b, 576 + 24 * 3, 0x41424344);  // "ABCD"
  Refresh(b, kHeaderChecksumOffset);
  EXPECT_EQ(HeaderError(b), at + "parent locator 3 has unknown platform code 0x41424344 \"ABCD\"");

  b = good;
  b[900] = 9;  // reserved
  const std::string msg = HeaderError(b);
  EXPECT_EQ(msg.find(at + "bad checksum 0x"), 0u) << msg;
}

// ---- Known answers from qemu-img ----

struct QemuImage {
  std::vector<uint8_t> file;
  Footer footer;
  DynamicHeader header;
};

QemuImage ParseQemuImage(const std::string& path) {
  QemuImage img;
  img.file = ReadFile(path);
  EXPECT_GE(img.file.size(), 2048u);
  auto footer = Footer::Unmarshal(std::span(img.file).first(512), 0);
  EXPECT_TRUE(footer.ok()) << footer.error().message();
  if (!footer.ok()) return img;
  img.footer = *footer;
  auto header =
      DynamicHeader::Unmarshal(std::span(img.file).subspan(footer->data_offset, 1024), 512);
  EXPECT_TRUE(header.ok()) << header.error().message();
  if (header.ok()) img.header = *header;
  return img;
}

// Given an image qemu-img creates with force_size at an odd size, When its footer and header are
// parsed, Then they validate, carry the exact size, and re-marshal to the identical bytes (so our
// checksum matches qemu's); the trailing footer equals the copy and the BAT is all unused.
TEST(FormatTest, QemuForceSizeImageParsesAndReMarshalsIdentically) {
  REQUIRE_QEMU_IMG();
  ScratchDir dir;
  const uint64_t size = (70ULL << 20) + 1536;
  const std::string path = dir.File("force.vhd");
  ASSERT_EQ(RunQemuImg({"create", "-q", "-f", "vpc", "-o", "subformat=dynamic,force_size=on", path,
                        std::to_string(size)}),
            "");
  const QemuImage img = ParseQemuImage(path);
  ASSERT_FALSE(::testing::Test::HasFailure());

  EXPECT_EQ(img.footer.current_size, size);
  EXPECT_EQ(img.footer.original_size, size);
  EXPECT_EQ(std::string(img.footer.creator_app.data(), 4), "qem2");
  EXPECT_EQ(img.footer.geometry, kMaxGeometry);
  EXPECT_EQ(img.footer.disk_type, DiskType::kDynamic);
  EXPECT_EQ(img.footer.data_offset, kDefaultHeaderOffset);
  EXPECT_EQ(img.footer.features, kFeatureReserved);
  EXPECT_EQ(img.header.block_size, kDefaultBlockSize);
  EXPECT_EQ(img.header.table_offset, kDefaultTableOffset);
  EXPECT_EQ(img.header.max_table_entries, (size + kDefaultBlockSize - 1) / kDefaultBlockSize);

  const auto footer_bytes = img.footer.Marshal();
  EXPECT_TRUE(std::equal(footer_bytes.begin(), footer_bytes.end(), img.file.begin()));
  const auto header_bytes = img.header.Marshal();
  EXPECT_TRUE(std::equal(header_bytes.begin(), header_bytes.end(), img.file.begin() + 512));
  EXPECT_TRUE(std::equal(footer_bytes.begin(), footer_bytes.end(), img.file.end() - 512));

  const uint64_t bat_size = BatSizeBytes(img.header.max_table_entries);
  const auto bat_bytes = std::span(img.file).subspan(img.header.table_offset, bat_size);
  auto bat = UnmarshalBat(bat_bytes, img.header.max_table_entries);
  ASSERT_TRUE(bat.ok());
  EXPECT_TRUE(std::all_of(bat->begin(), bat->end(), [](uint32_t e) { return e == kBatUnused; }));
  const auto remarshalled = MarshalBat(*bat);
  EXPECT_TRUE(
      std::equal(remarshalled.begin(), remarshalled.end(), bat_bytes.begin(), bat_bytes.end()));
}

// Given qemu-img's default (CHS) sizing at several sizes spanning every branch of the CHS
// algorithm, When the footers are parsed, Then qemu's stored geometry is exactly
// GeometryForSize(current_size), and 2G becomes 2,147,991,552 bytes with 1025 BAT entries.
TEST(FormatTest, QemuDefaultImagesUseSpecGeometry) {
  REQUIRE_QEMU_IMG();
  ScratchDir dir;
  for (const std::string size : {"10M", "200M", "1G", "2G", "40G"}) {
    SCOPED_TRACE(size);
    const std::string path = dir.File("chs-" + size + ".vhd");
    ASSERT_EQ(RunQemuImg({"create", "-q", "-f", "vpc", "-o", "subformat=dynamic", path, size}), "");
    const QemuImage img = ParseQemuImage(path);
    ASSERT_FALSE(::testing::Test::HasFailure());
    EXPECT_EQ(std::string(img.footer.creator_app.data(), 4), "qemu");
    EXPECT_EQ(img.footer.geometry, GeometryForSize(img.footer.current_size));
    EXPECT_EQ(img.footer.geometry.TotalSectors() * kSectorSize, img.footer.current_size);
    if (size == "2G") {
      EXPECT_EQ(img.footer.current_size, 2147991552ULL);
      EXPECT_EQ(img.header.max_table_entries, 1025u);
    }
  }
}

// Given a dynamic VHD built only from our Marshal functions (blocks placed out of virtual order,
// the last block partial), When qemu-img converts it to raw, Then qemu reads our data at the right
// virtual offsets and the exact current_size.
TEST(FormatTest, QemuReadsAnImageWeMarshalled) {
  REQUIRE_QEMU_IMG();
  ScratchDir dir;
  const uint64_t size = (6ULL << 20) + 512;  // 4 blocks, the last one holds a single sector
  Footer footer;
  footer.creator_app = {'q', 'e', 'm', '2'};  // qemu then trusts current_size
  footer.current_size = footer.original_size = size;
  footer.geometry = kMaxGeometry;
  DynamicHeader header;
  header.max_table_entries = 4;

  const auto block1 = testing::RandomBytes(kDefaultBlockSize, 1);
  const auto block3 = testing::RandomBytes(kDefaultBlockSize, 3);
  const uint64_t first = kDefaultTableOffset + BatSizeBytes(4);
  const uint64_t span = 512 + kDefaultBlockSize;
  // Block 3 is stored first, block 1 second.
  std::vector<uint32_t> bat = {kBatUnused, uint32_t((first + span) / 512), kBatUnused,
                               uint32_t(first / 512)};
  std::vector<uint8_t> file;
  auto append = [&file](auto&& bytes) { file.insert(file.end(), bytes.begin(), bytes.end()); };
  append(footer.Marshal());
  append(header.Marshal());
  append(MarshalBat(bat));
  const std::vector<uint8_t> full_bitmap(512, 0xFF);
  append(full_bitmap);
  append(block3);
  append(full_bitmap);
  append(block1);
  append(footer.Marshal());
  const std::string vhd = dir.File("ours.vhd"), raw = dir.File("ours.raw");
  testing::WriteFile(vhd, file);
  ASSERT_EQ(RunQemuImg({"convert", "-f", "vpc", "-O", "raw", vhd, raw}), "");

  std::vector<uint8_t> expected(size, 0);
  std::copy(block1.begin(), block1.end(), expected.begin() + kDefaultBlockSize);
  std::copy(block3.begin(), block3.begin() + 512, expected.begin() + 3 * kDefaultBlockSize);
  const auto got = ReadFile(raw);
  ASSERT_EQ(got.size(), size);
  EXPECT_TRUE(got == expected);
}

}  // namespace
}  // namespace fruix::vhd
