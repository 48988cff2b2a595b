#include "lib/sim/file_block_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace fruix::sim {
namespace {

Error IoError(std::string_view what, const std::string& path) {
  return Error::Io(std::string(what) + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<FileBlockWriter>> FileBlockWriter::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return IoError("open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = IoError("stat", path);
    ::close(fd);
    return e;
  }
  return std::unique_ptr<FileBlockWriter>(
      new FileBlockWriter(fd, static_cast<uint64_t>(st.st_size), path));
}

Result<std::unique_ptr<FileBlockWriter>> FileBlockWriter::Open(const std::string& path,
                                                               uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = IoError("stat", path);
    ::close(fd);
    return e;
  }
  if (static_cast<uint64_t>(st.st_size) < size && ::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    Error e = IoError("extend", path);
    ::close(fd);
    return e;
  }
  return std::unique_ptr<FileBlockWriter>(new FileBlockWriter(fd, size, path));
}

FileBlockWriter::~FileBlockWriter() { ::close(fd_); }

Result<void> FileBlockWriter::WriteAt(uint64_t offset, const void* data, size_t n) {
  if (offset > size_ || n > size_ - offset) {
    return Error::Io("write of " + std::to_string(n) + " bytes at offset " +
                     std::to_string(offset) + " ends past the end of " + path_ + " (size " +
                     std::to_string(size_) + ")");
  }
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t put = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (put < 0) {
      if (errno == EINTR) continue;
      return IoError("write at offset " + std::to_string(offset) + " of", path_);
    }
    if (put == 0) return Error::Io("write to " + path_ + " made no progress");
    p += put;
    n -= static_cast<size_t>(put);
    offset += static_cast<uint64_t>(put);
  }
  return Ok();
}

Result<void> FileBlockWriter::Sync() {
  if (::fdatasync(fd_) != 0) return IoError("fdatasync", path_);
  return Ok();
}

}  // namespace fruix::sim
