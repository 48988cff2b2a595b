// image::allocation_scan — pass 1 of an upload: which 2 MiB blocks of a virtual disk hold data,
// and (optionally) the disk's content digest, computed in the same read.
//
//   raw file  first lseek(SEEK_DATA / SEEK_HOLE) over the whole file: blocks entirely in holes
//             cost nothing; then every block that has data is read (large preads into an aligned
//             buffer, page cache speed) and dropped if all zero. Without the digest, a block
//             whose first 64 KiB are not all zero is not read further.
//   any disk  ScanBlocks reads candidate blocks through a BlockReadFn (e.g. a dynamic VHD's
//             blocks, assembled from bitmap and data) and does the same zero test and hashing.
//
// Blocks are read and hashed on `threads` worker threads, in windows of 1024 blocks, so memory
// stays bounded (one 2 MiB buffer per thread plus 40 bytes per block of the window) whatever the
// disk size. The functions block the calling thread; the BlockReadFn must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/core/result.h"
#include "lib/image/allocation_map.h"
#include "lib/vhd/stream_plan.h"

namespace fruix::image {

struct ScanOptions {
  bool detect_zeros = true;  // read candidate blocks and drop those that are all zero
  bool digest = false;       // compute the content digest (reads every candidate block in full)
  int threads = 0;           // worker threads; 0 = min(hardware threads, 4)
  // Called on the calling thread between windows with blocks examined so far and the total;
  // returning false stops the scan with kCancelled. May be empty.
  std::function<bool(uint64_t done, uint64_t total)> progress;
};

struct ScanResult {
  AllocationMap map;         // blocks with data (after the zero test, if enabled)
  uint64_t hole_blocks = 0;  // blocks skipped because they lie entirely in holes
  uint64_t zero_blocks = 0;  // candidate blocks found to be all zero
  uint64_t bytes_read = 0;
  std::optional<std::string> digest;  // with ScanOptions::digest; see content_digest.h
};

// Fills `out` with bytes [from, from + out.size()) of virtual block `block`, zeros past the end
// of the disk. Called concurrently from worker threads.
using BlockReadFn =
    std::function<Result<void>(uint64_t block, uint64_t from, std::span<uint8_t> out)>;

// Blocks of the raw disk of `size` bytes at offset 0 of `file` that are not entirely inside holes,
// from lseek(SEEK_DATA / SEEK_HOLE); every block if the file cannot report holes (a block device).
AllocationMap SeekDataBlocks(const vhd::SourceFile& file, uint64_t size);

// Scans the raw disk of `size` bytes stored at offset 0 of `file` (a raw image, or a fixed VHD's
// data part). Errors: kIo from reads, kCancelled.
Result<ScanResult> ScanRaw(const vhd::SourceFile& file, uint64_t size, const ScanOptions& options);

// Scans the `candidates` blocks (allocated in the map, whose block_count sets the disk's block
// count) of a disk of `virtual_size` bytes through `read`. Blocks not in `candidates` count as
// zero. With detect_zeros false, every candidate is kept but still hashed if digest is set (and
// all-zero blocks still left out of the digest).
Result<ScanResult> ScanBlocks(const AllocationMap& candidates, uint64_t virtual_size,
                              const BlockReadFn& read, const ScanOptions& options);

}  // namespace fruix::image
