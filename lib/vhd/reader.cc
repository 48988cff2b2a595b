#include "lib/vhd/reader.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace fruix::vhd {
namespace {

// The largest BAT read: 16 Mi entries (64 MiB), far above the 1,044,480 entries a 2040 GiB disk
// needs with 2 MiB blocks.
constexpr uint64_t kMaxBatEntries = 16ULL << 20;

std::string Num(uint64_t v) { return std::to_string(v); }

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

class Collector {
 public:
  explicit Collector(VhdImage& image) : image_(image) {}
  void Add(std::string field, uint64_t offset, std::string message) {
    if (image_.problems.size() >= VhdImage::kMaxProblems) {
      ++image_.problems_omitted;
      return;
    }
    image_.problems.push_back({std::move(field), offset, std::move(message)});
  }

 private:
  VhdImage& image_;
};

// Checks a footer image read at `base`; `name` is "footer" or "footer_copy". Returns false if the
// cookie is wrong (nothing else in it is worth checking).
bool CheckFooter(std::span<const uint8_t> bytes, uint64_t base, const std::string& name,
                 Collector& out) {
  const uint8_t* p = bytes.data();
  if (std::memcmp(p, kFooterCookie.data(), 8) != 0) {
    out.Add(name + ".cookie", base,
            "is " + QuoteBytes(p, 8) + ", expected \"conectix\"" +
                (name == "footer" ? " (the file is truncated or has junk after the footer)" : ""));
    return false;
  }
  const Footer f = Footer::Decode(bytes);
  if (f.format_version != kFormatVersion) {
    out.Add(name + ".format_version", base + 12,
            "is " + HexString(f.format_version) + ", expected " + HexString(kFormatVersion));
  }
  const auto type = static_cast<uint32_t>(f.disk_type);
  if (type < 2 || type > 4) {
    out.Add(name + ".disk_type", base + 60,
            "is " + Num(type) + ", expected 2 (fixed), 3 (dynamic) or 4 (differencing)");
  }
  const uint32_t sum = Checksum(bytes, kFooterChecksumOffset);
  if (f.checksum != sum) {
    out.Add(name + ".checksum", base + kFooterChecksumOffset,
            "stored " + HexString(f.checksum) + ", computed " + HexString(sum));
  }
  if (f.current_size == 0) {
    out.Add(name + ".current_size", base + 48, "is 0: the disk is empty");
  } else if (f.current_size % kSectorSize != 0) {
    out.Add(name + ".current_size", base + 48,
            "is " + Num(f.current_size) + ", not a multiple of 512");
  } else if (f.current_size > kMaxVirtualSize && f.disk_type != DiskType::kFixed) {
    out.Add(name + ".current_size", base + 48,
            "is " + Num(f.current_size) + ", more than the VHD limit of " + Num(kMaxVirtualSize) +
                " bytes (2040 GiB)");
  }
  return true;
}

// The names of the footer fields in which two footers differ.
std::string FooterDifferences(const Footer& a, const Footer& b) {
  std::string out;
  auto add = [&](bool differs, const char* name) {
    if (!differs) return;
    if (!out.empty()) out += ", ";
    out += name;
  };
  add(a.features != b.features, "features");
  add(a.format_version != b.format_version, "format_version");
  add(a.data_offset != b.data_offset, "data_offset");
  add(a.timestamp != b.timestamp, "timestamp");
  add(a.creator_app != b.creator_app, "creator_app");
  add(a.creator_version != b.creator_version, "creator_version");
  add(a.creator_host_os != b.creator_host_os, "creator_host_os");
  add(a.original_size != b.original_size, "original_size");
  add(a.current_size != b.current_size, "current_size");
  add(a.geometry != b.geometry, "geometry");
  add(a.disk_type != b.disk_type, "disk_type");
  add(a.checksum != b.checksum, "checksum");
  add(a.unique_id != b.unique_id, "unique_id");
  add(a.saved_state != b.saved_state, "saved_state");
  return out.empty() ? "reserved bytes" : out;
}

// Checks the dynamic header read at `base`. Returns false if the BAT cannot be located from it.
bool CheckHeader(std::span<const uint8_t> bytes, uint64_t base, const DynamicHeader& h,
                 DiskType type, Collector& out) {
  const uint8_t* p = bytes.data();
  if (std::memcmp(p, kHeaderCookie.data(), 8) != 0) {
    out.Add("header.cookie", base, "is " + QuoteBytes(p, 8) + ", expected \"cxsparse\"");
    return false;
  }
  bool usable = true;
  if (h.data_offset != kNoDataOffset) {
    out.Add("header.data_offset", base + 8,
            "is " + HexString(h.data_offset) + ", expected " + HexString(kNoDataOffset));
  }
  if (h.header_version != kHeaderVersion) {
    out.Add("header.header_version", base + 24,
            "is " + HexString(h.header_version) + ", expected " + HexString(kHeaderVersion));
  }
  if (!IsPowerOfTwo(h.block_size) || h.block_size < kSectorSize) {
    out.Add("header.block_size", base + 32,
            "is " + Num(h.block_size) + ", not a power of two of at least 512");
    usable = false;
  } else if (h.block_size != kDefaultBlockSize) {
    out.Add("header.block_size", base + 32,
            "is " + Num(h.block_size) +
                "; fruixd only streams VHDs with 2 MiB (2097152-byte) "
                "blocks; convert it: qemu-img convert -O raw IMAGE.vhd IMAGE.raw");
  }
  const uint32_t sum = Checksum(bytes, kHeaderChecksumOffset);
  if (h.checksum != sum) {
    out.Add("header.checksum", base + kHeaderChecksumOffset,
            "stored " + HexString(h.checksum) + ", computed " + HexString(sum));
  }
  if (type == DiskType::kDifferencing) {
    for (size_t i = 0; i < h.parent_locators.size(); ++i) {
      const uint32_t code = h.parent_locators[i].platform_code;
      if (!IsKnownPlatformCode(code)) {
        out.Add("header.parent_locator[" + Num(i) + "].platform_code", base + 576 + 24 * i,
                "is " + HexString(code) + ", not a known platform code");
      }
    }
  }
  return usable;
}

}  // namespace

std::string Problem::ToString() const {
  return field + " at offset " + Num(offset) + ": " + message;
}

Result<VhdImage> ReadVhd(const SourceFile& file) {
  VhdImage image;
  Collector out(image);
  FRUIX_ASSIGN_OR_RETURN(image.file_size, file.Size());
  const uint64_t size = image.file_size;
  if (size < kFooterSize) {
    return Error::InvalidArgument(file.path() + ": " + Num(size) +
                                  " bytes is too small to be a VHD (a footer alone is 512 bytes)");
  }
  std::array<uint8_t, kFooterSize> head{}, tail{};
  FRUIX_RETURN_IF_ERROR(file.ReadAt(0, head));
  const uint64_t tail_at = size - kFooterSize;
  FRUIX_RETURN_IF_ERROR(file.ReadAt(tail_at, tail));
  const bool has_copy = std::memcmp(head.data(), kFooterCookie.data(), 8) == 0;
  const bool has_tail = std::memcmp(tail.data(), kFooterCookie.data(), 8) == 0;
  if (!has_copy && !has_tail) {
    return Error::InvalidArgument(file.path() +
                                  ": not a VHD (no \"conectix\" footer at offset 0 or at offset " +
                                  Num(tail_at) + ")");
  }

  const Footer trailing = Footer::Decode(tail);
  const Footer copy = Footer::Decode(head);
  auto valid_type = [](const Footer& f) {
    const auto t = static_cast<uint32_t>(f.disk_type);
    return t >= 2 && t <= 4;
  };
  CheckFooter(tail, tail_at, "footer", out);
  if (has_tail && valid_type(trailing)) {
    image.disk_type = trailing.disk_type;
  } else if (has_copy && valid_type(copy)) {
    image.disk_type = copy.disk_type;
  } else {
    image.disk_type = DiskType::kDynamic;  // unknown: check it as the common case
  }

  if (image.disk_type == DiskType::kFixed) {
    image.footer = trailing;
    if (has_tail && trailing.current_size != tail_at) {
      out.Add("footer.current_size", tail_at + 48,
              "is " + Num(trailing.current_size) + " but the file holds " + Num(tail_at) +
                  " bytes of data before its footer (a fixed VHD is current_size bytes of data "
                  "then the footer)");
    }
    return image;
  }

  // Dynamic or differencing: xapi reads the copy at 0 first and the trailing footer last.
  if (!has_copy) {
    out.Add("footer_copy.cookie", 0,
            "is " + QuoteBytes(head.data(), 8) +
                ", expected \"conectix\": a dynamic VHD starts with a copy of its footer, which "
                "xapi reads first");
  } else {
    image.footer_copy = copy;
    CheckFooter(head, 0, "footer_copy", out);
    if (has_tail && head != tail) {
      out.Add("footer_copy", 0,
              "differs from the footer at offset " + Num(tail_at) + " (" +
                  FooterDifferences(copy, trailing) + ")");
    }
  }
  image.footer = has_copy ? copy : trailing;
  const Footer& f = image.footer;
  const uint64_t footer_at = has_copy ? 0 : tail_at;

  // The dynamic header.
  if (f.data_offset < kFooterSize || f.data_offset > tail_at ||
      tail_at - f.data_offset < kDynamicHeaderSize) {
    out.Add(std::string(has_copy ? "footer_copy" : "footer") + ".data_offset", footer_at + 16,
            "is " + HexString(f.data_offset) +
                ": the 1024-byte dynamic header must lie between the "
                "footer copy (bytes 0..511) and the trailing footer (offset " +
                Num(tail_at) + ")");
    return image;
  }
  std::array<uint8_t, kDynamicHeaderSize> hb{};
  FRUIX_RETURN_IF_ERROR(file.ReadAt(f.data_offset, hb));
  const DynamicHeader h = DynamicHeader::Decode(hb);
  const uint64_t hbase = f.data_offset;
  if (!CheckHeader(hb, hbase, h, image.disk_type, out)) return image;
  image.header = h;

  const uint64_t block_size = h.block_size;
  const uint64_t needed = (f.current_size + block_size - 1) / block_size;
  if (h.max_table_entries < needed) {
    out.Add("header.max_table_entries", hbase + 28,
            "is " + Num(h.max_table_entries) + ", but a disk of " + Num(f.current_size) +
                " bytes needs " + Num(needed) + " blocks of " + Num(block_size) + " bytes");
  }
  if (h.max_table_entries > kMaxBatEntries) {
    out.Add("header.max_table_entries", hbase + 28,
            "is " + Num(h.max_table_entries) + ", more than the " + Num(kMaxBatEntries) +
                " fruixd reads");
    return image;
  }
  const uint64_t header_end = hbase + kDynamicHeaderSize;
  if (h.table_offset < header_end) {
    out.Add("header.table_offset", hbase + 16,
            "is " + Num(h.table_offset) + ", before the end of the dynamic header (" +
                Num(header_end) + "); xapi reads the stream forward and cannot go back to it");
    return image;
  }
  const uint64_t bat_bytes = BatSizeBytes(h.max_table_entries);
  if (h.table_offset > tail_at || tail_at - h.table_offset < bat_bytes) {
    out.Add("header.table_offset", hbase + 16,
            "the BAT (" + Num(bat_bytes) + " bytes at offset " + Num(h.table_offset) +
                ") extends past the trailing footer at offset " + Num(tail_at) +
                " (the file is truncated?)");
    return image;
  }
  std::vector<uint8_t> bat_raw(static_cast<size_t>(bat_bytes));
  FRUIX_RETURN_IF_ERROR(file.ReadAt(h.table_offset, bat_raw));
  auto bat = UnmarshalBat(bat_raw, h.max_table_entries);
  if (!bat.ok()) return bat.error();
  image.bat = std::move(*bat);

  // Allocated blocks: after the BAT, before the trailing footer, not overlapping.
  const uint64_t bat_end = h.table_offset + bat_bytes;
  const uint64_t stride = BitmapSizeBytes(h.block_size) + block_size;
  for (uint32_t i = 0; i < image.bat.size(); ++i) {
    const uint32_t entry = image.bat[i];
    if (entry == kBatUnused) continue;
    const uint64_t at = h.table_offset + 4ULL * i;
    const std::string field = "BAT[" + Num(i) + "]";
    const uint64_t off = uint64_t{entry} * kSectorSize;
    if (i >= needed) {
      out.Add(field, at,
              "allocates block " + Num(i) + ", past the end of the " + Num(f.current_size) +
                  "-byte disk (" + Num(needed) + " blocks)");
    }
    if (off < bat_end) {
      out.Add(field, at,
              "places block " + Num(i) + " at offset " + Num(off) +
                  ", before the end of the BAT (" + Num(bat_end) +
                  "); xapi reads the stream forward and cannot go back to it");
    } else if (off > tail_at || tail_at - off < stride) {
      out.Add(field, at,
              "places block " + Num(i) + " at bytes " + Num(off) + ".." + Num(off + stride - 1) +
                  ", past the trailing footer at offset " + Num(tail_at) +
                  " (the file is truncated?)");
    }
    image.blocks.push_back({i, off});
  }
  std::sort(image.blocks.begin(), image.blocks.end(),
            [](const AllocatedBlock& a, const AllocatedBlock& b) {
              return a.offset != b.offset ? a.offset < b.offset : a.index < b.index;
            });
  for (size_t k = 1; k < image.blocks.size(); ++k) {
    const AllocatedBlock& prev = image.blocks[k - 1];
    const AllocatedBlock& cur = image.blocks[k];
    if (cur.offset < prev.offset + stride) {
      out.Add("BAT[" + Num(cur.index) + "]", h.table_offset + 4ULL * cur.index,
              "places block " + Num(cur.index) + " at offset " + Num(cur.offset) +
                  ", overlapping block " + Num(prev.index) + " (bytes " + Num(prev.offset) + ".." +
                  Num(prev.offset + stride - 1) + ")");
    }
  }
  return image;
}

}  // namespace fruix::vhd
