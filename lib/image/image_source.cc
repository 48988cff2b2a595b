#include "lib/image/image_source.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace fruix::image {

Result<ImageSource> ImageSource::Open(const std::string& path, bool allow_problems) {
  FRUIX_ASSIGN_OR_RETURN(FormatInfo info, DetectFileFormat(path));
  if (!info.supported()) return Error::InvalidArgument(info.RefusalMessage(path));
  FRUIX_ASSIGN_OR_RETURN(std::shared_ptr<vhd::SourceFile> file, vhd::SourceFile::Open(path));
  return FromFile(std::move(info), std::move(file), allow_problems);
}

Result<ImageSource> ImageSource::Open(std::shared_ptr<vhd::SourceFile> file, bool allow_problems) {
  const std::string& path = file->path();
  auto size = file->Size();
  if (!size.ok()) {
    return Error::InvalidArgument(path + " is neither a regular file nor a block device (" +
                                  size.error().message() + ")");
  }
  if (*size == 0) return Error::InvalidArgument(path + " is empty (0 bytes)");
  std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(*size, 64 * 1024)));
  std::vector<uint8_t> tail(*size >= 512 ? 512 : 0);
  FRUIX_RETURN_IF_ERROR(file->ReadAt(0, head));
  if (!tail.empty()) FRUIX_RETURN_IF_ERROR(file->ReadAt(*size - 512, tail));
  FormatInfo info = DetectFormat(head, tail, *size, path);
  if (!info.supported()) return Error::InvalidArgument(info.RefusalMessage(path));
  return FromFile(std::move(info), std::move(file), allow_problems);
}

Result<ImageSource> ImageSource::FromFile(FormatInfo info, std::shared_ptr<vhd::SourceFile> file,
                                          bool allow_problems) {
  const std::string path = file->path();
  ImageSource src;
  src.path_ = path;
  src.format_ = std::move(info);
  src.file_ = std::move(file);
  FRUIX_ASSIGN_OR_RETURN(src.file_size_, src.file_->Size());
  if (src.file_size_ == 0) return Error::InvalidArgument(path + " is empty (0 bytes)");

  if (src.format_.format == SourceFormat::kRaw) {
    src.virtual_size_ = src.file_size_;
  } else {
    FRUIX_ASSIGN_OR_RETURN(vhd::VhdImage image, vhd::ReadVhd(*src.file_));
    src.problems_ = image.problems;
    src.virtual_size_ = image.virtual_size();
    src.vhd_ = std::move(image);
  }
  if (!allow_problems && !src.usable()) {
    std::string m = path + " is a " + src.format_.description + " that cannot be used:";
    for (const auto& p : src.problems_) m += "\n  " + p.ToString();
    if (src.problems_omitted() > 0) {
      m += "\n  ... and " + std::to_string(src.problems_omitted()) + " more problems";
    }
    return Error::InvalidArgument(m);
  }
  return src;
}

std::optional<uint64_t> ImageSource::VhdBlockOffset(uint64_t block) const {
  if (!vhd_ || vhd_->disk_type != vhd::DiskType::kDynamic || block >= vhd_->bat.size()) {
    return std::nullopt;
  }
  const uint32_t entry = vhd_->bat[static_cast<size_t>(block)];
  if (entry == vhd::kBatUnused) return std::nullopt;
  return uint64_t{entry} * vhd::kSectorSize;
}

AllocationMap ImageSource::CandidateBlocks() const {
  if (format_.format != SourceFormat::kVhdDynamic) return SeekDataBlocks(*file_, virtual_size_);
  AllocationMap map(block_count());
  for (const auto& b : vhd_->blocks) {
    if (b.index < map.block_count()) map.Set(b.index);
  }
  return map;
}

Result<ScanResult> ImageSource::Scan(const ScanOptions& options) const {
  if (!usable()) return Error::FailedPrecondition(path_ + " has problems; it cannot be scanned");
  if (format_.format != SourceFormat::kVhdDynamic) return ScanRaw(*file_, virtual_size_, options);
  const AllocationMap candidates = CandidateBlocks();
  auto read = [this](uint64_t block, uint64_t from, std::span<uint8_t> out) {
    return ReadBlock(block, from, out);
  };
  FRUIX_ASSIGN_OR_RETURN(ScanResult result, ScanBlocks(candidates, virtual_size_, read, options));
  result.hole_blocks = candidates.block_count() - candidates.Count();
  return result;
}

Result<std::string> ImageSource::Digest(const AllocationMap& data_blocks,
                                        const ScanOptions& options) const {
  if (!usable()) return Error::FailedPrecondition(path_ + " has problems; it cannot be hashed");
  ScanOptions hash = options;
  hash.detect_zeros = false;
  hash.digest = true;
  auto read = [this](uint64_t block, uint64_t from, std::span<uint8_t> out) {
    return ReadBlock(block, from, out);
  };
  FRUIX_ASSIGN_OR_RETURN(ScanResult result, ScanBlocks(data_blocks, virtual_size_, read, hash));
  if (!result.digest) return Error::Internal("the scan of " + path_ + " produced no digest");
  return *result.digest;
}

Result<void> ImageSource::ReadBlock(uint64_t block, uint64_t from, std::span<uint8_t> out) const {
  const uint64_t start = block * kBlockSize + from;  // virtual offset of out[0]
  const uint64_t avail =
      start < virtual_size_ ? std::min<uint64_t>(out.size(), virtual_size_ - start) : 0;
  std::memset(out.data() + avail, 0, out.size() - avail);
  if (avail == 0) return Ok();
  if (format_.format != SourceFormat::kVhdDynamic) {
    return file_->ReadAt(start, out.first(avail));
  }
  const std::optional<uint64_t> at = VhdBlockOffset(block);
  if (!at) {
    std::memset(out.data(), 0, avail);
    return Ok();
  }
  FRUIX_RETURN_IF_ERROR(file_->ReadAt(*at + 512 + from, out.first(avail)));
  std::array<uint8_t, 512> bitmap{};
  FRUIX_RETURN_IF_ERROR(file_->ReadAt(*at, bitmap));
  // Sectors whose bit is clear read as zeros; `from` is sector-aligned, `avail` may end mid-sector
  // only at the end of the disk.
  for (uint64_t pos = 0; pos < avail; pos += vhd::kSectorSize) {
    const uint64_t sector = (from + pos) / vhd::kSectorSize;
    if (!vhd::BitmapTest(bitmap, sector)) {
      std::memset(out.data() + pos, 0, std::min<uint64_t>(vhd::kSectorSize, avail - pos));
    }
  }
  return Ok();
}

}  // namespace fruix::image
