// sim::FdByteReader — a ByteReader over a file descriptor (a socket, pipe or file), reading with
// read(2) from the descriptor's current position. It does not own the descriptor: the caller keeps
// it open for the reader's lifetime and closes it. One thread at a time.
#pragma once

#include <cstddef>

#include "lib/sim/vhd_tool.h"

namespace fruix::sim {

class FdByteReader : public ByteReader {
 public:
  explicit FdByteReader(int fd) : fd_(fd) {}

  // Reads up to n bytes, retrying on EINTR. Returns 0 only at end of stream (or when n is 0);
  // a read error becomes kIo naming errno.
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  int fd_;
};

}  // namespace fruix::sim
