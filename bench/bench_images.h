// bench::images — the benchmark's input images, generated deterministically from a seed so that a
// kept image (--keep-images) is reused only when it is exactly what would be generated again.
//
//   dense   every byte random
//   sparse  `data_fraction` of the size as random 1 MiB extents at scattered 1 MiB-aligned
//           offsets (distinct, chosen by a seeded shuffle); the file is created with ftruncate
//           and the extents written with pwrite, so everything else is a hole
//   zeros   the same extents as `sparse` with the same seed, but every other byte written as a
//           real zero: the file is fully allocated and holds the same disk as `sparse`
//
// Each image is fsync'ed after it is written, so its write-back does not run during the timed
// imports. Single-threaded; the functions block.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/core/result.h"

namespace fruix::bench {

inline constexpr uint64_t kMiB = 1024 * 1024;
inline constexpr uint64_t kExtentSize = kMiB;        // the data extents of sparse images
inline constexpr uint64_t kVhdBlockSize = 2 * kMiB;  // VHD block = fruixd's allocation unit

enum class ImageKind { kDense, kSparse, kZeros };
std::string_view ImageKindName(ImageKind kind);

struct ImageSpec {
  std::string name;  // case name: "dense", "sparse", "zeros", "sparse-20g"
  ImageKind kind = ImageKind::kDense;
  uint64_t size = 0;           // bytes; REQUIRES a positive multiple of 1 MiB
  double data_fraction = 1.0;  // sparse and zeros: share of the size in data extents
  uint64_t seed = 1;
};

// What an image holds, derived from its spec alone (no I/O).
struct ImageLayout {
  std::vector<uint64_t> extents;  // byte offsets of the 1 MiB data extents, sorted (not dense)
  uint64_t data_bytes = 0;        // bytes of random data
  uint64_t data_blocks = 0;       // 2 MiB blocks with at least one data byte
  uint64_t disk_blocks = 0;       // ceil(size / 2 MiB)
};
ImageLayout LayoutOf(const ImageSpec& spec);

struct GeneratedImage {
  ImageSpec spec;
  ImageLayout layout;
  std::string path;
  uint64_t file_size = 0;
  uint64_t allocated_bytes = 0;  // st_blocks * 512 after writing
  bool reused = false;           // an existing image was kept (--keep-images)
};

// Writes the image to `path` (replacing any file there) unless `reuse` is set and `path` plus its
// sidecar `path.spec` already describe this exact spec. Errors: kIo naming the path, kCancelled on
// an interrupt.
Result<GeneratedImage> GenerateImage(const ImageSpec& spec, const std::string& path, bool reuse);

// Length of the dynamic VHD stream for a disk of `size` bytes with `blocks` allocated 2 MiB blocks,
// laid out as both lib/vhd/writer.h and qemu-img's vpc driver do it: footer copy, header, BAT at
// 1536 padded to 512, blocks of 512-byte bitmap + 2 MiB, footer.
uint64_t DynamicVhdBytes(uint64_t size, uint64_t blocks);

}  // namespace fruix::bench
