#include "lib/sim/vhd_tool.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "lib/vhd/format.h"

namespace fruix::sim {
namespace {

constexpr size_t kBufferSize = 2 * 1024 * 1024;  // vhd-tool copies in 2 MiB pieces
constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();
// The largest BAT the simulator accepts: 16 Mi entries (2040 GiB at 128 KiB blocks). A real VHD of
// the maximum size with 2 MiB blocks needs 4 MiB.
constexpr uint64_t kMaxBatBytes = 64ULL * 1024 * 1024;

std::string Num(uint64_t v) { return std::to_string(v); }

// The request body as vhd-tool sees it: a forward-only stream. Counts the bytes consumed, never
// reads past `limit` (the Content-Length) and never goes back.
class Body {
 public:
  Body(ByteReader& in, uint64_t limit) : in_(in), limit_(limit) {}

  uint64_t position() const { return pos_; }

  // Reads exactly n bytes. `what` names the structure for errors.
  Result<void> ReadExact(uint8_t* buf, size_t n, std::string_view what) {
    if (n > limit_ - pos_) {
      return Error::Protocol(std::string(what) + " (bytes " + Num(pos_) + ".." + Num(pos_ + n) +
                             ") extends past the end of the body (Content-Length " + Num(limit_) +
                             ")");
    }
    size_t done = 0;
    while (done < n) {
      FRUIX_ASSIGN_OR_RETURN(size_t got, in_.Read(buf + done, n - done));
      if (got == 0) {
        return Error::Protocol(
            "body ended after " + Num(pos_ + done) + " bytes" +
            (limit_ == kNoLimit ? std::string() : " of Content-Length " + Num(limit_)) +
            ", while reading " + std::string(what));
      }
      done += got;
    }
    pos_ += n;
    return Ok();
  }

  // Discards bytes up to `offset`, using `scratch` as the discard buffer. A target before the
  // current position is an error, as in ocaml-vhd's skip_to.
  Result<void> SkipTo(uint64_t offset, std::string_view what, std::span<uint8_t> scratch) {
    if (offset < pos_) {
      return Error::Protocol(std::string(what) + " at offset " + Num(offset) +
                             " lies before the current stream position " + Num(pos_) +
                             " (vhd-tool reads the body forward-only and cannot seek back)");
    }
    while (pos_ < offset) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(scratch.size(), offset - pos_));
      FRUIX_RETURN_IF_ERROR(ReadExact(scratch.data(), n, "the bytes before " + std::string(what)));
    }
    return Ok();
  }

 private:
  ByteReader& in_;
  uint64_t limit_;
  uint64_t pos_ = 0;
};

void Report(const ProgressFn& progress, uint64_t done, uint64_t total) {
  if (!progress) return;
  progress(total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total));
}

// Writes n bytes at `offset`; if they would end past out.size(), writes the part below it first
// and then fails, like a pwrite that runs off the end of a block device.
Result<void> WriteClipped(BlockWriter& out, uint64_t offset, const uint8_t* data, size_t n,
                          ImportStats& stats, std::string_view what) {
  const uint64_t size = out.size();
  if (offset < size && n > size - offset) {
    const size_t head = static_cast<size_t>(size - offset);
    FRUIX_RETURN_IF_ERROR(out.WriteAt(offset, data, head));
    stats.bytes_written += head;
  }
  if (offset >= size || n > size - offset) {
    return Error::Io(std::string(what) + ": bytes " + Num(offset) + ".." + Num(offset + n) +
                     " lie past the end of the VDI (size " + Num(size) + ")");
  }
  FRUIX_RETURN_IF_ERROR(out.WriteAt(offset, data, n));
  stats.bytes_written += n;
  return Ok();
}

// First sector in [from, end) whose bitmap bit equals `value`, or `end`.
uint64_t FindBit(std::span<const uint8_t> bitmap, uint64_t from, uint64_t end, bool value) {
  const uint8_t skip = value ? 0x00 : 0xFF;  // whole bytes that cannot contain the bit
  uint64_t i = from;
  while (i < end) {
    if ((i & 7) == 0 && i + 8 <= end && bitmap[i >> 3] == skip) {
      i += 8;
      continue;
    }
    if (vhd::BitmapTest(bitmap, i) == value) return i;
    ++i;
  }
  return end;
}

Error Invalid(const Error& e) { return Error::Protocol(e.message()); }

uint64_t LoadLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

}  // namespace

Result<ImportStats> ServeRaw(ByteReader& in, uint64_t content_length, BlockWriter& out,
                             const ProgressFn& progress) {
  ImportStats stats;
  stats.blocks_total = (content_length + kBufferSize - 1) / kBufferSize;
  Body body(in, content_length);
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(content_length, kBufferSize)));
  for (uint64_t offset = 0; offset < content_length;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBufferSize, content_length - offset));
    FRUIX_RETURN_IF_ERROR(body.ReadExact(buf.data(), n, "raw data at offset " + Num(offset)));
    stats.bytes_read = body.position();
    FRUIX_RETURN_IF_ERROR(WriteClipped(out, offset, buf.data(), n, stats,
                                       "raw upload of Content-Length " + Num(content_length)));
    offset += n;
    ++stats.blocks_done;
    Report(progress, offset, content_length);
  }
  FRUIX_RETURN_IF_ERROR(out.Sync());
  return stats;
}

Result<ImportStats> ServeChunked(ByteReader& in, BlockWriter& out, const ProgressFn&) {
  ImportStats stats;
  Body body(in, kNoLimit);
  std::vector<uint8_t> buf;
  for (uint64_t frame = 0;; ++frame) {
    std::array<uint8_t, 12> header{};
    FRUIX_RETURN_IF_ERROR(body.ReadExact(
        header.data(), header.size(),
        "chunk header " + Num(frame) + " (the body must end with a 12-byte all-zero header)"));
    stats.bytes_read = body.position();
    const uint64_t offset = LoadLe(header.data(), 8);
    const uint64_t len = LoadLe(header.data() + 8, 4);
    if (offset == 0 && len == 0) break;
    if (offset > out.size() || len > out.size() - offset) {
      return Error::Io("chunk " + Num(frame) + " at offset " + Num(offset) + " with length " +
                       Num(len) + " ends past the end of the VDI (size " + Num(out.size()) + ")");
    }
    if (buf.empty() && len > 0) buf.resize(kBufferSize);
    for (uint64_t done = 0; done < len;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kBufferSize, len - done));
      FRUIX_RETURN_IF_ERROR(body.ReadExact(buf.data(), n, "the data of chunk " + Num(frame)));
      stats.bytes_read = body.position();
      FRUIX_RETURN_IF_ERROR(out.WriteAt(offset + done, buf.data(), n));
      stats.bytes_written += n;
      done += n;
    }
    ++stats.blocks_total;
    ++stats.blocks_done;
  }
  FRUIX_RETURN_IF_ERROR(out.Sync());
  return stats;
}

Result<ImportStats> ServeVhd(ByteReader& in, uint64_t content_length, BlockWriter& out,
                             const ProgressFn& progress) {
  ImportStats stats;
  Body body(in, content_length);
  std::vector<uint8_t> buf(kBufferSize);

  // 1. The footer copy at offset 0. A fixed VHD has none: its first bytes are disk data.
  std::array<uint8_t, vhd::kFooterSize> footer_bytes{};
  FRUIX_RETURN_IF_ERROR(
      body.ReadExact(footer_bytes.data(), footer_bytes.size(), "the VHD footer copy at offset 0"));
  if (std::memcmp(footer_bytes.data(), vhd::kFooterCookie.data(), vhd::kFooterCookie.size()) != 0) {
    auto bad = vhd::Footer::Unmarshal(footer_bytes, 0);
    return Error::Protocol(
        "no VHD footer copy at offset 0 (" + bad.error().message() +
        "); a fixed VHD keeps its only footer at the end and cannot be streamed as format=vhd");
  }
  auto footer = vhd::Footer::Unmarshal(footer_bytes, 0);
  if (!footer.ok()) return Invalid(footer.error());
  if (footer->disk_type == vhd::DiskType::kFixed) {
    return Error::Protocol(
        "the VHD footer copy at offset 0 says disk type fixed; only dynamic and differencing "
        "VHDs can be streamed as format=vhd");
  }
  stats.bytes_read = body.position();

  // 2. The dynamic header at footer.data_offset.
  FRUIX_RETURN_IF_ERROR(
      body.SkipTo(footer->data_offset, "the dynamic header (footer data_offset)", buf));
  std::array<uint8_t, vhd::kDynamicHeaderSize> header_bytes{};
  FRUIX_RETURN_IF_ERROR(
      body.ReadExact(header_bytes.data(), header_bytes.size(),
                     "the VHD dynamic header at offset " + Num(footer->data_offset)));
  auto header = vhd::DynamicHeader::Unmarshal(header_bytes, footer->data_offset);
  if (!header.ok()) return Invalid(header.error());
  stats.bytes_read = body.position();

  // 3. The BAT at header.table_offset.
  const uint64_t bat_bytes = vhd::BatSizeBytes(header->max_table_entries);
  if (bat_bytes > kMaxBatBytes) {
    return Error::Protocol("VHD dynamic header: max table entries " +
                           Num(header->max_table_entries) + " needs a BAT of " + Num(bat_bytes) +
                           " bytes, more than the simulator accepts (" + Num(kMaxBatBytes) + ")");
  }
  FRUIX_RETURN_IF_ERROR(body.SkipTo(header->table_offset, "the BAT (header table_offset)", buf));
  std::vector<uint8_t> bat_raw(static_cast<size_t>(bat_bytes));
  FRUIX_RETURN_IF_ERROR(body.ReadExact(bat_raw.data(), bat_raw.size(),
                                       "the BAT at offset " + Num(header->table_offset)));
  stats.bytes_read = body.position();
  auto bat = vhd::UnmarshalBat(bat_raw, header->max_table_entries);
  if (!bat.ok()) return Invalid(bat.error());
  bat_raw = {};

  // 4. Allocated blocks, visited in increasing physical offset.
  std::vector<std::pair<uint32_t, uint32_t>> blocks;  // (BAT sector, block index)
  for (uint32_t i = 0; i < bat->size(); ++i) {
    if ((*bat)[i] != vhd::kBatUnused) blocks.emplace_back((*bat)[i], i);
  }
  *bat = {};
  // vhd-tool keys a map by BAT sector, so when several entries share a sector only the highest
  // block index survives; the others are silently not imported.
  std::sort(blocks.begin(), blocks.end());
  std::vector<std::pair<uint32_t, uint32_t>> unique;
  for (size_t k = 0; k < blocks.size(); ++k) {
    if (k + 1 < blocks.size() && blocks[k + 1].first == blocks[k].first) continue;
    unique.push_back(blocks[k]);
  }
  blocks = std::move(unique);
  stats.blocks_total = blocks.size();

  // vhd-tool reads sectors_per_block / 8 bitmap bytes (ocaml-vhd Header.sizeof_bitmap), not the
  // spec's size rounded up to 512; the two agree for every block size of 2 MiB and more.
  const uint32_t block_size = header->block_size;
  if (header->SectorsPerBlock() < 8) {
    return Error::Protocol("VHD dynamic header: block size " + Num(block_size) +
                           " is below the 4096 bytes vhd-tool can stream");
  }
  std::vector<uint8_t> bitmap(header->SectorsPerBlock() / 8);
  const uint64_t piece = std::min<uint64_t>(block_size, kBufferSize);
  const uint64_t sectors_per_piece = piece / vhd::kSectorSize;
  for (const auto& [sector, index] : blocks) {
    const std::string name = "block " + Num(index) + " (BAT sector " + Num(sector) + ")";
    FRUIX_RETURN_IF_ERROR(body.SkipTo(uint64_t{sector} * vhd::kSectorSize, name, buf));
    FRUIX_RETURN_IF_ERROR(body.ReadExact(bitmap.data(), bitmap.size(), "the bitmap of " + name));
    const uint64_t virtual_base = uint64_t{index} * block_size;
    for (uint64_t first = 0; first < header->SectorsPerBlock(); first += sectors_per_piece) {
      FRUIX_RETURN_IF_ERROR(body.ReadExact(buf.data(), piece, "the data of " + name));
      stats.bytes_read = body.position();
      const uint64_t end = first + sectors_per_piece;
      for (uint64_t s = FindBit(bitmap, first, end, true); s < end;) {
        const uint64_t run_end = FindBit(bitmap, s, end, false);
        FRUIX_RETURN_IF_ERROR(WriteClipped(
            out, virtual_base + s * vhd::kSectorSize, buf.data() + (s - first) * vhd::kSectorSize,
            static_cast<size_t>((run_end - s) * vhd::kSectorSize), stats,
            "allocated sectors " + Num(s) + ".." + Num(run_end - 1) + " of " + name));
        s = FindBit(bitmap, run_end, end, true);
      }
    }
    ++stats.blocks_done;
    Report(progress, stats.blocks_done, stats.blocks_total);
  }

  // 5. The trailing footer at (Content-Length - 1) & ~511, checked after the data is written.
  const uint64_t footer_at = (content_length - 1) & ~(vhd::kSectorSize - 1);
  FRUIX_RETURN_IF_ERROR(
      body.SkipTo(footer_at, "the trailing VHD footer ((Content-Length - 1) & ~511)", buf));
  FRUIX_RETURN_IF_ERROR(body.ReadExact(footer_bytes.data(), footer_bytes.size(),
                                       "the trailing VHD footer at offset " + Num(footer_at)));
  stats.bytes_read = body.position();
  auto trailer = vhd::Footer::Unmarshal(footer_bytes, footer_at);
  if (!trailer.ok()) return Error::Protocol("trailing " + trailer.error().message());

  FRUIX_RETURN_IF_ERROR(out.Sync());
  return stats;
}

}  // namespace fruix::sim
