// sim::vhd_tool — what xapi's `vhd-tool serve` does with the body of PUT /import_raw_vdi, as a
// library the simulator's HTTP handler calls on its connection thread. Semantics follow
// ../shared/docs/vhd-format.md §1.7–1.8 and xenapi-spec.md §6.4:
//   raw          copy exactly `content_length` bytes from offset 0 (every byte, zeros included);
//   raw+chunked  {u64 LE offset, u32 LE len, data} frames until a 12-byte all-zero terminator;
//   vhd          forward-only stream parse (footer copy, header, BAT, blocks in physical order,
//                trailing footer at (content_length-1) & ~511); only sectors whose bitmap bit is
//                set are written; checksums verified; backwards seeks are errors.
// Any failure returns an Error whose message says what was wrong (for the simulator's log); the
// HTTP handler turns every failure into the task error VDI_IO_ERROR ["Device I/O errors"], as xapi.
// Functions are reentrant; each call owns its reader and writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "lib/core/result.h"

namespace fruix::sim {

// The request body. Read() returns the number of bytes read, 0 only at end of stream.
class ByteReader {
 public:
  virtual ~ByteReader() = default;
  virtual Result<size_t> Read(void* buf, size_t n) = 0;
};

// The VDI's backing store. Writes past `size()` must fail (like writing past a block device).
class BlockWriter {
 public:
  virtual ~BlockWriter() = default;
  virtual uint64_t size() const = 0;
  virtual Result<void> WriteAt(uint64_t offset, const void* data, size_t n) = 0;
  virtual Result<void> Sync() = 0;
};

struct ImportStats {
  uint64_t bytes_read = 0;     // body bytes consumed
  uint64_t bytes_written = 0;  // bytes written into the VDI
  uint64_t blocks_total = 0;   // vhd: allocated BAT entries; raw: 2 MiB units of content_length
  uint64_t blocks_done = 0;
};

// Called after each block (vhd: blocks done / allocated BAT entries) or 2 MiB (raw: bytes copied /
// content_length) with a fraction in [0, 1]; never for raw+chunked, whose total is unknown. May be
// empty. Called on the importing thread.
using ProgressFn = std::function<void(double)>;

// All three read `in` strictly forward with large reads (bounded memory: a 2 MiB buffer, plus the
// BAT for vhd), never read past `content_length`, write through `out`, and call out.Sync() once at
// the end on success only. On failure, whatever was written before the failure stays written (as
// with xapi). Errors: kProtocol for a malformed, invalid or short body (the message names the
// structure, the field, the bad value and its offset), kIo for a failed write (including a write
// past out.size()), or the reader's own error.
//
// raw: exactly `content_length` bytes, in 2 MiB pieces, at offsets 0..content_length; a piece that
// ends past out.size() is written up to out.size() and then fails. blocks_total = 2 MiB pieces.
Result<ImportStats> ServeRaw(ByteReader& in, uint64_t content_length, BlockWriter& out,
                             const ProgressFn& progress);
// raw+chunked: frames until the 12-byte all-zero terminator (offset 0, length 0); a frame that ends
// past out.size() fails before any of its bytes is written; a body that ends before the terminator
// fails. blocks_total = blocks_done = frames before the terminator.
Result<ImportStats> ServeChunked(ByteReader& in, BlockWriter& out, const ProgressFn& progress);
// vhd: see the top comment. A fixed VHD (no footer copy at offset 0) fails; an allocated sector at
// or past out.size() fails after everything before it was written (sectors of the same run below
// out.size() included). The trailing footer is checked only after all data was written.
// vhd-tool quirks kept on purpose: BAT entries that share a sector import only the highest block
// index; the bitmap read per block is sectors_per_block / 8 bytes (not rounded up to 512; equal
// for 2 MiB blocks); qemu marks every sector of the last, partial block as present, so a VDI
// whose size is not a multiple of 2 MiB can fail on that block (SM rounds VDI sizes to 2 MiB).
Result<ImportStats> ServeVhd(ByteReader& in, uint64_t content_length, BlockWriter& out,
                             const ProgressFn& progress);

}  // namespace fruix::sim
