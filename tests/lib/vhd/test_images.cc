#include "tests/lib/vhd/test_images.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

extern char** environ;

namespace fruix::vhd::testing {
namespace {

void Check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/fruix-vhd-test-XXXXXX";
  Check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool HaveQemuImg() {
  std::string out = RunQemuImg({"--version"}, 20);
  return out.empty();
}

std::string RunQemuImg(const std::vector<std::string>& args, int timeout_seconds) {
  std::vector<std::string> argv_s = {"qemu-img"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  char err_template[] = "/tmp/fruix-qemu-img-err-XXXXXX";
  const int err_fd = ::mkstemp(err_template);
  if (err_fd < 0) return "mkstemp failed";
  ::unlink(err_template);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "qemu-img", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ::close(err_fd);
    return std::string("cannot run qemu-img: ") + std::strerror(rc);
  }
  // Await the child's exit through a pidfd, bounded by the timeout.
  int status = 0;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd pfd{pidfd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, timeout_seconds * 1000);
    ::close(pidfd);
    if (ready <= 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ::close(err_fd);
      return "qemu-img timed out";
    }
  }
  ::waitpid(pid, &status, 0);
  std::string err;
  ::lseek(err_fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(err_fd, buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(n));
  ::close(err_fd);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return "qemu-img failed (status " + std::to_string(status) + "): " + err;
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  Check(fd >= 0, "open " + path);
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  std::vector<uint8_t> out(stat_ok ? static_cast<size_t>(st.st_size) : 0);
  size_t done = 0;
  while (stat_ok && done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  Check(stat_ok && done == out.size(), "read " + path);
  return out;
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

void CreateSparse(const std::string& path, uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  Check(fd >= 0, "open " + path);
  const int rc = ::ftruncate(fd, static_cast<off_t>(size));
  ::close(fd);
  Check(rc == 0, "ftruncate " + path);
}

void WriteAt(const std::string& path, uint64_t offset, const std::vector<uint8_t>& bytes) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  Check(fd >= 0, "open " + path);
  const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  ::close(fd);
  Check(n == static_cast<ssize_t>(bytes.size()), "pwrite " + path);
}

std::vector<uint8_t> ReadAt(const std::string& path, uint64_t offset, size_t n) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  Check(fd >= 0, "open " + path);
  std::vector<uint8_t> out(n);
  const ssize_t got = ::pread(fd, out.data(), n, static_cast<off_t>(offset));
  ::close(fd);
  Check(got == static_cast<ssize_t>(n), "pread " + path);
  return out;
}

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t r = rng() | 0x0101010101010101ULL;  // no zero byte
    std::memcpy(out.data() + i, &r, std::min<size_t>(8, n - i));
  }
  return out;
}

namespace {

// lseek(SEEK_DATA / SEEK_HOLE) clamped to `size` (ENXIO: no more data).
uint64_t Seek(int fd, uint64_t from, int whence, uint64_t size) {
  const off_t r = ::lseek(fd, static_cast<off_t>(from), whence);
  return r < 0 ? size : std::min<uint64_t>(static_cast<uint64_t>(r), size);
}

bool RangesEqual(int fa, int fb, uint64_t from, uint64_t to) {
  constexpr size_t kChunk = 1 << 20;
  std::vector<uint8_t> ba(kChunk), bb(kChunk);
  while (from < to) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, to - from));
    if (::pread(fa, ba.data(), n, static_cast<off_t>(from)) != static_cast<ssize_t>(n) ||
        ::pread(fb, bb.data(), n, static_cast<off_t>(from)) != static_cast<ssize_t>(n) ||
        std::memcmp(ba.data(), bb.data(), n) != 0) {
      return false;
    }
    from += n;
  }
  return true;
}

}  // namespace

// Walks the data extents of both files (SEEK_DATA/SEEK_HOLE): where both are holes they are
// equal zeros; every region where either holds data is compared byte by byte. Reading gigabytes
// of holes is slow on some VMs, so sparse 2 GiB images compare in milliseconds.
bool FilesEqual(const std::string& a, const std::string& b) {
  const int fa = ::open(a.c_str(), O_RDONLY | O_CLOEXEC);
  const int fb = ::open(b.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat sa {
  }, sb{};
  bool equal = fa >= 0 && fb >= 0 && ::fstat(fa, &sa) == 0 && ::fstat(fb, &sb) == 0 &&
               sa.st_size == sb.st_size;
  const uint64_t size = equal ? static_cast<uint64_t>(sa.st_size) : 0;
  for (uint64_t pos = 0; equal && pos < size;) {
    const uint64_t data = std::min(Seek(fa, pos, SEEK_DATA, size), Seek(fb, pos, SEEK_DATA, size));
    if (data >= size) break;
    const uint64_t end = std::max(Seek(fa, data, SEEK_HOLE, size), Seek(fb, data, SEEK_HOLE, size));
    equal = RangesEqual(fa, fb, data, std::max(end, data + 1));
    pos = std::max(end, data + 1);
  }
  if (fa >= 0) ::close(fa);
  if (fb >= 0) ::close(fb);
  return equal;
}

}  // namespace fruix::vhd::testing
