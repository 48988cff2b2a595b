// vhd::format — the on-disk layout of fixed and dynamic VHD images (Microsoft "Virtual Hard Disk
// Image Format Specification" v1.0, as qemu, blktap, ocaml-vhd and xen-orchestra implement it).
// Pure functions and plain value types: no I/O, no global state, safe from any thread. Shared by
// the product's VHD writer/validator and the simulator's import path (lib/sim/vhd_tool.h).
// Facts and sources: ../shared/docs/vhd-format.md Part 1.
//
// Dynamic (and differencing) VHD, all integers big-endian, sector = 512 bytes:
//
//   file offset                 size                         content
//   0                           512                          copy of the hard-disk footer
//   footer.data_offset (512)    1024                         dynamic disk header, cookie "cxsparse"
//   header.table_offset (1536)  BatSizeBytes(max_entries)    BAT: u32 sector of each block's
//   bitmap,
//                                                            kBatUnused if unallocated; padded with
//                                                            0xFF to a multiple of 512
//   BAT[i] * 512                BitmapSizeBytes(block_size)  sector bitmap of block i (MSB first,
//                                                            1 = sector present in this file)
//     + BitmapSizeBytes(...)    block_size                   the block's data (virtual offset
//                                                            i * block_size)
//   end - 512                   512                          the hard-disk footer
//
// Fixed VHD: `current_size` bytes of raw data followed by one footer (disk type kFixed,
// data_offset = kNoDataOffset); no footer copy, header or BAT.
//
// Hard-disk footer (512 B):
//   0 cookie "conectix" | 8 features u32 | 12 format version u32 | 16 data offset u64 |
//   24 timestamp u32 (seconds since 2000-01-01 UTC) | 28 creator app [4] | 32 creator version u32 |
//   36 creator host OS u32 | 40 original size u64 | 48 current size u64 | 56 cylinders u16 |
//   58 heads u8 | 59 sectors/track u8 | 60 disk type u32 | 64 checksum u32 | 68 unique id [16] |
//   84 saved state u8 | 85..511 reserved (zeros)
// Dynamic disk header (1024 B):
//   0 cookie "cxsparse" | 8 data offset u64 (all ones) | 16 table offset u64 |
//   24 header version u32 | 28 max table entries u32 | 32 block size u32 | 36 checksum u32 |
//   40 parent unique id [16] | 56 parent timestamp u32 | 60 reserved u32 |
//   64 parent unicode name [512] (UTF-16BE) | 576 8 x parent locator {platform code u32,
//   data space u32, data length u32, reserved u32, data offset u64} | 768..1023 reserved (zeros)
// Checksum: the one's complement of the sum of all bytes of the structure, with the checksum field
// taken as zero, truncated to 32 bits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"

namespace fruix::vhd {

// For error messages about on-disk fields: "0x10000", and bytes as a quoted printable string
// ("conectix", "\x00\x01...").
std::string HexString(uint64_t v);
std::string QuoteBytes(const uint8_t* p, size_t n);
// True for the parent-locator platform codes the VHD specification defines (and 0, unused).
bool IsKnownPlatformCode(uint32_t code);

inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint32_t kDefaultBlockSize = 2 * 1024 * 1024;
inline constexpr size_t kFooterSize = 512;
inline constexpr size_t kDynamicHeaderSize = 1024;
inline constexpr size_t kFooterChecksumOffset = 64;
inline constexpr size_t kHeaderChecksumOffset = 36;
inline constexpr std::string_view kFooterCookie = "conectix";
inline constexpr std::string_view kHeaderCookie = "cxsparse";
// Footer features: bit 1 is "reserved, must be 1"; bit 0 marks a temporary disk.
inline constexpr uint32_t kFeatureTemporary = 0x00000001;
inline constexpr uint32_t kFeatureReserved = 0x00000002;
inline constexpr uint32_t kFormatVersion = 0x00010000;  // footer; ocaml-vhd rejects others
inline constexpr uint32_t kHeaderVersion = 0x00010000;  // dynamic header
// Footer data_offset of a fixed disk, and the header's (unused) data_offset: all 64 bits set.
inline constexpr uint64_t kNoDataOffset = 0xFFFFFFFFFFFFFFFFULL;
inline constexpr uint64_t kDefaultHeaderOffset = 512;  // footer.data_offset written in practice
inline constexpr uint64_t kDefaultTableOffset = 1536;  // header.table_offset (qemu, XO)
inline constexpr uint32_t kBatUnused = 0xFFFFFFFF;
// The largest virtual size VHD tools accept: qemu VHD_MAX_SECTORS = 0xff000000 (2040 GiB); xapi
// refuses VHD export above it (VDI_TOO_LARGE).
inline constexpr uint64_t kMaxVirtualSize = 0xff000000ULL * kSectorSize;
inline constexpr uint32_t kCreatorHostWindows = 0x5769326B;  // "Wi2k"
inline constexpr uint32_t kCreatorHostMac = 0x4D616320;      // "Mac "
// VHD timestamps count seconds from 2000-01-01 00:00:00 UTC.
inline constexpr int64_t kVhdEpochUnixSeconds = 946684800;

enum class DiskType : uint32_t { kFixed = 2, kDynamic = 3, kDifferencing = 4 };
std::string_view DiskTypeName(DiskType type);

// Seconds since the VHD epoch, truncated to u32 (values before the epoch clamp to 0).
uint32_t VhdTimestampFromUnix(int64_t unix_seconds);

// Cylinders / heads / sectors-per-track as stored in the footer.
struct Geometry {
  uint16_t cylinders = 0;
  uint8_t heads = 0;
  uint8_t sectors_per_track = 0;

  uint64_t TotalSectors() const { return uint64_t{cylinders} * heads * sectors_per_track; }
  bool operator==(const Geometry&) const = default;
};

// 65535/16/255: qemu and the spec treat it as "ignore CHS, use current_size".
inline constexpr Geometry kMaxGeometry{65535, 16, 255};

// The spec's "CHS Calculation" (appendix) for a disk of `size_bytes`: integer division, so the CHS
// capacity rounds down (2 GiB -> 4161/16/63 = 2,147,475,456 B). Identical to qemu
// calculate_geometry, ocaml-vhd Geometry.of_sectors and blktap vhd_chs.
Geometry GeometryForSize(uint64_t size_bytes);

struct Footer {
  uint32_t features = kFeatureReserved;
  uint32_t format_version = kFormatVersion;
  uint64_t data_offset = kDefaultHeaderOffset;  // kNoDataOffset for a fixed disk
  uint32_t timestamp = 0;                       // see VhdTimestampFromUnix
  std::array<char, 4> creator_app{};            // e.g. {'q','e','m','2'}
  uint32_t creator_version = 0;                 // major << 16 | minor
  uint32_t creator_host_os = 0;                 // kCreatorHostWindows, kCreatorHostMac or 0
  uint64_t original_size = 0;
  uint64_t current_size = 0;
  Geometry geometry{};
  DiskType disk_type = DiskType::kDynamic;
  uint32_t checksum = 0;  // as read by Unmarshal; Marshal ignores it and computes the real one
  std::array<uint8_t, 16> unique_id{};
  uint8_t saved_state = 0;

  // The 512 on-disk bytes, checksum computed, reserved bytes zero.
  std::array<uint8_t, kFooterSize> Marshal() const;

  // Parses and validates, in ocaml-vhd's order: cookie, format version, disk type, checksum.
  // `bytes` must hold exactly kFooterSize bytes. `file_offset`, when given, is where the bytes were
  // read and is named in errors. Returns kInvalidArgument naming the field and the bad value.
  static Result<Footer> Unmarshal(std::span<const uint8_t> bytes,
                                  std::optional<uint64_t> file_offset = std::nullopt);
  // Decodes every field without validating anything (disk_type keeps the stored number even if
  // it names no DiskType), for validators that report every problem rather than the first.
  // REQUIRES: bytes.size() == kFooterSize.
  static Footer Decode(std::span<const uint8_t> bytes);

  bool operator==(const Footer&) const = default;
};

struct ParentLocator {
  uint32_t platform_code = 0;  // 0 = none; "Wi2r" "Wi2k" "W2ru" "W2ku" "Mac " "MacX"
  uint32_t data_space = 0;
  uint32_t data_length = 0;
  uint32_t reserved = 0;
  uint64_t data_offset = 0;
  bool operator==(const ParentLocator&) const = default;
};

struct DynamicHeader {
  uint64_t data_offset = kNoDataOffset;
  uint64_t table_offset = kDefaultTableOffset;
  uint32_t header_version = kHeaderVersion;
  uint32_t max_table_entries = 0;  // ceil(virtual size / block size)
  uint32_t block_size = kDefaultBlockSize;
  uint32_t checksum = 0;  // as read by Unmarshal; Marshal computes the real one
  std::array<uint8_t, 16> parent_unique_id{};
  uint32_t parent_timestamp = 0;
  std::array<uint8_t, 512> parent_unicode_name{};  // UTF-16BE, zero padded
  std::array<ParentLocator, 8> parent_locators{};

  // The 1024 on-disk bytes, checksum computed, reserved bytes zero.
  std::array<uint8_t, kDynamicHeaderSize> Marshal() const;

  // Parses and validates, in ocaml-vhd's order: cookie, data offset (all ones), header version,
  // block size (a power of two, 512 B .. 2 GiB), parent locator platform codes, checksum.
  // `bytes` must hold exactly kDynamicHeaderSize bytes; `file_offset` as for Footer::Unmarshal.
  static Result<DynamicHeader> Unmarshal(std::span<const uint8_t> bytes,
                                         std::optional<uint64_t> file_offset = std::nullopt);
  // Decodes every field without validating anything (see Footer::Decode).
  // REQUIRES: bytes.size() == kDynamicHeaderSize.
  static DynamicHeader Decode(std::span<const uint8_t> bytes);

  uint32_t SectorsPerBlock() const { return block_size / static_cast<uint32_t>(kSectorSize); }

  bool operator==(const DynamicHeader&) const = default;
};

// The checksum of a footer or header image: ~(sum of all bytes, the 4 bytes at
// `checksum_field_offset` counted as zero). REQUIRES: checksum_field_offset + 4 <= bytes.size().
uint32_t Checksum(std::span<const uint8_t> bytes, size_t checksum_field_offset);

// Bytes the BAT occupies on disk: entries * 4 rounded up to a multiple of 512 (0 for 0 entries).
uint64_t BatSizeBytes(uint64_t entries);

// Bytes of a block's sector bitmap: ceil(sectors per block / 8) rounded up to a multiple of 512
// (512 for 2 MiB blocks). REQUIRES: block_size is a multiple of 512.
uint64_t BitmapSizeBytes(uint32_t block_size);

// The BAT as stored: big-endian entries, padded with 0xFF bytes to BatSizeBytes(entries.size()).
std::vector<uint8_t> MarshalBat(std::span<const uint32_t> entries);
// The first `entries` entries of an on-disk BAT. Fails if `bytes` holds fewer than entries * 4.
Result<std::vector<uint32_t>> UnmarshalBat(std::span<const uint8_t> bytes, uint32_t entries);

// Sector-bitmap bits, MSB first: sector i is byte i >> 3, mask 0x80 >> (i & 7).
// REQUIRES: sector < bitmap.size() * 8.
inline bool BitmapTest(std::span<const uint8_t> bitmap, uint64_t sector) {
  return (bitmap[sector >> 3] & (0x80u >> (sector & 7))) != 0;
}
inline void BitmapSet(std::span<uint8_t> bitmap, uint64_t sector) {
  bitmap[sector >> 3] = static_cast<uint8_t>(bitmap[sector >> 3] | (0x80u >> (sector & 7)));
}
inline void BitmapClear(std::span<uint8_t> bitmap, uint64_t sector) {
  bitmap[sector >> 3] = static_cast<uint8_t>(bitmap[sector >> 3] & ~(0x80u >> (sector & 7)));
}

}  // namespace fruix::vhd
