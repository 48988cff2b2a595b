#include "lib/image/image_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/lib/vhd/test_images.h"

namespace fruix::image {
namespace {

namespace vt = fruix::vhd::testing;

TEST(ImageSourceTest, OpensAnAdoptedDescriptorLikeThePath) {
  // Given a raw image and its dynamic VHD, When opened from descriptors adopted under a display
  // name, Then format and virtual size equal those of the path-opened sources, and messages use
  // the display name.
  vt::ScratchDir dir;
  const std::string raw = dir.File("disk.raw");
  vt::CreateSparse(raw, 5 * 1024 * 1024 + 512);
  vt::WriteAt(raw, 4096, vt::RandomBytes(8192, 3));
  std::vector<std::string> paths = {raw};
  if (vt::HaveQemuImg()) {
    const std::string vhd = dir.File("disk.vhd");
    vt::RunQemuImg(
        {"convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic,force_size=on", raw, vhd});
    paths.push_back(vhd);
  }
  for (const auto& p : paths) {
    auto by_path = ImageSource::Open(p);
    ASSERT_TRUE(by_path.ok()) << by_path.error().ToString();
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto by_fd = ImageSource::Open(vhd::SourceFile::Adopt(fd, "client:" + p));
    ASSERT_TRUE(by_fd.ok()) << by_fd.error().ToString();
    EXPECT_EQ(by_fd->format().format, by_path->format().format) << p;
    EXPECT_EQ(by_fd->virtual_size(), by_path->virtual_size()) << p;
    EXPECT_EQ(by_fd->path(), "client:" + p);
    EXPECT_TRUE(by_fd->usable());
  }
}

TEST(ImageSourceTest, RefusesADescriptorThatIsNotAFileNamingIt) {
  // Given a pipe passed as the image, When opened, Then kInvalidArgument names the display name.
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[1]);
  auto r = ImageSource::Open(vhd::SourceFile::Adopt(fds[0], "client:/dev/stdin"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("client:/dev/stdin"), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace fruix::image
