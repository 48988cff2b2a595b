#include "lib/vhd/format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

namespace fruix::vhd {
namespace {

uint16_t LoadBe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t LoadBe32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}
uint64_t LoadBe64(const uint8_t* p) { return uint64_t{LoadBe32(p)} << 32 | LoadBe32(p + 4); }
void StoreBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void StoreBe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void StoreBe64(uint8_t* p, uint64_t v) {
  StoreBe32(p, static_cast<uint32_t>(v >> 32));
  StoreBe32(p + 4, static_cast<uint32_t>(v));
}

std::string HexStringImpl(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Printable rendering of on-disk bytes for error messages: "conectix", "\x00\x00...".
std::string QuoteBytesImpl(const uint8_t* p, size_t n) {
  std::string out = "\"";
  for (size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
      out += static_cast<char>(p[i]);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", p[i]);
      out += buf;
    }
  }
  return out + "\"";
}

// "VHD footer at offset 512" / "VHD footer".
std::string Where(std::string_view what, std::optional<uint64_t> file_offset) {
  std::string s = "VHD ";
  s += what;
  if (file_offset) s += " at offset " + std::to_string(*file_offset);
  return s;
}

Error Bad(std::string_view what, std::optional<uint64_t> file_offset, std::string detail) {
  return Error::InvalidArgument(Where(what, file_offset) + ": " + detail);
}

constexpr uint64_t RoundUp512(uint64_t n) {
  return (n + kSectorSize - 1) / kSectorSize * kSectorSize;
}

}  // namespace

bool IsKnownPlatformCode(uint32_t code) {
  switch (code) {
    case 0:
    case 0x57693272:  // Wi2r
    case 0x5769326B:  // Wi2k
    case 0x57327275:  // W2ru
    case 0x57326B75:  // W2ku
    case 0x4D616320:  // "Mac "
    case 0x4D616358:  // MacX
      return true;
    default:
      return false;
  }
}

std::string HexString(uint64_t v) { return HexStringImpl(v); }
std::string QuoteBytes(const uint8_t* p, size_t n) { return QuoteBytesImpl(p, n); }

std::string_view DiskTypeName(DiskType type) {
  switch (type) {
    case DiskType::kFixed:
      return "fixed";
    case DiskType::kDynamic:
      return "dynamic";
    case DiskType::kDifferencing:
      return "differencing";
  }
  return "unknown";
}

uint32_t VhdTimestampFromUnix(int64_t unix_seconds) {
  if (unix_seconds <= kVhdEpochUnixSeconds) return 0;
  return static_cast<uint32_t>(unix_seconds - kVhdEpochUnixSeconds);
}

Geometry GeometryForSize(uint64_t size_bytes) {
  constexpr uint64_t kMaxSectors = 65535ULL * 16 * 255;
  const uint64_t total = std::min(size_bytes / kSectorSize, kMaxSectors);
  uint64_t spt = 0, heads = 0, cth = 0;
  if (total >= 65535ULL * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = total / spt;
  } else {
    spt = 17;
    cth = total / spt;
    heads = std::max<uint64_t>((cth + 1023) / 1024, 4);
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = total / spt;
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = total / spt;
    }
  }
  return Geometry{static_cast<uint16_t>(cth / heads), static_cast<uint8_t>(heads),
                  static_cast<uint8_t>(spt)};
}

uint32_t Checksum(std::span<const uint8_t> bytes, size_t checksum_field_offset) {
  uint32_t sum = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i >= checksum_field_offset && i < checksum_field_offset + 4) continue;
    sum += bytes[i];
  }
  return ~sum;
}

uint64_t BatSizeBytes(uint64_t entries) { return RoundUp512(entries * 4); }

uint64_t BitmapSizeBytes(uint32_t block_size) {
  const uint64_t sectors = block_size / kSectorSize;
  return RoundUp512((sectors + 7) / 8);
}

std::array<uint8_t, kFooterSize> Footer::Marshal() const {
  std::array<uint8_t, kFooterSize> b{};
  uint8_t* p = b.data();
  std::memcpy(p + 0, kFooterCookie.data(), 8);
  StoreBe32(p + 8, features);
  StoreBe32(p + 12, format_version);
  StoreBe64(p + 16, data_offset);
  StoreBe32(p + 24, timestamp);
  std::memcpy(p + 28, creator_app.data(), 4);
  StoreBe32(p + 32, creator_version);
  StoreBe32(p + 36, creator_host_os);
  StoreBe64(p + 40, original_size);
  StoreBe64(p + 48, current_size);
  StoreBe16(p + 56, geometry.cylinders);
  p[58] = geometry.heads;
  p[59] = geometry.sectors_per_track;
  StoreBe32(p + 60, static_cast<uint32_t>(disk_type));
  std::memcpy(p + 68, unique_id.data(), 16);
  p[84] = saved_state;
  StoreBe32(p + kFooterChecksumOffset, Checksum(b, kFooterChecksumOffset));
  return b;
}

Footer Footer::Decode(std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  Footer f;
  f.features = LoadBe32(p + 8);
  f.format_version = LoadBe32(p + 12);
  f.data_offset = LoadBe64(p + 16);
  f.timestamp = LoadBe32(p + 24);
  std::memcpy(f.creator_app.data(), p + 28, 4);
  f.creator_version = LoadBe32(p + 32);
  f.creator_host_os = LoadBe32(p + 36);
  f.original_size = LoadBe64(p + 40);
  f.current_size = LoadBe64(p + 48);
  f.geometry = Geometry{LoadBe16(p + 56), p[58], p[59]};
  f.disk_type = static_cast<DiskType>(LoadBe32(p + 60));
  f.checksum = LoadBe32(p + kFooterChecksumOffset);
  std::memcpy(f.unique_id.data(), p + 68, 16);
  f.saved_state = p[84];
  return f;
}

Result<Footer> Footer::Unmarshal(std::span<const uint8_t> bytes,
                                 std::optional<uint64_t> file_offset) {
  constexpr std::string_view kWhat = "footer";
  if (bytes.size() != kFooterSize) {
    return Bad(
        kWhat, file_offset,
        "needs " + std::to_string(kFooterSize) + " bytes, got " + std::to_string(bytes.size()));
  }
  const uint8_t* p = bytes.data();
  if (std::memcmp(p, kFooterCookie.data(), 8) != 0) {
    return Bad(
        kWhat, file_offset,
        "bad cookie " + QuoteBytes(p, 8) + " (expected \"" + std::string(kFooterCookie) + "\")");
  }
  Footer f;
  f.features = LoadBe32(p + 8);
  f.format_version = LoadBe32(p + 12);
  if (f.format_version != kFormatVersion) {
    return Bad(kWhat, file_offset,
               "unsupported file format version " + HexString(f.format_version) + " (expected " +
                   HexString(kFormatVersion) + ")");
  }
  f.data_offset = LoadBe64(p + 16);
  f.timestamp = LoadBe32(p + 24);
  std::memcpy(f.creator_app.data(), p + 28, 4);
  f.creator_version = LoadBe32(p + 32);
  f.creator_host_os = LoadBe32(p + 36);
  f.original_size = LoadBe64(p + 40);
  f.current_size = LoadBe64(p + 48);
  f.geometry = Geometry{LoadBe16(p + 56), p[58], p[59]};
  const uint32_t type = LoadBe32(p + 60);
  if (type < static_cast<uint32_t>(DiskType::kFixed) ||
      type > static_cast<uint32_t>(DiskType::kDifferencing)) {
    return Bad(kWhat, file_offset,
               "bad disk type " + std::to_string(type) +
                   " (expected 2 = fixed, 3 = dynamic or 4 = differencing)");
  }
  f.disk_type = static_cast<DiskType>(type);
  f.checksum = LoadBe32(p + kFooterChecksumOffset);
  std::memcpy(f.unique_id.data(), p + 68, 16);
  f.saved_state = p[84];
  const uint32_t expected = Checksum(bytes, kFooterChecksumOffset);
  if (f.checksum != expected) {
    return Bad(kWhat, file_offset,
               "bad checksum " + HexString(f.checksum) + " (computed " + HexString(expected) + ")");
  }
  return f;
}

std::array<uint8_t, kDynamicHeaderSize> DynamicHeader::Marshal() const {
  std::array<uint8_t, kDynamicHeaderSize> b{};
  uint8_t* p = b.data();
  std::memcpy(p + 0, kHeaderCookie.data(), 8);
  StoreBe64(p + 8, data_offset);
  StoreBe64(p + 16, table_offset);
  StoreBe32(p + 24, header_version);
  StoreBe32(p + 28, max_table_entries);
  StoreBe32(p + 32, block_size);
  std::memcpy(p + 40, parent_unique_id.data(), 16);
  StoreBe32(p + 56, parent_timestamp);
  std::memcpy(p + 64, parent_unicode_name.data(), parent_unicode_name.size());
  for (size_t i = 0; i < parent_locators.size(); ++i) {
    uint8_t* l = p + 576 + 24 * i;
    StoreBe32(l + 0, parent_locators[i].platform_code);
    StoreBe32(l + 4, parent_locators[i].data_space);
    StoreBe32(l + 8, parent_locators[i].data_length);
    StoreBe32(l + 12, parent_locators[i].reserved);
    StoreBe64(l + 16, parent_locators[i].data_offset);
  }
  StoreBe32(p + kHeaderChecksumOffset, Checksum(b, kHeaderChecksumOffset));
  return b;
}

DynamicHeader DynamicHeader::Decode(std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  DynamicHeader h;
  h.data_offset = LoadBe64(p + 8);
  h.table_offset = LoadBe64(p + 16);
  h.header_version = LoadBe32(p + 24);
  h.max_table_entries = LoadBe32(p + 28);
  h.block_size = LoadBe32(p + 32);
  h.checksum = LoadBe32(p + kHeaderChecksumOffset);
  std::memcpy(h.parent_unique_id.data(), p + 40, 16);
  h.parent_timestamp = LoadBe32(p + 56);
  std::memcpy(h.parent_unicode_name.data(), p + 64, h.parent_unicode_name.size());
  for (size_t i = 0; i < h.parent_locators.size(); ++i) {
    const uint8_t* l = p + 576 + 24 * i;
    h.parent_locators[i] = {LoadBe32(l + 0), LoadBe32(l + 4), LoadBe32(l + 8), LoadBe32(l + 12),
                            LoadBe64(l + 16)};
  }
  return h;
}

Result<DynamicHeader> DynamicHeader::Unmarshal(std::span<const uint8_t> bytes,
                                               std::optional<uint64_t> file_offset) {
  constexpr std::string_view kWhat = "dynamic header";
  if (bytes.size() != kDynamicHeaderSize) {
    return Bad(kWhat, file_offset,
               "needs " + std::to_string(kDynamicHeaderSize) + " bytes, got " +
                   std::to_string(bytes.size()));
  }
  const uint8_t* p = bytes.data();
  if (std::memcmp(p, kHeaderCookie.data(), 8) != 0) {
    return Bad(
        kWhat, file_offset,
        "bad cookie " + QuoteBytes(p, 8) + " (expected \"" + std::string(kHeaderCookie) + "\")");
  }
  DynamicHeader h;
  h.data_offset = LoadBe64(p + 8);
  if (h.data_offset != kNoDataOffset) {
    return Bad(kWhat, file_offset,
               "bad data offset " + HexString(h.data_offset) + " (expected " +
                   HexString(kNoDataOffset) + ")");
  }
  h.table_offset = LoadBe64(p + 16);
  h.header_version = LoadBe32(p + 24);
  if (h.header_version != kHeaderVersion) {
    return Bad(kWhat, file_offset,
               "unsupported header version " + HexString(h.header_version) + " (expected " +
                   HexString(kHeaderVersion) + ")");
  }
  h.max_table_entries = LoadBe32(p + 28);
  h.block_size = LoadBe32(p + 32);
  const bool power_of_two = h.block_size != 0 && (h.block_size & (h.block_size - 1)) == 0;
  if (!power_of_two || h.block_size < kSectorSize) {
    return Bad(kWhat, file_offset,
               "bad block size " + std::to_string(h.block_size) +
                   " (must be a power of two of at least 512)");
  }
  h.checksum = LoadBe32(p + kHeaderChecksumOffset);
  std::memcpy(h.parent_unique_id.data(), p + 40, 16);
  h.parent_timestamp = LoadBe32(p + 56);
  std::memcpy(h.parent_unicode_name.data(), p + 64, h.parent_unicode_name.size());
  for (size_t i = 0; i < h.parent_locators.size(); ++i) {
    const uint8_t* l = p + 576 + 24 * i;
    ParentLocator& loc = h.parent_locators[i];
    loc.platform_code = LoadBe32(l + 0);
    loc.data_space = LoadBe32(l + 4);
    loc.data_length = LoadBe32(l + 8);
    loc.reserved = LoadBe32(l + 12);
    loc.data_offset = LoadBe64(l + 16);
    if (!IsKnownPlatformCode(loc.platform_code)) {
      return Bad(kWhat, file_offset,
                 "parent locator " + std::to_string(i) + " has unknown platform code " +
                     HexString(loc.platform_code) + " " + QuoteBytes(l, 4));
    }
  }
  const uint32_t expected = Checksum(bytes, kHeaderChecksumOffset);
  if (h.checksum != expected) {
    return Bad(kWhat, file_offset,
               "bad checksum " + HexString(h.checksum) + " (computed " + HexString(expected) + ")");
  }
  return h;
}

std::vector<uint8_t> MarshalBat(std::span<const uint32_t> entries) {
  std::vector<uint8_t> out(BatSizeBytes(entries.size()), 0xFF);
  for (size_t i = 0; i < entries.size(); ++i) StoreBe32(out.data() + 4 * i, entries[i]);
  return out;
}

Result<std::vector<uint32_t>> UnmarshalBat(std::span<const uint8_t> bytes, uint32_t entries) {
  if (bytes.size() / 4 < entries) {
    return Error::InvalidArgument("VHD BAT: " + std::to_string(entries) + " entries need " +
                                  std::to_string(uint64_t{entries} * 4) + " bytes, got " +
                                  std::to_string(bytes.size()));
  }
  std::vector<uint32_t> out(entries);
  for (uint32_t i = 0; i < entries; ++i) out[i] = LoadBe32(bytes.data() + 4 * size_t{i});
  return out;
}

}  // namespace fruix::vhd
