// image::ImageSource — an input image opened for upload or inspection: its descriptor (kept open,
// so what is scanned is what is streamed), its detected format, its VHD structure if it is one,
// and every problem that makes it unusable. Created by Open on any thread; afterwards read-only and
// safe to share between threads.
//
// The virtual disk an image describes:
//   raw            the file's bytes; virtual size = file size (exact, any number of bytes)
//   fixed VHD      the file's first current_size bytes (file size - 512)
//   dynamic VHD    current_size bytes; allocated blocks from the BAT, sectors whose bitmap bit is
//                  clear read as zeros, unallocated blocks read as zeros
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/core/result.h"
#include "lib/image/allocation_map.h"
#include "lib/image/allocation_scan.h"
#include "lib/image/source_format.h"
#include "lib/vhd/reader.h"
#include "lib/vhd/stream_plan.h"

namespace fruix::image {

class ImageSource {
 public:
  // Opens and checks `path`. Errors naming the path: those of DetectFileFormat; kInvalidArgument
  // for an unsupported format (FormatInfo::RefusalMessage) or, unless `allow_problems`, for an
  // image with problems (every problem listed, one per line). With `allow_problems` a supported
  // image with problems opens (for `image check`), and problems() lists them; such a source must
  // not be streamed (BuildImageStream refuses it).
  static Result<ImageSource> Open(const std::string& path, bool allow_problems = false);
  // The same for a file already open (e.g. a descriptor a client passed; SourceFile::Adopt); its
  // path() is used in messages only. kInvalidArgument for an empty file or one that is neither a
  // regular file nor a block device.
  static Result<ImageSource> Open(std::shared_ptr<vhd::SourceFile> file,
                                  bool allow_problems = false);

  const std::string& path() const { return path_; }
  const FormatInfo& format() const { return format_; }
  uint64_t file_size() const { return file_size_; }
  // The virtual disk's size in bytes (see the top comment).
  uint64_t virtual_size() const { return virtual_size_; }
  uint64_t block_count() const { return BlocksForSize(virtual_size_); }
  const std::shared_ptr<const vhd::SourceFile>& file() const { return file_; }
  // The parsed VHD (fixed or dynamic); null for raw.
  const vhd::VhdImage* vhd() const { return vhd_ ? &*vhd_ : nullptr; }
  const std::vector<vhd::Problem>& problems() const { return problems_; }
  uint64_t problems_omitted() const { return vhd_ ? vhd_->problems_omitted : 0; }
  bool usable() const { return problems_.empty() && problems_omitted() == 0; }

  // Blocks that may hold data without reading any: raw and fixed, blocks not entirely in holes
  // (SEEK_DATA); dynamic VHD, the BAT's allocated blocks.
  AllocationMap CandidateBlocks() const;
  // Pass 1 (allocation_scan.h) over this disk: candidates, then the zero test and the digest as
  // `options` ask. REQUIRES: usable().
  Result<ScanResult> Scan(const ScanOptions& options) const;
  // The content digest (content_digest.h) of this disk given that only `data_blocks` may hold
  // data (a zero-testing scan's map): reads and hashes those blocks only, on options.threads
  // threads (detect_zeros is ignored). Equals Scan({.digest = true}).digest. REQUIRES: usable().
  Result<std::string> Digest(const AllocationMap& data_blocks, const ScanOptions& options) const;
  // Fills `out` with bytes [from, from + out.size()) of virtual block `block` (zeros past the end
  // of the disk, in holes, in unallocated blocks and in sectors whose bitmap bit is clear).
  // Thread-safe. REQUIRES: usable().
  Result<void> ReadBlock(uint64_t block, uint64_t from, std::span<uint8_t> out) const;

  // Dynamic VHD: the file offset of block `block`'s sector bitmap, if allocated.
  std::optional<uint64_t> VhdBlockOffset(uint64_t block) const;

 private:
  static Result<ImageSource> FromFile(FormatInfo info, std::shared_ptr<vhd::SourceFile> file,
                                      bool allow_problems);
  std::string path_;
  FormatInfo format_;
  uint64_t file_size_ = 0;
  uint64_t virtual_size_ = 0;
  std::shared_ptr<const vhd::SourceFile> file_;
  std::optional<vhd::VhdImage> vhd_;
  std::vector<vhd::Problem> problems_;
};

}  // namespace fruix::image
