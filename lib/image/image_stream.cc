#include "lib/image/image_stream.h"

#include <array>
#include <ctime>
#include <vector>

#include "lib/vhd/format.h"
#include "lib/vhd/writer.h"

namespace fruix::image {
namespace {

constexpr uint64_t kSector = vhd::kSectorSize;
constexpr uint64_t kSectorsPerBlock = kBlockSize / kSector;

std::string Num(uint64_t v) { return std::to_string(v); }

using Bitmap = std::array<uint8_t, 512>;

// Plans the bytes of blocks of one source; `disk` is the size the stream describes.
class BlockPlanner {
 public:
  BlockPlanner(const ImageSource& source, uint64_t disk, bool fill_absent)
      : source_(source), disk_(disk), fill_absent_(fill_absent) {}

  // The source's bitmap of dynamic-VHD block `block`, bits past the image's end cleared.
  Result<Bitmap> SourceBitmap(uint64_t block) const {
    Bitmap bm{};
    FRUIX_RETURN_IF_ERROR(source_.file()->ReadAt(*source_.VhdBlockOffset(block), bm));
    const Bitmap limit = vhd::FullBitmap(source_.virtual_size(), static_cast<uint32_t>(block));
    for (size_t i = 0; i < bm.size(); ++i) bm[i] &= limit[i];
    return bm;
  }

  // Appends bytes [0, len) of data block `block` as the disk holds them: from the file where
  // the image has data, zeros elsewhere.
  Result<void> AppendData(uint64_t block, uint64_t len, vhd::StreamPlan& plan) const {
    const uint64_t start = block * kBlockSize;
    if (source_.format().format != SourceFormat::kVhdDynamic) {
      const uint64_t image = source_.virtual_size();
      const uint64_t from_file = start < image ? std::min(len, image - start) : 0;
      plan.AddFile(start, from_file);
      plan.AddZeros(len - from_file);
      return Ok();
    }
    FRUIX_ASSIGN_OR_RETURN(const Bitmap bm, SourceBitmap(block));
    const uint64_t data_at = *source_.VhdBlockOffset(block) + kSector;
    for (uint64_t pos = 0; pos < len;) {
      const uint64_t sector = pos / kSector;
      const bool present = vhd::BitmapTest(bm, sector);
      uint64_t end = pos;
      while (end < len && vhd::BitmapTest(bm, end / kSector) == present) end += kSector;
      end = std::min(end, len);
      if (present) {
        plan.AddFile(data_at + pos, end - pos);
      } else {
        plan.AddZeros(end - pos);
      }
      pos = end;
    }
    return Ok();
  }

  // Appends a VHD block (bitmap + 2 MiB) for a data block.
  Result<void> AppendVhdDataBlock(uint64_t block, vhd::StreamPlan& plan) {
    const Bitmap full = vhd::FullBitmap(disk_, static_cast<uint32_t>(block));
    if (source_.format().format == SourceFormat::kVhdDynamic && !fill_absent_) {
      // Keep the source's bitmap and data area as they are.
      FRUIX_ASSIGN_OR_RETURN(const Bitmap bm, SourceBitmap(block));
      AddBitmap(bm, plan);
      plan.AddFile(*source_.VhdBlockOffset(block) + kSector, kBlockSize);
      return Ok();
    }
    AddBitmap(full, plan);
    return AppendData(block, kBlockSize, plan);
  }

  // Appends a VHD block of zeros.
  void AppendVhdZeroBlock(uint64_t block, vhd::StreamPlan& plan) {
    AddBitmap(vhd::FullBitmap(disk_, static_cast<uint32_t>(block)), plan);
    plan.AddZeros(kBlockSize);
  }

  // Appends chunk frames for data block `block` (bytes [0, len) of it).
  Result<void> AppendChunkedData(uint64_t block, uint64_t len, vhd::StreamPlan& plan) const {
    const uint64_t start = block * kBlockSize;
    if (source_.format().format != SourceFormat::kVhdDynamic || fill_absent_) {
      AddFrameHeader(start, len, plan);
      return AppendData(block, len, plan);
    }
    FRUIX_ASSIGN_OR_RETURN(const Bitmap bm, SourceBitmap(block));
    const uint64_t data_at = *source_.VhdBlockOffset(block) + kSector;
    for (uint64_t s = 0; s < kSectorsPerBlock && s * kSector < len;) {
      if (!vhd::BitmapTest(bm, s)) {
        ++s;
        continue;
      }
      uint64_t e = s;
      while (e < kSectorsPerBlock && e * kSector < len && vhd::BitmapTest(bm, e)) ++e;
      const uint64_t n = std::min(e * kSector, len) - s * kSector;
      AddFrameHeader(start + s * kSector, n, plan);
      plan.AddFile(data_at + s * kSector, n);
      s = e;
    }
    return Ok();
  }

  static void AddFrameHeader(uint64_t offset, uint64_t len, vhd::StreamPlan& plan) {
    std::array<uint8_t, 12> h{};
    for (int i = 0; i < 8; ++i) h[static_cast<size_t>(i)] = static_cast<uint8_t>(offset >> (8 * i));
    for (int i = 0; i < 4; ++i)
      h[8 + static_cast<size_t>(i)] = static_cast<uint8_t>(len >> (8 * i));
    plan.AddBytes(h);
  }

 private:
  // Stores the all-ones bitmap once; other bitmaps are stored per block.
  void AddBitmap(const Bitmap& bm, vhd::StreamPlan& plan) {
    static const Bitmap kOnes = [] {
      Bitmap b;
      b.fill(0xFF);
      return b;
    }();
    if (bm != kOnes) {
      plan.AddBytes(bm);
      return;
    }
    if (!ones_) ones_ = plan.Store(kOnes);
    plan.AddStored(*ones_);
  }

  const ImageSource& source_;
  uint64_t disk_;
  bool fill_absent_;
  std::optional<vhd::StreamPlan::Stored> ones_;
};

}  // namespace

std::string_view StreamFormatName(StreamFormat format) {
  switch (format) {
    case StreamFormat::kVhd:
      return "vhd";
    case StreamFormat::kRaw:
      return "raw";
    case StreamFormat::kRawChunked:
      return "raw-chunked";
  }
  return "unknown";
}

Result<StreamFormat> ParseStreamFormat(std::string_view name) {
  for (StreamFormat f : {StreamFormat::kVhd, StreamFormat::kRaw, StreamFormat::kRawChunked}) {
    if (name == StreamFormatName(f)) return f;
  }
  return Error::InvalidArgument("unknown stream format \"" + std::string(name) +
                                "\" (expected vhd, raw or raw-chunked)");
}

std::string_view ZeroFillName(ZeroFill mode) {
  switch (mode) {
    case ZeroFill::kPrevious:
      return "previous";
    case ZeroFill::kFull:
      return "full";
    case ZeroFill::kNone:
      return "none";
  }
  return "unknown";
}

Result<ZeroFill> ParseZeroFill(std::string_view name) {
  for (ZeroFill m : {ZeroFill::kPrevious, ZeroFill::kFull, ZeroFill::kNone}) {
    if (name == ZeroFillName(m)) return m;
  }
  return Error::InvalidArgument("unknown zero_fill mode \"" + std::string(name) +
                                "\" (expected previous, full or none)");
}

AllocationMap ZeroFillBlocks(ZeroFill mode, const AllocationMap& data,
                             const std::optional<AllocationMap>& previous) {
  if (mode != ZeroFill::kPrevious || !previous) return AllocationMap(data.block_count());
  return Difference(*previous, data);
}

Result<ImageStream> BuildImageStream(const ImageSource& source, const AllocationMap& data_blocks,
                                     const StreamOptions& options) {
  if (!source.usable()) {
    return Error::FailedPrecondition(source.path() + " has problems and cannot be streamed");
  }
  const uint64_t image = source.virtual_size();
  const uint64_t requested = options.disk_size == 0 ? image : options.disk_size;
  if (requested < image) {
    return Error::InvalidArgument("disk size " + Num(requested) + " is smaller than " +
                                  source.path() + "'s virtual size " + Num(image));
  }
  const bool vhd_out = options.format == StreamFormat::kVhd;
  const uint64_t disk = vhd_out ? (requested + kSector - 1) / kSector * kSector : requested;
  if (vhd_out && disk > vhd::kMaxVirtualSize) {
    return Error::InvalidArgument("a " + Num(disk) + "-byte disk is larger than a VHD can be (" +
                                  Num(vhd::kMaxVirtualSize) + " bytes, 2040 GiB); use format raw");
  }
  const uint64_t blocks = BlocksForSize(disk);
  for (uint64_t b : data_blocks.Blocks()) {
    if (b >= source.block_count() ||
        (source.format().format == SourceFormat::kVhdDynamic && !source.VhdBlockOffset(b))) {
      return Error::InvalidArgument("data block " + Num(b) + " is not part of " + source.path() +
                                    "'s data");
    }
  }

  ImageStream out;
  out.format = options.format;
  out.disk_size = disk;
  out.plan = vhd::StreamPlan(source.file());
  out.data_blocks = data_blocks;
  out.data_blocks.Resize(blocks);
  AllocationMap fill = options.all_blocks ? AllocationMap::Full(blocks) : options.zero_blocks;
  fill.Resize(blocks);
  out.zero_blocks = Difference(fill, out.data_blocks);
  const bool fill_absent = options.all_blocks || !fill.Empty();
  BlockPlanner planner(source, disk, fill_absent);
  auto block_len = [disk](uint64_t b) { return std::min(kBlockSize, disk - b * kBlockSize); };

  switch (options.format) {
    case StreamFormat::kVhd: {
      vhd::DynamicVhdParams params;
      params.virtual_size = disk;
      params.unique_id = vhd::RandomUniqueId();
      params.timestamp = options.timestamp != 0 ? options.timestamp
                                                : vhd::VhdTimestampFromUnix(std::time(nullptr));
      std::vector<uint32_t> list;
      for (uint64_t b : out.WrittenBlocks().Blocks()) list.push_back(static_cast<uint32_t>(b));
      auto emit = [&](uint32_t b, vhd::StreamPlan& plan) -> Result<void> {
        if (out.data_blocks.Test(b)) return planner.AppendVhdDataBlock(b, plan);
        planner.AppendVhdZeroBlock(b, plan);
        return Ok();
      };
      FRUIX_RETURN_IF_ERROR(vhd::AppendDynamicVhd(params, list, emit, out.plan));
      break;
    }
    case StreamFormat::kRaw: {
      for (uint64_t b = 0; b < blocks; ++b) {
        if (out.data_blocks.Test(b)) {
          FRUIX_RETURN_IF_ERROR(planner.AppendData(b, block_len(b), out.plan));
        } else {
          out.plan.AddZeros(block_len(b));
        }
      }
      // Raw writes every byte: whatever is not data is written as zeros.
      out.zero_blocks = Difference(AllocationMap::Full(blocks), out.data_blocks);
      break;
    }
    case StreamFormat::kRawChunked: {
      for (uint64_t b : out.WrittenBlocks().Blocks()) {
        if (out.data_blocks.Test(b)) {
          FRUIX_RETURN_IF_ERROR(planner.AppendChunkedData(b, block_len(b), out.plan));
        } else {
          BlockPlanner::AddFrameHeader(b * kBlockSize, block_len(b), out.plan);
          out.plan.AddZeros(block_len(b));
        }
      }
      out.plan.AddZeros(12);  // the terminator: offset 0, length 0
      break;
    }
  }
  return out;
}

Result<PlannedStream> PlanImageStream(const ImageSource& source, const PlanOptions& options) {
  ScanOptions scan;
  scan.detect_zeros = true;
  scan.digest = options.digest;
  scan.threads = options.threads;
  scan.progress = options.progress;
  PlannedStream out;
  FRUIX_ASSIGN_OR_RETURN(out.scan, source.Scan(scan));
  StreamOptions stream;
  stream.format = options.format;
  stream.disk_size = options.disk_size;
  stream.all_blocks = options.zero_fill == ZeroFill::kFull;
  stream.zero_blocks = ZeroFillBlocks(options.zero_fill, out.scan.map, options.previous);
  FRUIX_ASSIGN_OR_RETURN(out.stream, BuildImageStream(source, out.scan.map, stream));
  return out;
}

}  // namespace fruix::image
