#include "lib/image/convert.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "lib/image/image_source.h"

namespace fruix::image {
namespace {

std::string Errno() { return std::strerror(errno); }

// Removes the temporary file unless released.
class TempFile {
 public:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  Result<void> Close() {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Error::Io(path_ + ": close failed: " + Errno());
    return Ok();
  }
  void Release() { path_.clear(); }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

Result<ConvertResult> ConvertImage(const std::string& input, const std::string& output,
                                   const ConvertOptions& options) {
  FRUIX_ASSIGN_OR_RETURN(ImageSource source, ImageSource::Open(input));

  struct stat out_st {
  }, in_st{};
  if (::stat(output.c_str(), &out_st) == 0) {
    if (::fstat(source.file()->fd(), &in_st) == 0 && in_st.st_dev == out_st.st_dev &&
        in_st.st_ino == out_st.st_ino) {
      return Error::InvalidArgument(output + " is the input image itself");
    }
    if (S_ISDIR(out_st.st_mode)) return Error::InvalidArgument(output + " is a directory");
    if (!S_ISREG(out_st.st_mode)) {
      // Renaming over a device node or a pipe would replace it: refuse even with force.
      return Error::InvalidArgument(output + " exists and is not a regular file");
    }
    if (!options.force) {
      return Error::AlreadyExists(output + " already exists (use --force to replace it)");
    }
  }

  PlanOptions plan_options;
  plan_options.format = options.format;
  plan_options.zero_fill = ZeroFill::kNone;
  plan_options.digest = options.digest;
  FRUIX_ASSIGN_OR_RETURN(PlannedStream planned, PlanImageStream(source, plan_options));
  const vhd::StreamPlan& plan = planned.stream.plan;

  const std::filesystem::path out_path(output);
  std::string dir = out_path.parent_path().string();
  if (dir.empty()) dir = ".";
  std::string tmpl = dir + "/." + out_path.filename().string() + ".tmp-XXXXXX";
  const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return Error::Io("cannot create a temporary file in " + dir + ": " + Errno());
  TempFile tmp(fd, tmpl);
  ::fchmod(fd, 0644);

  vhd::FdSink sink(tmp.fd(), /*sparse_zeros=*/true);
  if (auto written = vhd::WritePlan(plan, sink); !written.ok()) {
    return written.error().WithContext("writing " + tmp.path());
  }
  FRUIX_RETURN_IF_ERROR(sink.Finish());
  if (sink.bytes_written() != plan.size()) {
    return Error::Internal("wrote " + std::to_string(sink.bytes_written()) + " bytes, planned " +
                           std::to_string(plan.size()));
  }
  if (::fdatasync(tmp.fd()) != 0) return Error::Io(tmp.path() + ": fdatasync failed: " + Errno());
  FRUIX_RETURN_IF_ERROR(tmp.Close());

  const int flags = options.force ? 0 : RENAME_NOREPLACE;
  if (::renameat2(AT_FDCWD, tmp.path().c_str(), AT_FDCWD, output.c_str(), flags) != 0) {
    if (errno == EEXIST) {
      return Error::AlreadyExists(output + " already exists (use --force to replace it)");
    }
    return Error::Io("cannot rename " + tmp.path() + " to " + output + ": " + Errno());
  }
  tmp.Release();

  ConvertResult result;
  result.output = output;
  result.format = options.format;
  result.bytes_written = plan.size();
  result.disk_size = planned.stream.disk_size;
  result.data_blocks = planned.stream.data_blocks.Count();
  result.allocation_map = planned.stream.data_blocks.Encode();
  result.digest = planned.scan.digest;
  return result;
}

}  // namespace fruix::image
