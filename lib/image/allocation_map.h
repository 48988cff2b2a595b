// image::AllocationMap — which 2 MiB blocks of a virtual disk hold data: one bit per block, block i
// covering bytes [i * 2 MiB, (i + 1) * 2 MiB). Produced by the allocation scan (allocation_scan.h)
// or from a VHD's BAT, recorded on the VDI after each import (other_config) so the next import
// can zero the blocks the previous image used and the new one does not (zero_fill=previous).
// A plain value type; no thread affinity.
//
// Text encoding (Encode / Parse), for a xapi other_config value:
//
//   am1;n=<block count>;r=<ranges>     ranges: comma-separated "a" or "a-b" (inclusive), decimal
//                                      block indices, strictly increasing and not touching;
//                                      "r=" alone is the empty map.  Example:
//                                      "am1;n=1024;r=0-12,40"
//   am1;n=<block count>;b=<base64>     the bitmap, ceil(n / 8) bytes, bit i = byte i / 8, mask
//                                      0x80 >> (i % 8) (MSB first, like a VHD sector bitmap),
//                                      standard base64 with padding; bits past n must be 0
//
// Encode picks whichever form is shorter, so the value stays small for any map: at most
// ceil(n / 6) + 16 characters (1724 for a 20 GiB disk, 174 KB for 2040 GiB); a sparse map is a
// few ranges. The block size (2 MiB) is part of the format version "am1".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"

namespace fruix::image {

inline constexpr uint64_t kBlockSize = 2 * 1024 * 1024;

// Number of 2 MiB blocks covering `size_bytes` (the last one may be partial).
inline uint64_t BlocksForSize(uint64_t size_bytes) {
  return (size_bytes + kBlockSize - 1) / kBlockSize;
}

class AllocationMap {
 public:
  AllocationMap() = default;
  // A map of `block_count` blocks, none allocated.
  explicit AllocationMap(uint64_t block_count);
  // A map of `block_count` blocks, every one allocated.
  static AllocationMap Full(uint64_t block_count);

  uint64_t block_count() const { return block_count_; }
  bool Test(uint64_t block) const;  // false for blocks past block_count()
  // REQUIRES: block < block_count().
  void Set(uint64_t block);
  void Clear(uint64_t block);
  // Grows (new blocks unallocated) or shrinks (dropping blocks past the new end).
  void Resize(uint64_t block_count);

  uint64_t Count() const;  // allocated blocks
  bool Empty() const { return Count() == 0; }
  // Allocated block indices in increasing order.
  std::vector<uint64_t> Blocks() const;
  // Runs of allocated blocks as [first, last] pairs, increasing.
  std::vector<std::pair<uint64_t, uint64_t>> Ranges() const;

  // See the top comment. Parse errors are kInvalidArgument naming the bad part and its position.
  std::string Encode() const;
  static Result<AllocationMap> Parse(std::string_view text);

  bool operator==(const AllocationMap&) const = default;

 private:
  uint64_t block_count_ = 0;
  std::vector<uint64_t> words_;  // bit i of word i / 64, LSB first; bits past block_count_ are 0
};

// Blocks allocated in `a` or `b`; block_count is the larger of the two.
AllocationMap Union(const AllocationMap& a, const AllocationMap& b);
// Blocks allocated in `a` and not in `b`; block_count is a's.
AllocationMap Difference(const AllocationMap& a, const AllocationMap& b);
// Blocks allocated in both; block_count is a's.
AllocationMap Intersection(const AllocationMap& a, const AllocationMap& b);

}  // namespace fruix::image
