// image::convert — `fruixctl image convert`: writes to a file exactly the stream an upload of the
// image would send (PlanImageStream with zero_fill none: a fresh VDI), for use with other tools.
// The output appears complete or not at all: it is written to a temporary file next to it, flushed
// (fdatasync) and renamed into place; on any error the temporary file is removed. Zeros are written
// as holes, so the output is as sparse as the stream. Blocks the calling thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/core/result.h"
#include "lib/image/image_stream.h"

namespace fruix::image {

struct ConvertOptions {
  StreamFormat format = StreamFormat::kVhd;
  bool force = false;   // replace an existing output
  bool digest = false;  // compute the content digest while scanning
};

struct ConvertResult {
  std::string output;
  StreamFormat format = StreamFormat::kVhd;
  uint64_t bytes_written = 0;  // == the stream's length
  uint64_t disk_size = 0;
  uint64_t data_blocks = 0;
  std::string allocation_map;  // AllocationMap::Encode of the data blocks
  std::optional<std::string> digest;
};

// Errors: ImageSource::Open's; kAlreadyExists if `output` exists and !force; kInvalidArgument if
// `output` is the input itself, a directory or another non-regular file (a device, a pipe: even
// with force); kIo for write failures (naming the path).
Result<ConvertResult> ConvertImage(const std::string& input, const std::string& output,
                                   const ConvertOptions& options);

}  // namespace fruix::image
