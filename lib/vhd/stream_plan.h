// vhd::StreamPlan — the exact bytes of an upload body (or of a converted image file), described
// rather than materialised: an ordered list of segments, each either inline bytes held by the
// plan, a range of one source file, or a run of zeros. The total length is known before the first
// byte is produced, so an uploader can send an exact Content-Length and then `sendfile` the file
// ranges on plain HTTP (PlanSink), or pull bytes into its own buffers for TLS (PlanReader); the
// same plan written to a file (FdSink) gives `fruixctl image convert`'s output.
//
// A plan reads from at most one source file (SourceFile, shared and kept open by the plan). Plans
// are immutable once built and may then be read from several threads; building is single-threaded.
// Writing a plan re-reads the source: if the source changed size since the plan was built, the
// write fails (kIo) instead of producing a body of a different length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lib/core/result.h"

namespace fruix::vhd {

// A read-only file descriptor with its path (for messages); closed when the last owner lets go.
class SourceFile {
 public:
  // Opens `path` read-only (O_CLOEXEC). Errors: kNotFound, kPermissionDenied, kIo, naming the path.
  static Result<std::shared_ptr<SourceFile>> Open(const std::string& path);
  // Takes ownership of `fd`.
  static std::shared_ptr<SourceFile> Adopt(int fd, std::string path);

  ~SourceFile();
  SourceFile(const SourceFile&) = delete;
  SourceFile& operator=(const SourceFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // The file's size: st_size for a regular file, BLKGETSIZE64 for a block device; kIo otherwise.
  Result<uint64_t> Size() const;

  // Reads exactly buf.size() bytes at `offset` (pread, EINTR retried). Reading past the end of the
  // file is kIo ("... ends at byte N, wanted bytes A..B").
  Result<void> ReadAt(uint64_t offset, std::span<uint8_t> buf) const;

 private:
  SourceFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

struct Segment {
  enum class Kind : uint8_t {
    kBytes,  // `length` bytes of the plan's own store, starting at store offset `offset`
    kFile,   // `length` bytes of the source file, starting at file offset `offset`
    kZeros,  // `length` zero bytes (`offset` unused)
  };
  Kind kind;
  uint64_t offset;
  uint64_t length;
};

class StreamPlan {
 public:
  // `source` may be null for a plan made only of bytes and zeros.
  explicit StreamPlan(std::shared_ptr<const SourceFile> source = nullptr)
      : source_(std::move(source)) {}

  // Appends bytes, copied into the plan's store. Empty spans are ignored.
  void AddBytes(std::span<const uint8_t> bytes);
  // Stores bytes once, to be appended many times with AddStored (e.g. a 0xFF sector bitmap).
  // Returns a handle valid for this plan only.
  struct Stored {
    uint64_t offset;
    uint64_t length;
  };
  Stored Store(std::span<const uint8_t> bytes);
  void AddStored(Stored stored);
  // Appends a range of the source file; merges with a preceding contiguous file range.
  // REQUIRES: the plan has a source.
  void AddFile(uint64_t offset, uint64_t length);
  // Appends zeros; merges with preceding zeros.
  void AddZeros(uint64_t length);

  uint64_t size() const { return size_; }
  const std::vector<Segment>& segments() const { return segments_; }
  // The bytes of a kBytes segment of this plan.
  std::span<const uint8_t> BytesOf(const Segment& segment) const;
  const SourceFile* source() const { return source_.get(); }
  const std::shared_ptr<const SourceFile>& shared_source() const { return source_; }
  // Bytes of the total that come from the source file / are zeros / are inline.
  uint64_t file_bytes() const { return file_bytes_; }
  uint64_t zero_bytes() const { return zero_bytes_; }

 private:
  std::shared_ptr<const SourceFile> source_;
  std::vector<Segment> segments_;
  std::vector<uint8_t> store_;
  uint64_t size_ = 0;
  uint64_t file_bytes_ = 0;
  uint64_t zero_bytes_ = 0;
};

// Where WritePlan puts the bytes. Each call must consume everything it is given or fail.
class PlanSink {
 public:
  virtual ~PlanSink() = default;
  virtual Result<void> WriteBytes(std::span<const uint8_t> bytes) = 0;
  // `length` bytes of `file` from `offset`; the file holds them (the plan was checked).
  virtual Result<void> WriteFile(const SourceFile& file, uint64_t offset, uint64_t length) = 0;
  virtual Result<void> WriteZeros(uint64_t length) = 0;
};

// Called between segments (and within long ones, at least every 64 MiB) with the bytes written so
// far; returning false stops the write with kCancelled. May be empty.
using PlanProgressFn = std::function<bool(uint64_t bytes_done)>;

// Writes every segment of `plan` to `sink`, in order. Fails with kIo if the source file no longer
// covers a file segment, or with the sink's error.
Result<void> WritePlan(const StreamPlan& plan, PlanSink& sink,
                       const PlanProgressFn& progress = nullptr);

// A sink over a file descriptor it does not own: a socket, pipe or regular file.
//   bytes  write(2), EINTR and short writes handled;
//   file   copy_file_range(2) into a regular file, else sendfile(2), else pread/write;
//   zeros  on a regular file opened for `sparse_zeros`, lseek(2) forward (a hole) and Finish()
//          extends the file to its final length; otherwise written from a zero buffer.
class FdSink : public PlanSink {
 public:
  FdSink(int fd, bool sparse_zeros);
  Result<void> WriteBytes(std::span<const uint8_t> bytes) override;
  Result<void> WriteFile(const SourceFile& file, uint64_t offset, uint64_t length) override;
  Result<void> WriteZeros(uint64_t length) override;
  // Completes a sparse regular-file output (sets its size past a trailing hole). Call once, last.
  Result<void> Finish();
  uint64_t bytes_written() const { return written_; }

 private:
  Result<void> CopyByReading(const SourceFile& file, uint64_t offset, uint64_t length);

  int fd_;
  bool regular_file_ = false;
  bool sparse_zeros_;
  bool try_copy_file_range_ = true;
  bool try_sendfile_ = true;
  uint64_t written_ = 0;
};

// Pull-mode access to a plan's bytes, in order: for transports that copy through their own buffers
// (TLS, curl read callbacks) and for tests. One reader per consumer; not thread-safe.
class PlanReader {
 public:
  explicit PlanReader(const StreamPlan& plan) : plan_(plan) {}
  // Fills up to buf.size() bytes; returns 0 only at the end of the plan. kIo if the source fails.
  Result<size_t> Read(std::span<uint8_t> buf);
  uint64_t position() const { return position_; }

 private:
  const StreamPlan& plan_;
  size_t segment_ = 0;
  uint64_t in_segment_ = 0;
  uint64_t position_ = 0;
};

}  // namespace fruix::vhd
