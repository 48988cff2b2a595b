#include "lib/sim/fd_byte_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace fruix::sim {

Result<size_t> FdByteReader::Read(void* buf, size_t n) {
  for (;;) {
    const ssize_t got = ::read(fd_, buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno == EINTR) continue;
    return Error::Io("read from fd " + std::to_string(fd_) + ": " + std::strerror(errno));
  }
}

}  // namespace fruix::sim
