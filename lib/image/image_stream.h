// image::image_stream — pass 2 of an upload, planned: the exact body of PUT /import_raw_vdi for an
// image (or the file `fruixctl image convert` writes), as a vhd::StreamPlan whose length is the
// Content-Length. Pure planning over an open ImageSource (reads only VHD sector bitmaps); the
// plan is then written by whoever sends it. Single-threaded; the result is a value.
//
// Formats (xenapi-spec.md §6, vhd-format.md §1.7-1.10):
//   kVhd         dynamic VHD (lib/vhd/writer.h layout): the blocks of `data_blocks` with the
//                image's data, the zero-fill blocks with 2 MiB of zeros; every other block is
//                left unallocated, so xapi leaves it as it is on the VDI.
//                - raw / fixed VHD source: bitmap all ones (up to the disk's end), the data
//                  straight from the file (the last partial block padded with zeros);
//                - dynamic VHD source: the source's bitmap (masked to its size) and data area,
//                  blocks re-laid consecutively in virtual order whatever the source's order; when
//                  zero filling is on, a partially present block is sent whole (absent sectors as
//                  zeros, bitmap all ones) so nothing of the old VDI content survives in it.
//                Virtual size = the disk size rounded up to 512 (a raw file of 1000 bytes
//                becomes a 1024-byte disk whose last 24 bytes are zeros); at most 2040 GiB.
//   kRaw         every byte of the disk, Content-Length = disk size: data blocks from the file,
//                everything else zeros (xapi writes all of it, so zero filling is implied).
//   kRawChunked  xapi's chunk framing ({u64 LE offset, u32 LE length} + data per frame, then 12
//                zero bytes): one frame per data block (dynamic VHD source: per run of present
//                sectors), one frame of zeros per zero-fill block; the last block's frame ends
//                at the disk size.
//
// Zero filling (StreamOptions): `zero_blocks` are blocks to overwrite with zeros because the
// previous import wrote them and this image does not (zero_fill=previous: previous map minus this
// image's data map, see ZeroFillBlocks); `all_blocks` sends every block (zero_fill=full).
// `disk_size` may exceed the image's size (up to the VDI's virtual_size) so zero filling reaches
// blocks past the image's end; the image's content is unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "lib/core/result.h"
#include "lib/image/allocation_map.h"
#include "lib/image/image_source.h"
#include "lib/vhd/stream_plan.h"

namespace fruix::image {

enum class StreamFormat { kVhd, kRaw, kRawChunked };
// "vhd", "raw", "raw-chunked"; the query of PUT /import_raw_vdi is format=vhd, format=raw,
// format=raw&chunked=true respectively.
std::string_view StreamFormatName(StreamFormat format);
Result<StreamFormat> ParseStreamFormat(std::string_view name);

// How blocks that the image leaves empty are treated on a VDI that may hold an older image.
enum class ZeroFill {
  kPrevious,  // zero the blocks the previous import wrote and this one does not (default)
  kFull,      // send every block
  kNone,      // send only the image's blocks; older data may remain in the others
};
std::string_view ZeroFillName(ZeroFill mode);
Result<ZeroFill> ParseZeroFill(std::string_view name);

struct StreamOptions {
  StreamFormat format = StreamFormat::kVhd;
  AllocationMap zero_blocks;  // blocks to send as zeros (those past the disk are ignored)
  bool all_blocks = false;    // send every block of the disk, zeros where there is no data
  uint64_t disk_size = 0;     // 0: the image's virtual size; else >= it (see the top comment)
  uint32_t timestamp = 0;     // VHD footer timestamp (VHD epoch); 0 = now
};

// Blocks to zero for `mode`: kPrevious, blocks of `previous` (if known) not in `data`; kFull and
// kNone, none (kFull is StreamOptions::all_blocks).
AllocationMap ZeroFillBlocks(ZeroFill mode, const AllocationMap& data,
                             const std::optional<AllocationMap>& previous);

struct ImageStream {
  vhd::StreamPlan plan;
  StreamFormat format = StreamFormat::kVhd;
  uint64_t disk_size = 0;     // bytes of virtual disk the stream covers
  AllocationMap data_blocks;  // blocks sent with the image's data
  AllocationMap zero_blocks;  // blocks sent as zeros only
  // Blocks of the disk this stream writes (data or zeros): what the VDI holds from this image.
  AllocationMap WrittenBlocks() const { return Union(data_blocks, zero_blocks); }
};

// Plans the stream of `source` (usable) whose blocks with data are `data_blocks` (a scan's map, or
// CandidateBlocks(); every block must lie in the image, and for a dynamic VHD be allocated).
// Errors: kFailedPrecondition for an unusable source, kInvalidArgument for options that do not fit
// (disk_size below the image's size, VHD over 2040 GiB, data block outside the image), kIo
// reading VHD bitmaps.
Result<ImageStream> BuildImageStream(const ImageSource& source, const AllocationMap& data_blocks,
                                     const StreamOptions& options);

// The whole of passes 1 and 2 as the daemon runs them, so `fruixctl image convert` and an upload
// produce the same bytes for the same inputs: Scan (zero test on; digest if asked), then the
// zero-fill blocks for `zero_fill` and `previous` (the map recorded by the previous import;
// without one, kPrevious zeroes nothing), then BuildImageStream.
struct PlanOptions {
  StreamFormat format = StreamFormat::kVhd;
  ZeroFill zero_fill = ZeroFill::kPrevious;
  std::optional<AllocationMap> previous;
  uint64_t disk_size = 0;  // see StreamOptions
  bool digest = false;
  int threads = 0;                                              // scan threads, see ScanOptions
  std::function<bool(uint64_t done, uint64_t total)> progress;  // scan progress, see ScanOptions
};
struct PlannedStream {
  ScanResult scan;
  ImageStream stream;
};
Result<PlannedStream> PlanImageStream(const ImageSource& source, const PlanOptions& options);

}  // namespace fruix::image
