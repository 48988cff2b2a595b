#include "lib/image/allocation_map.h"

#include <algorithm>
#include <bit>
#include <charconv>

namespace fruix::image {
namespace {

constexpr std::string_view kPrefix = "am1;n=";
constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// The largest block count Parse accepts: 2^32 blocks (8 PiB), far past any VHD or VDI.
constexpr uint64_t kMaxBlocks = 1ULL << 32;

std::string Base64(const std::vector<uint8_t>& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = uint32_t{in[i]} << 16;
    if (i + 1 < in.size()) v |= uint32_t{in[i + 1]} << 8;
    if (i + 2 < in.size()) v |= in[i + 2];
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kBase64[v & 63] : '=';
  }
  return out;
}

Error Bad(std::string_view text, size_t pos, const std::string& what) {
  std::string shown(text.substr(pos, 24));
  if (pos + 24 < text.size()) shown += "...";
  return Error::InvalidArgument("allocation map: " + what + " at character " + std::to_string(pos) +
                                " (\"" + shown + "\")");
}

// Parses a decimal u64 at text[pos...]; advances pos.
bool ParseNumber(std::string_view text, size_t& pos, uint64_t& value) {
  const char* begin = text.data() + pos;
  const char* end = text.data() + text.size();
  if (begin == end || *begin < '0' || *begin > '9') return false;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc()) return false;
  pos += static_cast<size_t>(ptr - begin);
  return true;
}

}  // namespace

AllocationMap::AllocationMap(uint64_t block_count)
    : block_count_(block_count), words_(static_cast<size_t>((block_count + 63) / 64), 0) {}

AllocationMap AllocationMap::Full(uint64_t block_count) {
  AllocationMap m(block_count);
  for (auto& w : m.words_) w = ~0ULL;
  if (block_count % 64 != 0) m.words_.back() = (1ULL << (block_count % 64)) - 1;
  return m;
}

bool AllocationMap::Test(uint64_t block) const {
  return block < block_count_ && (words_[block / 64] >> (block % 64) & 1) != 0;
}

void AllocationMap::Set(uint64_t block) { words_[block / 64] |= 1ULL << (block % 64); }
void AllocationMap::Clear(uint64_t block) { words_[block / 64] &= ~(1ULL << (block % 64)); }

void AllocationMap::Resize(uint64_t block_count) {
  words_.resize(static_cast<size_t>((block_count + 63) / 64), 0);
  block_count_ = block_count;
  if (block_count % 64 != 0) words_.back() &= (1ULL << (block_count % 64)) - 1;
}

uint64_t AllocationMap::Count() const {
  uint64_t n = 0;
  for (uint64_t w : words_) n += static_cast<uint64_t>(std::popcount(w));
  return n;
}

std::vector<uint64_t> AllocationMap::Blocks() const {
  std::vector<uint64_t> out;
  for (size_t i = 0; i < words_.size(); ++i) {
    for (uint64_t w = words_[i]; w != 0; w &= w - 1) {
      out.push_back(i * 64 + static_cast<uint64_t>(std::countr_zero(w)));
    }
  }
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> AllocationMap::Ranges() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (uint64_t b : Blocks()) {
    if (!out.empty() && out.back().second + 1 == b) {
      out.back().second = b;
    } else {
      out.emplace_back(b, b);
    }
  }
  return out;
}

std::string AllocationMap::Encode() const {
  const std::string head = std::string(kPrefix) + std::to_string(block_count_);
  std::string ranges;
  for (const auto& [first, last] : Ranges()) {
    if (!ranges.empty()) ranges += ',';
    ranges += std::to_string(first);
    if (last != first) ranges += '-' + std::to_string(last);
  }
  const uint64_t bitmap_chars = (block_count_ + 7) / 8 * 4 / 3 + 4;
  if (ranges.size() <= bitmap_chars) return head + ";r=" + ranges;
  std::vector<uint8_t> bitmap(static_cast<size_t>((block_count_ + 7) / 8), 0);
  for (uint64_t b : Blocks()) bitmap[b / 8] = static_cast<uint8_t>(bitmap[b / 8] | 0x80 >> (b % 8));
  return head + ";b=" + Base64(bitmap);
}

Result<AllocationMap> AllocationMap::Parse(std::string_view text) {
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return Bad(text, 0, "expected the prefix \"am1;n=\"");
  }
  size_t pos = kPrefix.size();
  uint64_t n = 0;
  if (!ParseNumber(text, pos, n)) return Bad(text, pos, "expected the block count");
  if (n > kMaxBlocks) return Bad(text, kPrefix.size(), "block count too large");
  AllocationMap map(n);
  if (text.substr(pos, 3) == ";r=") {
    pos += 3;
    uint64_t next_free = 0;  // the lowest index the next range may start at
    bool first = true;
    while (pos < text.size()) {
      if (!first) {
        if (text[pos] != ',') return Bad(text, pos, "expected ','");
        ++pos;
      }
      first = false;
      const size_t start_pos = pos;
      uint64_t a = 0, b = 0;
      if (!ParseNumber(text, pos, a)) return Bad(text, pos, "expected a block index");
      b = a;
      if (pos < text.size() && text[pos] == '-') {
        ++pos;
        if (!ParseNumber(text, pos, b)) return Bad(text, pos, "expected the end of a range");
        if (b <= a) return Bad(text, start_pos, "range end must be greater than its start");
      }
      if (b >= n) {
        return Bad(text, start_pos, "block index past the block count " + std::to_string(n));
      }
      if (a < next_free) {
        return Bad(text, start_pos, "ranges must be increasing and must not touch or overlap");
      }
      for (uint64_t i = a; i <= b; ++i) map.Set(i);
      next_free = b + 2;
    }
    return map;
  }
  if (text.substr(pos, 3) == ";b=") {
    pos += 3;
    const std::string_view b64 = text.substr(pos);
    const size_t bytes = static_cast<size_t>((n + 7) / 8);
    if (b64.size() != (bytes + 2) / 3 * 4) {
      return Bad(text, pos,
                 "bitmap of " + std::to_string(n) + " blocks needs " +
                     std::to_string((bytes + 2) / 3 * 4) + " base64 characters, got " +
                     std::to_string(b64.size()));
    }
    std::vector<uint8_t> bitmap;
    bitmap.reserve(bytes + 2);
    for (size_t i = 0; i < b64.size(); i += 4) {
      uint32_t v = 0;
      int pad = 0;
      for (size_t k = 0; k < 4; ++k) {
        const char c = b64[i + k];
        const size_t d = kBase64.find(c);
        if (c == '=' && i + 4 == b64.size() && k >= 2) {
          ++pad;
          v <<= 6;
          continue;
        }
        if (d == std::string_view::npos || pad > 0) {
          return Bad(text, pos + i + k, "invalid base64 character");
        }
        v = v << 6 | static_cast<uint32_t>(d);
      }
      bitmap.push_back(static_cast<uint8_t>(v >> 16));
      if (pad < 2) bitmap.push_back(static_cast<uint8_t>(v >> 8));
      if (pad < 1) bitmap.push_back(static_cast<uint8_t>(v));
    }
    if (bitmap.size() != bytes) {
      return Bad(text, pos,
                 "bitmap has " + std::to_string(bitmap.size()) + " bytes, expected " +
                     std::to_string(bytes));
    }
    for (uint64_t i = 0; i < bytes * 8; ++i) {
      if ((bitmap[i / 8] & (0x80 >> (i % 8))) == 0) continue;
      if (i >= n) return Bad(text, pos, "bit set past the block count " + std::to_string(n));
      map.Set(i);
    }
    return map;
  }
  return Bad(text, pos, "expected \";r=\" or \";b=\"");
}

AllocationMap Union(const AllocationMap& a, const AllocationMap& b) {
  AllocationMap out = a.block_count() >= b.block_count() ? a : b;
  const AllocationMap& other = a.block_count() >= b.block_count() ? b : a;
  for (uint64_t i : other.Blocks()) out.Set(i);
  return out;
}

AllocationMap Difference(const AllocationMap& a, const AllocationMap& b) {
  AllocationMap out = a;
  for (uint64_t i : b.Blocks()) {
    if (i < out.block_count()) out.Clear(i);
  }
  return out;
}

AllocationMap Intersection(const AllocationMap& a, const AllocationMap& b) {
  AllocationMap out(a.block_count());
  for (uint64_t i : a.Blocks()) {
    if (b.Test(i)) out.Set(i);
  }
  return out;
}

}  // namespace fruix::image
