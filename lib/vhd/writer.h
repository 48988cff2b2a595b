// vhd::writer — lays out a dynamic VHD the way xapi's forward-only reader (vhd-tool serve,
// ../shared/docs/vhd-format.md §1.7) consumes it, as segments of a StreamPlan. The writer owns
// the layout (offsets, footer, header, BAT); the caller supplies each block's bitmap and data.
// Pure planning: no I/O, single-threaded.
//
// Stream written (all integers big-endian, sector = 512 B; n = number of blocks written):
//
//   offset                           size               content
//   0                                512                footer copy
//   512                              1024               dynamic header (table_offset 1536)
//   1536                             BatSizeBytes(E)    BAT, E = ceil(virtual_size / 2 MiB)
//   entries;
//                                                       block k of the written list at sector
//                                                       (first_block_offset + k * (512 + 2 MiB))
//                                                       / 512, others 0xFFFFFFFF; 0xFF padding
//   first_block_offset               n * (512 + 2 MiB)  per block, in increasing virtual index:
//     = 1536 + BatSizeBytes(E)                          512-byte sector bitmap + 2 MiB of data
//   end - 512                        512                footer (identical to the copy)
//
// Footer (vhd-format.md §1.10): disk type 3, features 2, version 1.0, data_offset 512, creator
// "frux" version 0.1 on "Wi2k", current_size = original_size = the virtual size, geometry
// 65535/16/255 (kMaxGeometry: qemu then uses current_size, as libvhdi, ocaml-vhd and blktap always
// do, so every reader sees the exact size; the spec's CHS would round it down), a random v4 uuid,
// the timestamp given.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "lib/core/result.h"
#include "lib/vhd/format.h"
#include "lib/vhd/stream_plan.h"

namespace fruix::vhd {

inline constexpr std::array<char, 4> kFruixCreatorApp{'f', 'r', 'u', 'x'};
inline constexpr uint32_t kFruixCreatorVersion = 0x00000001;  // 0.1

struct DynamicVhdParams {
  uint64_t virtual_size = 0;            // REQUIRES: > 0, multiple of 512, <= kMaxVirtualSize
  std::array<uint8_t, 16> unique_id{};  // see RandomUniqueId
  uint32_t timestamp = 0;               // VhdTimestampFromUnix(now)
};

// A random version-4 uuid as 16 bytes.
std::array<uint8_t, 16> RandomUniqueId();

Footer MakeDynamicFooter(const DynamicVhdParams& params);
DynamicHeader MakeDynamicHeader(uint64_t virtual_size);

// Number of BAT entries: ceil(virtual_size / kDefaultBlockSize).
uint64_t BlockCount(uint64_t virtual_size);
// Byte offset of the first block, and the stream length for `blocks_written` blocks.
uint64_t FirstBlockOffset(uint64_t virtual_size);
uint64_t DynamicVhdLength(uint64_t virtual_size, uint64_t blocks_written);

// The sector bitmap of block `index` with every sector present that lies below `virtual_size`:
// all 0xFF except in the last block when the size is not a multiple of the block size (xapi
// writes every sector whose bit is set, so bits past the end would write past a VDI of exactly
// that size).
std::array<uint8_t, 512> FullBitmap(uint64_t virtual_size, uint32_t index);

// Appends the block's bitmap and data to `plan`: exactly 512 + kDefaultBlockSize bytes.
using BlockEmitter = std::function<Result<void>(uint32_t index, StreamPlan& plan)>;

// Appends a whole dynamic VHD to `plan`: footer copy, header, BAT, then for each index of
// `blocks` (strictly increasing, each < BlockCount(virtual_size)) whatever `emit` appends, then the
// footer. Errors: kInvalidArgument for bad params or block list, kInternal if `emit` appended a
// different number of bytes than a block needs, or `emit`'s own error.
Result<void> AppendDynamicVhd(const DynamicVhdParams& params, std::span<const uint32_t> blocks,
                              const BlockEmitter& emit, StreamPlan& plan);

}  // namespace fruix::vhd
