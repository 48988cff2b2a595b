#include "lib/image/inspect.h"

#include "lib/image/image_source.h"
#include "lib/vhd/writer.h"

namespace fruix::image {

Result<ImageReport> InspectImage(const std::string& path, const InspectOptions& options) {
  ImageReport report;
  report.path = path;
  FRUIX_ASSIGN_OR_RETURN(report.format, DetectFileFormat(path));
  FRUIX_ASSIGN_OR_RETURN(report.file_size, ImageFileSize(path));
  if (!report.format.supported()) {
    report.problems.push_back({"format", 0,
                               report.format.description +
                                   "; fruixd uploads raw disk images and VHDs: convert it first: " +
                                   report.format.remedy});
    return report;
  }
  FRUIX_ASSIGN_OR_RETURN(ImageSource source, ImageSource::Open(path, /*allow_problems=*/true));
  report.virtual_size = source.virtual_size();
  report.block_size = kBlockSize;
  report.block_count = source.block_count();
  report.problems = source.problems();
  report.problems_omitted = source.problems_omitted();
  if (!source.usable()) return report;

  ScanOptions scan;
  scan.digest = options.digest;
  scan.threads = options.threads;
  FRUIX_ASSIGN_OR_RETURN(ScanResult result, source.Scan(scan));
  report.scanned = true;
  report.allocated_blocks = result.map.Count();
  for (uint64_t b : result.map.Blocks()) {
    report.allocated_bytes += std::min(kBlockSize, report.virtual_size - b * kBlockSize);
  }
  report.hole_blocks = result.hole_blocks;
  report.zero_blocks = result.zero_blocks;
  report.allocation_map = result.map.Encode();
  report.digest = result.digest;
  report.raw_stream_bytes = report.virtual_size;

  const uint64_t vhd_size = (report.virtual_size + 511) / 512 * 512;
  if (vhd_size <= vhd::kMaxVirtualSize) {
    report.vhd_stream_bytes = vhd::DynamicVhdLength(vhd_size, report.allocated_blocks);
  } else {
    report.notes.push_back("the disk is larger than a VHD can be (2040 GiB): upload it as raw");
  }
  if (report.virtual_size % 512 != 0) {
    report.notes.push_back("the size " + std::to_string(report.virtual_size) +
                           " is not a multiple of 512: as a VHD the disk is " +
                           std::to_string(vhd_size) + " bytes, the last " +
                           std::to_string(vhd_size - report.virtual_size) + " of them zeros");
  }
  if (source.format().format == SourceFormat::kVhdFixed) {
    report.notes.push_back(
        "a fixed VHD is uploaded from its data part (the file minus its footer)");
  }
  return report;
}

}  // namespace fruix::image
