// sim::MemoryByteReader — a ByteReader over bytes in memory, for tests and for bodies already
// buffered. It does not own the bytes: they must outlive the reader. `max_read` caps the bytes one
// Read() returns, so callers can be tested against short reads. One thread at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>

#include "lib/sim/vhd_tool.h"

namespace fruix::sim {

class MemoryByteReader : public ByteReader {
 public:
  explicit MemoryByteReader(std::span<const uint8_t> data,
                            size_t max_read = std::numeric_limits<size_t>::max())
      : data_(data), max_read_(max_read == 0 ? 1 : max_read) {}

  Result<size_t> Read(void* buf, size_t n) override {
    const size_t k = std::min({n, max_read_, data_.size() - pos_});
    if (k > 0) std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

  // Bytes handed out so far.
  size_t position() const { return pos_; }

 private:
  std::span<const uint8_t> data_;
  size_t max_read_;
  size_t pos_ = 0;
};

}  // namespace fruix::sim
