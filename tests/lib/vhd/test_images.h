// Test support for VHD tests: a scratch directory, file helpers and a qemu-img runner. qemu-img
// (Debian package qemu-utils) builds the reference images; tests skip loudly if it is missing.
// Single-threaded test use only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fruix::vhd::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// True if `qemu-img` can be executed.
bool HaveQemuImg();
// Runs qemu-img with `args` (no shell), output discarded; returns its stderr on failure, "" on
// success. The call is bounded: qemu-img is killed after `timeout_seconds`.
std::string RunQemuImg(const std::vector<std::string>& args, int timeout_seconds = 60);

std::vector<uint8_t> ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes);
// Creates (or truncates) `path` as a sparse file of `size` bytes of zeros.
void CreateSparse(const std::string& path, uint64_t size);
// Writes `bytes` at `offset` of an existing file.
void WriteAt(const std::string& path, uint64_t offset, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> ReadAt(const std::string& path, uint64_t offset, size_t n);
// Deterministic pseudo-random bytes (never all zero).
std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed);
// True if the two files have the same size and contents (streamed, bounded memory).
bool FilesEqual(const std::string& a, const std::string& b);

}  // namespace fruix::vhd::testing
