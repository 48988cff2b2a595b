// image::inspect — everything `fruixctl image check` reports about an image file, without a
// daemon: its format, virtual size, allocation (after the zero test), the size of the stream an
// upload would send, optionally the content digest, and every problem that makes it unusable.
// Blocks the calling thread for the scan; the report is a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/result.h"
#include "lib/image/source_format.h"
#include "lib/vhd/reader.h"

namespace fruix::image {

struct InspectOptions {
  bool digest = false;  // also compute the content digest (reads every block with data)
  int threads = 0;      // scan threads, see ScanOptions
};

struct ImageReport {
  std::string path;
  FormatInfo format;
  uint64_t file_size = 0;
  uint64_t virtual_size = 0;  // 0 when the format is not supported
  uint64_t block_size = 0;    // 2 MiB once scanned
  uint64_t block_count = 0;
  bool scanned = false;           // the figures below are known (usable images only)
  uint64_t allocated_blocks = 0;  // blocks with non-zero data
  uint64_t allocated_bytes = 0;   // their bytes inside the virtual size
  uint64_t hole_blocks = 0;       // blocks skipped as holes (raw, fixed) or unallocated (VHD)
  uint64_t zero_blocks = 0;       // blocks read and found all zero
  uint64_t vhd_stream_bytes = 0;  // Content-Length of the default upload (format vhd), 0 if none
  uint64_t raw_stream_bytes = 0;  // Content-Length of a format=raw upload
  std::string allocation_map;     // AllocationMap::Encode of the allocated blocks
  std::optional<std::string> digest;
  std::vector<vhd::Problem> problems;  // an unsupported format is one problem, field "format"
  uint64_t problems_omitted = 0;
  std::vector<std::string> notes;  // facts worth knowing that do not make it unusable

  bool usable() const { return problems.empty() && problems_omitted == 0; }
};

// Inspects `path`. Content problems are in the report; errors are only for files that cannot be
// examined at all (missing, a directory, empty, unreadable), each naming the path.
Result<ImageReport> InspectImage(const std::string& path, const InspectOptions& options);

}  // namespace fruix::image
