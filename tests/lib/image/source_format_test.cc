#include "lib/image/source_format.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "lib/vhd/format.h"
#include "tests/lib/image/run_process.h"
#include "tests/lib/vhd/test_images.h"

namespace fruix::image {
namespace {

namespace vt = fruix::vhd::testing;
using testing::HaveProgram;
using testing::RunProcess;

constexpr uint64_t kMiB = 1024 * 1024;

FormatInfo Detect(const std::string& path) {
  auto r = DetectFileFormat(path);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? *r : FormatInfo{};
}

std::vector<uint8_t> Head(std::string_view magic, size_t at = 0, size_t size = 4096) {
  std::vector<uint8_t> b(size, 0);
  std::copy(magic.begin(), magic.end(), b.begin() + static_cast<long>(at));
  return b;
}

class SourceFormatTest : public ::testing::Test {
 protected:
  vt::ScratchDir dir_;
};

// Given first bytes of each refused format, When detected, Then the format, a description and the
// exact conversion command (built from the path) come back.
TEST_F(SourceFormatTest, RefusedFormatsFromBytes) {
  struct Case {
    std::vector<uint8_t> head;
    SourceFormat format;
    std::string path;
    std::string remedy;
  };
  std::vector<uint8_t> qcow2 = Head("QFI\xfb");
  qcow2[7] = 3;          // version 3
  qcow2[24 + 3] = 0x05;  // virtual size 0x5_0000_0000 = 20 GiB
  std::vector<uint8_t> qcow1 = Head("QFI\xfb");
  qcow1[7] = 1;
  const std::vector<Case> cases = {
      {qcow2, SourceFormat::kQcow2, "disk.qcow2",
       "qemu-img convert -f qcow2 -O raw disk.qcow2 disk.raw"},
      {qcow1, SourceFormat::kQcow, "old.qcow", "qemu-img convert -f qcow -O raw old.qcow old.raw"},
      {Head("KDMV"), SourceFormat::kVmdk, "a.vmdk", "qemu-img convert -f vmdk -O raw a.vmdk a.raw"},
      {Head("# Disk DescriptorFile\n"), SourceFormat::kVmdk, "d.vmdk",
       "qemu-img convert -f vmdk -O raw d.vmdk d.raw"},
      {Head("<<< Oracle VM VirtualBox Disk Image >>>\n"), SourceFormat::kVdi, "v.vdi",
       "qemu-img convert -f vdi -O raw v.vdi v.raw"},
      {Head("\x7f\x10\xda\xbe", 0x40), SourceFormat::kVdi, "noname",
       "qemu-img convert -f vdi -O raw noname noname.raw"},
      {Head("vhdxfile"), SourceFormat::kVhdx, "x.vhdx",
       "qemu-img convert -f vhdx -O raw x.vhdx x.raw"},
      {Head(std::string_view("QED\0", 4)), SourceFormat::kQed, "q.qed",
       "qemu-img convert -f qed -O raw q.qed q.raw"},
      {Head("\x1f\x8b\x08"), SourceFormat::kGzip, "disk.raw.gz", "gunzip -k disk.raw.gz"},
      {Head("\x1f\x8b\x08"), SourceFormat::kGzip, "disk.img", "gzip -dc disk.img > disk.img.raw"},
      {Head(std::string_view("\xfd"
                             "7zXZ\0",
                             6)),
       SourceFormat::kXz, "disk.raw.xz", "unxz -k disk.raw.xz"},
      {Head("\x28\xb5\x2f\xfd"), SourceFormat::kZstd, "disk.raw.zst", "unzstd disk.raw.zst"},
      {Head("BZh9"), SourceFormat::kBzip2, "my disk.bz2", "bunzip2 -k 'my disk.bz2'"},
      {Head("PK\x03\x04"), SourceFormat::kZip, "d.zip", "unzip -l d.zip"},
      {Head("ustar", 257), SourceFormat::kTar, "vm.ova", "tar -tvf vm.ova"},
  };
  for (const Case& c : cases) {
    const FormatInfo info = DetectFormat(c.head, {}, c.head.size(), c.path);
    EXPECT_EQ(info.format, c.format) << c.path;
    EXPECT_FALSE(info.supported()) << c.path;
    EXPECT_NE(info.remedy.find(c.remedy), std::string::npos) << info.remedy;
    EXPECT_FALSE(info.description.empty());
    const std::string refusal = info.RefusalMessage(c.path);
    EXPECT_NE(refusal.find(c.path), std::string::npos);
    EXPECT_NE(refusal.find(info.remedy), std::string::npos);
  }
  EXPECT_NE(DetectFormat(qcow2, {}, 4096, "x").description.find("version 3"), std::string::npos);
  EXPECT_NE(DetectFormat(qcow2, {}, 4096, "x").description.find("21474836480"), std::string::npos);
}

// Given bytes without any known magic (zeros, an MBR, an ISO 9660 volume), When detected, Then
// they are raw; "BZh" without a level digit is not bzip2.
TEST_F(SourceFormatTest, EverythingElseIsRaw) {
  EXPECT_EQ(DetectFormat(std::vector<uint8_t>(4096, 0), {}, 4096, "x").format, SourceFormat::kRaw);
  std::vector<uint8_t> mbr(4096, 0);
  mbr[510] = 0x55;
  mbr[511] = 0xAA;
  EXPECT_EQ(DetectFormat(mbr, {}, 4096, "x").format, SourceFormat::kRaw);
  const auto iso = Head("CD001", 0x8001, 0x9000);
  const FormatInfo info = DetectFormat(iso, {}, iso.size(), "x");
  EXPECT_EQ(info.format, SourceFormat::kRaw);
  EXPECT_NE(info.description.find("ISO 9660"), std::string::npos);
  EXPECT_EQ(DetectFormat(Head("BZhX"), {}, 4096, "x").format, SourceFormat::kRaw);
}

// Given VHD footers (copy at 0 and/or trailing), When detected, Then dynamic, fixed and
// differencing are told apart by the footer's disk type.
TEST_F(SourceFormatTest, VhdKindsFromFooters) {
  vhd::Footer f;
  f.current_size = 8 * kMiB;
  f.disk_type = vhd::DiskType::kDynamic;
  const auto dyn = f.Marshal();
  f.disk_type = vhd::DiskType::kFixed;
  const auto fixed = f.Marshal();
  f.disk_type = vhd::DiskType::kDifferencing;
  const auto diff = f.Marshal();
  const std::vector<uint8_t> zeros(512, 0);
  const std::vector<uint8_t> d(dyn.begin(), dyn.end()), x(fixed.begin(), fixed.end()),
      c(diff.begin(), diff.end());

  const FormatInfo dynamic = DetectFormat(d, d, 10 * kMiB, "a.img");
  EXPECT_EQ(dynamic.format, SourceFormat::kVhdDynamic);
  EXPECT_TRUE(dynamic.supported());
  EXPECT_NE(dynamic.description.find("8388608"), std::string::npos);
  EXPECT_EQ(DetectFormat(zeros, x, 8 * kMiB + 512, "a.img").format, SourceFormat::kVhdFixed);
  const FormatInfo differencing = DetectFormat(c, c, 10 * kMiB, "child.vhd");
  EXPECT_EQ(differencing.format, SourceFormat::kVhdDifferencing);
  EXPECT_FALSE(differencing.supported());
  EXPECT_NE(differencing.remedy.find("vhd-util coalesce -n child.vhd"), std::string::npos);
  // Trailing footer of a dynamic disk without the copy: still a (damaged) dynamic VHD.
  const FormatInfo damaged = DetectFormat(zeros, d, 10 * kMiB, "a.img");
  EXPECT_EQ(damaged.format, SourceFormat::kVhdDynamic);
  EXPECT_NE(damaged.description.find("damaged"), std::string::npos);
}

// Given real files made by qemu-img and by compressors, with misleading names, When detected,
// Then the content decides: a qcow2 called .raw is qcow2, a raw file called .qcow2 is raw.
TEST_F(SourceFormatTest, RealFilesByContentNotName) {
  if (!vt::HaveQemuImg()) GTEST_SKIP() << "*** qemu-img NOT FOUND: SKIPPED, NOT PASSED ***";
  const std::string raw = dir_.File("disk.qcow2");  // a raw file with a lying name
  vt::CreateSparse(raw, 4 * kMiB);
  vt::WriteAt(raw, 0, vt::RandomBytes(70000, 2));
  EXPECT_EQ(Detect(raw).format, SourceFormat::kRaw);

  struct Made {
    std::string fmt;
    std::vector<std::string> options;
    SourceFormat expected;
  };
  const std::vector<Made> made = {
      {"qcow2", {}, SourceFormat::kQcow2},
      {"vmdk", {}, SourceFormat::kVmdk},
      {"vdi", {}, SourceFormat::kVdi},
      {"vhdx", {}, SourceFormat::kVhdx},
      {"qed", {}, SourceFormat::kQed},
      {"vpc", {"-o", "subformat=dynamic"}, SourceFormat::kVhdDynamic},
      {"vpc", {"-o", "subformat=fixed"}, SourceFormat::kVhdFixed},
  };
  for (const Made& m : made) {
    const std::string out = dir_.File(m.fmt + "-image.raw");
    std::vector<std::string> args = {"convert", "-O", m.fmt};
    args.insert(args.end(), m.options.begin(), m.options.end());
    args.push_back(raw);
    args.push_back(out);
    ASSERT_EQ(vt::RunQemuImg(args), "") << m.fmt;
    EXPECT_EQ(Detect(out).format, m.expected) << m.fmt;
  }
  struct Tool {
    std::string program;
    SourceFormat expected;
  };
  for (const Tool& t : std::vector<Tool>{{"gzip", SourceFormat::kGzip},
                                         {"xz", SourceFormat::kXz},
                                         {"zstd", SourceFormat::kZstd},
                                         {"bzip2", SourceFormat::kBzip2}}) {
    if (!HaveProgram(t.program)) {
      ADD_FAILURE() << t.program << " not installed";
      continue;
    }
    const std::string copy = dir_.File("c-" + t.program + ".raw");
    vt::WriteFile(copy, vt::ReadFile(raw));
    const auto r = RunProcess({t.program, "-q", copy});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string compressed = copy + (t.program == "gzip"   ? ".gz"
                                           : t.program == "xz"   ? ".xz"
                                           : t.program == "zstd" ? ".zst"
                                                                 : ".bz2");
    const FormatInfo info = Detect(compressed);
    EXPECT_EQ(info.format, t.expected) << t.program;
    EXPECT_NE(info.remedy.find(compressed), std::string::npos) << info.remedy;
  }
}

// Given an empty file, a directory and a missing path, When detected, Then each is an error that
// names the path.
TEST_F(SourceFormatTest, EmptyDirectoryMissing) {
  const std::string empty = dir_.File("empty.raw");
  vt::WriteFile(empty, {});
  auto e = DetectFileFormat(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(e.error().message().find(empty), std::string::npos);
  EXPECT_NE(e.error().message().find("empty"), std::string::npos);

  auto d = DetectFileFormat(dir_.path().string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message().find("directory"), std::string::npos);
  EXPECT_NE(d.error().message().find(dir_.path().string()), std::string::npos);

  auto m = DetectFileFormat(dir_.File("missing"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(m.error().message().find("missing"), std::string::npos);
}

// Given a file of fewer than 512 bytes, When detected, Then it is raw (too short for a footer).
TEST_F(SourceFormatTest, TinyFileIsRaw) {
  const std::string tiny = dir_.File("tiny");
  vt::WriteFile(tiny, {1, 2, 3});
  EXPECT_EQ(Detect(tiny).format, SourceFormat::kRaw);
}

}  // namespace
}  // namespace fruix::image
