#include "lib/vhd/stream_plan.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

namespace fruix::vhd {
namespace {

constexpr uint64_t kProgressEvery = 64ULL << 20;
constexpr size_t kCopyBuffer = 1 << 20;

std::string Errno(int err) { return std::strerror(err); }

// One write(2) loop: all of `bytes` or an error.
Result<void> WriteAll(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error::Io("write failed: " + Errno(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Ok();
}

const std::vector<uint8_t>& ZeroBuffer() {
  static const std::vector<uint8_t> zeros(kCopyBuffer, 0);
  return zeros;
}

Error ShortSource(const SourceFile& file, uint64_t offset, uint64_t length) {
  return Error::Io(file.path() + ": the file ends before byte " + std::to_string(offset + length) +
                   " (it was truncated or changed after the upload was planned)");
}

}  // namespace

// ---- SourceFile ----

Result<std::shared_ptr<SourceFile>> SourceFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string m = path + ": cannot open: " + Errno(err);
    if (err == ENOENT) return Error::NotFound(m);
    if (err == EACCES || err == EPERM) return Error::PermissionDenied(m);
    return Error::Io(m);
  }
  return Adopt(fd, path);
}

std::shared_ptr<SourceFile> SourceFile::Adopt(int fd, std::string path) {
  return std::shared_ptr<SourceFile>(new SourceFile(fd, std::move(path)));
}

SourceFile::~SourceFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<uint64_t> SourceFile::Size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Error::Io(path_ + ": stat failed: " + Errno(errno));
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    uint64_t size = 0;
    if (::ioctl(fd_, BLKGETSIZE64, &size) != 0) {
      return Error::Io(path_ + ": cannot read the block device's size: " + Errno(errno));
    }
    return size;
  }
  return Error::Io(path_ + ": not a regular file or block device");
}

Result<void> SourceFile::ReadAt(uint64_t offset, std::span<uint8_t> buf) const {
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n =
        ::pread(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::Io(path_ + ": read at offset " + std::to_string(offset + done) +
                       " failed: " + Errno(errno));
    }
    if (n == 0) return ShortSource(*this, offset, buf.size());
    done += static_cast<size_t>(n);
  }
  return Ok();
}

// ---- StreamPlan ----

void StreamPlan::AddBytes(std::span<const uint8_t> bytes) { AddStored(Store(bytes)); }

StreamPlan::Stored StreamPlan::Store(std::span<const uint8_t> bytes) {
  const Stored s{store_.size(), bytes.size()};
  store_.insert(store_.end(), bytes.begin(), bytes.end());
  return s;
}

void StreamPlan::AddStored(Stored stored) {
  if (stored.length == 0) return;
  Segment* last = segments_.empty() ? nullptr : &segments_.back();
  if (last && last->kind == Segment::Kind::kBytes && last->offset + last->length == stored.offset) {
    last->length += stored.length;
  } else {
    segments_.push_back({Segment::Kind::kBytes, stored.offset, stored.length});
  }
  size_ += stored.length;
}

void StreamPlan::AddFile(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  Segment* last = segments_.empty() ? nullptr : &segments_.back();
  if (last && last->kind == Segment::Kind::kFile && last->offset + last->length == offset) {
    last->length += length;
  } else {
    segments_.push_back({Segment::Kind::kFile, offset, length});
  }
  size_ += length;
  file_bytes_ += length;
}

void StreamPlan::AddZeros(uint64_t length) {
  if (length == 0) return;
  Segment* last = segments_.empty() ? nullptr : &segments_.back();
  if (last && last->kind == Segment::Kind::kZeros) {
    last->length += length;
  } else {
    segments_.push_back({Segment::Kind::kZeros, 0, length});
  }
  size_ += length;
  zero_bytes_ += length;
}

std::span<const uint8_t> StreamPlan::BytesOf(const Segment& segment) const {
  return std::span<const uint8_t>(store_).subspan(segment.offset, segment.length);
}

// ---- WritePlan ----

Result<void> WritePlan(const StreamPlan& plan, PlanSink& sink, const PlanProgressFn& progress) {
  uint64_t done = 0;
  auto report = [&]() -> Result<void> {
    if (progress && !progress(done)) return Error::Cancelled("stream cancelled");
    return Ok();
  };
  for (const Segment& seg : plan.segments()) {
    // Long segments are cut so progress (and cancellation) is seen at least every 64 MiB.
    for (uint64_t pos = 0; pos < seg.length;) {
      const uint64_t n = std::min(seg.length - pos, kProgressEvery);
      switch (seg.kind) {
        case Segment::Kind::kBytes:
          FRUIX_RETURN_IF_ERROR(sink.WriteBytes(plan.BytesOf(seg).subspan(pos, n)));
          break;
        case Segment::Kind::kFile:
          if (plan.source() == nullptr) return Error::Internal("plan has file data but no source");
          FRUIX_RETURN_IF_ERROR(sink.WriteFile(*plan.source(), seg.offset + pos, n));
          break;
        case Segment::Kind::kZeros:
          FRUIX_RETURN_IF_ERROR(sink.WriteZeros(n));
          break;
      }
      pos += n;
      done += n;
      FRUIX_RETURN_IF_ERROR(report());
    }
  }
  return Ok();
}

// ---- FdSink ----

FdSink::FdSink(int fd, bool sparse_zeros) : fd_(fd), sparse_zeros_(sparse_zeros) {
  struct stat st {};
  regular_file_ = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (!regular_file_) sparse_zeros_ = false;
  try_copy_file_range_ = regular_file_;
}

Result<void> FdSink::WriteBytes(std::span<const uint8_t> bytes) {
  FRUIX_RETURN_IF_ERROR(WriteAll(fd_, bytes.data(), bytes.size()));
  written_ += bytes.size();
  return Ok();
}

Result<void> FdSink::WriteFile(const SourceFile& file, uint64_t offset, uint64_t length) {
  uint64_t done = 0;
  while (done < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length - done, 1ULL << 30));
    ssize_t n = -1;
    int err = 0;
    if (try_copy_file_range_) {
      loff_t in_off = static_cast<loff_t>(offset + done);
      n = ::copy_file_range(file.fd(), &in_off, fd_, nullptr, want, 0);
      err = errno;
      if (n < 0 && err != EINTR) {
        try_copy_file_range_ = false;  // EXDEV, EINVAL, ENOSYS...: fall back for good
        continue;
      }
    } else if (try_sendfile_) {
      off_t in_off = static_cast<off_t>(offset + done);
      n = ::sendfile(fd_, file.fd(), &in_off, want);
      err = errno;
      if (n < 0 && (err == EINVAL || err == ENOSYS)) {
        try_sendfile_ = false;
        continue;
      }
    } else {
      FRUIX_RETURN_IF_ERROR(CopyByReading(file, offset + done, length - done));
      return Ok();
    }
    if (n < 0) {
      if (err == EINTR) continue;
      return Error::Io("copying " + file.path() + " bytes " + std::to_string(offset + done) +
                       ".. to the output failed: " + Errno(err));
    }
    if (n == 0) return ShortSource(file, offset, length);
    done += static_cast<uint64_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
  return Ok();
}

Result<void> FdSink::CopyByReading(const SourceFile& file, uint64_t offset, uint64_t length) {
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(length, kCopyBuffer)));
  for (uint64_t done = 0; done < length;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    FRUIX_RETURN_IF_ERROR(file.ReadAt(offset + done, std::span(buf.data(), n)));
    FRUIX_RETURN_IF_ERROR(WriteAll(fd_, buf.data(), n));
    done += n;
    written_ += n;
  }
  return Ok();
}

Result<void> FdSink::WriteZeros(uint64_t length) {
  if (sparse_zeros_) {
    if (::lseek(fd_, static_cast<off_t>(length), SEEK_CUR) < 0) {
      return Error::Io("seeking the output failed: " + Errno(errno));
    }
    written_ += length;
    return Ok();
  }
  const auto& zeros = ZeroBuffer();
  for (uint64_t done = 0; done < length;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), length - done));
    FRUIX_RETURN_IF_ERROR(WriteAll(fd_, zeros.data(), n));
    done += n;
  }
  written_ += length;
  return Ok();
}

Result<void> FdSink::Finish() {
  if (!sparse_zeros_) return Ok();
  const off_t end = ::lseek(fd_, 0, SEEK_CUR);
  if (end < 0 || ::ftruncate(fd_, end) != 0) {
    return Error::Io("setting the output's size failed: " + Errno(errno));
  }
  return Ok();
}

// ---- PlanReader ----

Result<size_t> PlanReader::Read(std::span<uint8_t> buf) {
  size_t filled = 0;
  const auto& segments = plan_.segments();
  while (filled < buf.size() && segment_ < segments.size()) {
    const Segment& seg = segments[segment_];
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(buf.size() - filled, seg.length - in_segment_));
    uint8_t* out = buf.data() + filled;
    switch (seg.kind) {
      case Segment::Kind::kBytes:
        std::memcpy(out, plan_.BytesOf(seg).data() + in_segment_, n);
        break;
      case Segment::Kind::kFile:
        if (plan_.source() == nullptr) return Error::Internal("plan has file data but no source");
        FRUIX_RETURN_IF_ERROR(plan_.source()->ReadAt(seg.offset + in_segment_, std::span(out, n)));
        break;
      case Segment::Kind::kZeros:
        std::memset(out, 0, n);
        break;
    }
    filled += n;
    in_segment_ += n;
    if (in_segment_ == seg.length) {
      ++segment_;
      in_segment_ = 0;
    }
  }
  position_ += filled;
  return filled;
}

}  // namespace fruix::vhd
