#include "lib/vhd/writer.h"

#include <string>

#include "lib/core/ids.h"

namespace fruix::vhd {
namespace {

constexpr uint64_t kBlockBytes = kDefaultBlockSize;
constexpr uint64_t kBitmapBytes = 512;  // BitmapSizeBytes(2 MiB)
constexpr uint64_t kStride = kBitmapBytes + kBlockBytes;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::array<uint8_t, 16> RandomUniqueId() {
  const std::string s = NewUuidString();
  std::array<uint8_t, 16> out{};
  size_t k = 0;
  for (size_t i = 0; i + 1 < s.size() && k < out.size();) {
    if (s[i] == '-') {
      ++i;
      continue;
    }
    out[k++] = static_cast<uint8_t>(HexValue(s[i]) << 4 | HexValue(s[i + 1]));
    i += 2;
  }
  return out;
}

uint64_t BlockCount(uint64_t virtual_size) {
  return (virtual_size + kBlockBytes - 1) / kBlockBytes;
}

uint64_t FirstBlockOffset(uint64_t virtual_size) {
  return kDefaultTableOffset + BatSizeBytes(BlockCount(virtual_size));
}

uint64_t DynamicVhdLength(uint64_t virtual_size, uint64_t blocks_written) {
  return FirstBlockOffset(virtual_size) + blocks_written * kStride + kFooterSize;
}

Footer MakeDynamicFooter(const DynamicVhdParams& params) {
  Footer f;
  f.features = kFeatureReserved;
  f.format_version = kFormatVersion;
  f.data_offset = kDefaultHeaderOffset;
  f.timestamp = params.timestamp;
  f.creator_app = kFruixCreatorApp;
  f.creator_version = kFruixCreatorVersion;
  f.creator_host_os = kCreatorHostWindows;
  f.original_size = params.virtual_size;
  f.current_size = params.virtual_size;
  f.geometry = kMaxGeometry;
  f.disk_type = DiskType::kDynamic;
  f.unique_id = params.unique_id;
  return f;
}

DynamicHeader MakeDynamicHeader(uint64_t virtual_size) {
  DynamicHeader h;
  h.table_offset = kDefaultTableOffset;
  h.max_table_entries = static_cast<uint32_t>(BlockCount(virtual_size));
  h.block_size = kDefaultBlockSize;
  return h;
}

std::array<uint8_t, 512> FullBitmap(uint64_t virtual_size, uint32_t index) {
  std::array<uint8_t, 512> bitmap;
  bitmap.fill(0xFF);
  const uint64_t start = uint64_t{index} * kBlockBytes;
  const uint64_t sectors_per_block = kBlockBytes / kSectorSize;
  if (start + kBlockBytes > virtual_size) {
    const uint64_t present = virtual_size > start ? (virtual_size - start) / kSectorSize : 0;
    for (uint64_t s = present; s < sectors_per_block; ++s) BitmapClear(bitmap, s);
  }
  return bitmap;
}

Result<void> AppendDynamicVhd(const DynamicVhdParams& params, std::span<const uint32_t> blocks,
                              const BlockEmitter& emit, StreamPlan& plan) {
  const uint64_t size = params.virtual_size;
  if (size == 0 || size % kSectorSize != 0 || size > kMaxVirtualSize) {
    return Error::InvalidArgument("dynamic VHD: virtual size " + std::to_string(size) +
                                  " must be a non-zero multiple of 512 of at most " +
                                  std::to_string(kMaxVirtualSize) + " bytes (2040 GiB)");
  }
  const uint64_t entries = BlockCount(size);
  std::vector<uint32_t> bat(static_cast<size_t>(entries), kBatUnused);
  const uint64_t first = FirstBlockOffset(size);
  for (size_t k = 0; k < blocks.size(); ++k) {
    if (blocks[k] >= entries || (k > 0 && blocks[k] <= blocks[k - 1])) {
      return Error::InvalidArgument(
          "dynamic VHD: block list must be strictly increasing and below " +
          std::to_string(entries) + "; entry " + std::to_string(k) + " is " +
          std::to_string(blocks[k]));
    }
    bat[blocks[k]] = static_cast<uint32_t>((first + k * kStride) / kSectorSize);
  }

  const auto footer = MakeDynamicFooter(params).Marshal();
  plan.AddBytes(footer);
  plan.AddBytes(MakeDynamicHeader(size).Marshal());
  plan.AddBytes(MarshalBat(bat));
  for (size_t k = 0; k < blocks.size(); ++k) {
    const uint64_t before = plan.size();
    FRUIX_RETURN_IF_ERROR(emit(blocks[k], plan));
    if (plan.size() - before != kStride) {
      return Error::Internal("dynamic VHD: block " + std::to_string(blocks[k]) + " took " +
                             std::to_string(plan.size() - before) + " bytes instead of " +
                             std::to_string(kStride));
    }
  }
  plan.AddBytes(footer);
  return Ok();
}

}  // namespace fruix::vhd
