// daemon::UniqueFd — sole owner of one open file descriptor (closed on destruction); move-only.
// The control socket hands descriptors passed by clients (SCM_RIGHTS) to handlers as UniqueFd, so
// a descriptor nobody claims is closed when its request ends. A plain value; one thread at a time.
#pragma once

#include <unistd.h>

#include <utility>

namespace fruix::daemon {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  // The descriptor (-1 when empty); ownership stays here.
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  // Gives up ownership: the caller must close the returned descriptor.
  [[nodiscard]] int Release() { return std::exchange(fd_, -1); }
  // Closes the owned descriptor (if any) and owns `fd` instead.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace fruix::daemon
