// sim::FileBlockWriter — a BlockWriter over a VDI's backing file: pwrite(2) at absolute offsets,
// Sync() = fdatasync(2). The writer owns its descriptor and closes it on destruction. Its size is
// fixed at Open(): like a block device, a write that would end past size() fails with kIo and
// writes nothing. One import (one thread) at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "lib/sim/vhd_tool.h"

namespace fruix::sim {

class FileBlockWriter : public BlockWriter {
 public:
  // Opens an existing backing file read-write; size() is the file's current size.
  static Result<std::unique_ptr<FileBlockWriter>> Open(const std::string& path);
  // Opens (creating it if absent) a backing file of `size` bytes: a shorter file is extended
  // sparsely to `size`; a longer one is left as it is, but writes stop at `size`.
  static Result<std::unique_ptr<FileBlockWriter>> Open(const std::string& path, uint64_t size);

  ~FileBlockWriter() override;
  FileBlockWriter(const FileBlockWriter&) = delete;
  FileBlockWriter& operator=(const FileBlockWriter&) = delete;

  uint64_t size() const override { return size_; }
  Result<void> WriteAt(uint64_t offset, const void* data, size_t n) override;
  Result<void> Sync() override;

 private:
  FileBlockWriter(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}

  int fd_;
  uint64_t size_;
  std::string path_;
};

}  // namespace fruix::sim
