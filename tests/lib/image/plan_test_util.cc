#include "tests/lib/image/plan_test_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace fruix::image::testing {

std::string WritePlanToFile(const vhd::StreamPlan& plan, const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "open " + path + ": " + std::strerror(errno);
  vhd::FdSink sink(fd, /*sparse_zeros=*/true);
  auto written = vhd::WritePlan(plan, sink);
  auto finished = written.ok() ? sink.Finish() : Result<void>(Ok());
  ::close(fd);
  if (!written.ok()) return written.error().message();
  if (!finished.ok()) return finished.error().message();
  return "";
}

}  // namespace fruix::image::testing
