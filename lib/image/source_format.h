// image::source_format — what kind of file an input image is, decided by its content (magic
// numbers, VHD footer cookies), never by its name. fruixd uploads raw images and VHDs (dynamic or
// fixed); everything else it recognises is refused with a sentence saying what the file is and
// the exact command that converts it (the file name is used only to write that command).
// Pure functions plus one that reads a file's first 64 KiB and last 512 bytes; thread-safe.
//
// Recognised (in this order):
//   "conectix" at 0           VHD with a footer copy: dynamic (type 3), differencing (4)
//   "conectix" at size - 512  VHD without a footer copy: fixed (2), or a damaged dynamic one
//   "QFI\xfb" + version       qcow (1) / qcow2 (2, 3)        "QED\0"               QED
//   "KDMV", "COWD", "# Disk DescriptorFile"  VMDK            "vhdxfile"            VHDX
//   "<<< " at 0 or 0xbeda107f (LE) at 0x40   VirtualBox VDI
//   1f 8b  gzip    fd "7zXZ" 00  xz    28 b5 2f fd  zstd    "BZh1".."BZh9"  bzip2
//   "PK\3\4"  zip    "ustar" at 257  tar (an OVA or XVA?)
//   anything else             raw (an ISO 9660 image is raw too)
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "lib/core/result.h"

namespace fruix::image {

enum class SourceFormat {
  kRaw,
  kVhdDynamic,
  kVhdFixed,
  kVhdDifferencing,
  kQcow,
  kQcow2,
  kQed,
  kVmdk,
  kVhdx,
  kVdi,
  kGzip,
  kXz,
  kZstd,
  kBzip2,
  kZip,
  kTar,
};

// "raw", "vhd-dynamic", "vhd-fixed", "vhd-differencing", "qcow2", ... (stable: used in --json).
std::string_view SourceFormatName(SourceFormat format);
// True for the formats fruixd uploads: raw, dynamic VHD, fixed VHD.
bool IsSupported(SourceFormat format);

struct FormatInfo {
  SourceFormat format = SourceFormat::kRaw;
  // What the file is, for people: "qcow2 image (version 3, virtual size 21474836480 bytes)".
  std::string description;
  // For unsupported formats, the command that turns the file into something fruixd takes:
  // "qemu-img convert -f qcow2 -O raw disk.qcow2 disk.raw". Empty when supported.
  std::string remedy;

  bool supported() const { return IsSupported(format); }
  // For unsupported formats: "disk.qcow2 is a qcow2 image (...); fruixd uploads raw and VHD
  // images: convert it first: qemu-img convert ...".
  std::string RefusalMessage(std::string_view path) const;
};

// Decides from the first bytes of the file (`head`, up to 64 KiB; fewer if the file is shorter),
// its last 512 bytes (`tail`, empty if the file is shorter than 512 bytes) and its size. `path`
// is used only to write the remedy.
FormatInfo DetectFormat(std::span<const uint8_t> head, std::span<const uint8_t> tail,
                        uint64_t file_size, std::string_view path);

// Opens `path` and runs DetectFormat. Errors name the path: kNotFound (missing), kInvalidArgument
// (a directory, an empty file, not a regular file or block device), kPermissionDenied, kIo.
Result<FormatInfo> DetectFileFormat(const std::string& path);

// The byte count of `path` the way DetectFileFormat sees it (file size or block device size).
Result<uint64_t> ImageFileSize(const std::string& path);

}  // namespace fruix::image
