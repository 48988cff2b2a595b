// vhd::reader — opens a VHD file (fixed, dynamic or differencing) and checks everything the import
// path depends on before a single byte is sent: both footers, the dynamic header and the BAT, with
// the rules of xapi's forward-only reader (../shared/docs/vhd-format.md §1.7) and fruixd's own
// limits (2 MiB blocks, at most 2040 GiB). It collects EVERY problem, each naming the field and
// the absolute file offset of that field, so `fruixctl image check` can list them all; an image is
// usable only if there are none. Reads with pread(2) only; a VhdImage is a plain value.
//
// Checks (dynamic and differencing):
//   trailing footer at size-512 and footer copy at 0: cookie, format version, disk type, checksum,
//     current_size (> 0, multiple of 512, <= 2040 GiB); the copy must equal the trailing footer
//     byte for byte;
//   header at footer.data_offset: inside the file and after the footer copy, cookie, data offset,
//     version, checksum, block size (a power of two, and 2 MiB), max_table_entries >=
//     ceil(current_size / block_size) (qemu refuses fewer: "Page table too small");
//   BAT at header.table_offset: after the header (the reader cannot seek back), inside the file;
//     every allocated entry: block below ceil(current_size / block_size), bitmap + data after the
//     BAT and before the trailing footer, no two blocks overlapping.
//   Entries past ceil(current_size / block_size) are tolerated if unused (XO once wrote one extra).
// Checks (fixed): the trailing footer as above, and current_size == file size - 512.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/result.h"
#include "lib/vhd/format.h"
#include "lib/vhd/stream_plan.h"

namespace fruix::vhd {

// One thing wrong with an image. `field` names the structure and field ("footer.checksum",
// "BAT[17]"), `offset` is the absolute file offset of that field, `message` says what is wrong.
struct Problem {
  std::string field;
  uint64_t offset = 0;
  std::string message;

  // "footer.checksum at offset 1049088: stored 0x..., computed 0x..."
  std::string ToString() const;
  bool operator==(const Problem&) const = default;
};

// An allocated block: virtual block `index`, its sector bitmap at byte `offset` of the file, its
// data right after the bitmap.
struct AllocatedBlock {
  uint32_t index = 0;
  uint64_t offset = 0;
  bool operator==(const AllocatedBlock&) const = default;
};

struct VhdImage {
  uint64_t file_size = 0;
  DiskType disk_type = DiskType::kDynamic;  // from the trailing footer (or the copy if unreadable)
  // The footer the import uses: the copy at 0 for dynamic/differencing (xapi reads it first), the
  // trailing one for fixed. Decoded even when invalid (see problems).
  Footer footer;
  std::optional<Footer> footer_copy;  // dynamic/differencing: the copy at offset 0, if present
  std::optional<DynamicHeader> header;
  std::vector<uint32_t> bat;           // max_table_entries entries, as stored
  std::vector<AllocatedBlock> blocks;  // allocated BAT entries, sorted by file offset
  std::vector<Problem> problems;
  // More problems than `problems` holds were found (the list is capped at kMaxProblems).
  uint64_t problems_omitted = 0;

  static constexpr size_t kMaxProblems = 64;

  bool usable() const { return problems.empty() && problems_omitted == 0; }
  uint64_t virtual_size() const { return footer.current_size; }
  uint32_t block_size() const { return header ? header->block_size : kDefaultBlockSize; }
};

// Reads and checks the VHD in `file`. Content problems go to VhdImage::problems; the Result fails
// only when the file cannot be read (kIo) or is not a VHD at all (kInvalidArgument: no "conectix"
// cookie at 0 or at size-512).
Result<VhdImage> ReadVhd(const SourceFile& file);

}  // namespace fruix::vhd
