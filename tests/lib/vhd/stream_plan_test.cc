#include "lib/vhd/stream_plan.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include "tests/lib/vhd/test_images.h"

namespace fruix::vhd {
namespace {

namespace vt = fruix::vhd::testing;

// Reads a whole plan through PlanReader with reads of `chunk` bytes.
std::vector<uint8_t> Pull(const StreamPlan& plan, size_t chunk) {
  PlanReader reader(plan);
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(chunk);
  for (;;) {
    auto n = reader.Read(buf);
    EXPECT_TRUE(n.ok());
    if (!n.ok() || *n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
  }
  return out;
}

class StreamPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_bytes_ = vt::RandomBytes(1 << 20, 3);
    vt::WriteFile(src_path_, source_bytes_);
    auto file = SourceFile::Open(src_path_);
    ASSERT_TRUE(file.ok());
    source_ = *file;
  }
  vt::ScratchDir dir_;
  std::string src_path_ = dir_.File("src");
  std::vector<uint8_t> source_bytes_;
  std::shared_ptr<SourceFile> source_;
};

// Given bytes, file ranges and zeros, some contiguous, When added, Then contiguous pieces merge,
// the size and the per-kind byte counts add up.
TEST_F(StreamPlanTest, SegmentsMergeAndCount) {
  StreamPlan plan(source_);
  const std::vector<uint8_t> a = {1, 2, 3};
  plan.AddBytes(a);
  plan.AddBytes(a);  // merges: the store is contiguous
  plan.AddFile(100, 50);
  plan.AddFile(150, 10);  // merges
  plan.AddFile(500, 10);  // does not
  plan.AddZeros(7);
  plan.AddZeros(3);    // merges
  plan.AddFile(0, 0);  // ignored
  ASSERT_EQ(plan.segments().size(), 4u);
  EXPECT_EQ(plan.segments()[0].length, 6u);
  EXPECT_EQ(plan.segments()[1].length, 60u);
  EXPECT_EQ(plan.segments()[3].length, 10u);
  EXPECT_EQ(plan.size(), 6u + 60 + 10 + 10);
  EXPECT_EQ(plan.file_bytes(), 70u);
  EXPECT_EQ(plan.zero_bytes(), 10u);
}

// Given a plan, When pulled with small and large reads and written to a file, Then all three give
// the same bytes, of exactly plan.size(), matching the source where file ranges were planned.
TEST_F(StreamPlanTest, ReaderAndFdSinkAgree) {
  StreamPlan plan(source_);
  const auto stored = plan.Store(std::vector<uint8_t>(512, 0xFF));
  for (int i = 0; i < 3; ++i) {
    plan.AddStored(stored);
    plan.AddFile(static_cast<uint64_t>(i) * 4096, 4096);
    plan.AddZeros(1000);
  }
  std::vector<uint8_t> expected;
  for (int i = 0; i < 3; ++i) {
    expected.insert(expected.end(), 512, 0xFF);
    expected.insert(expected.end(), source_bytes_.begin() + i * 4096,
                    source_bytes_.begin() + (i + 1) * 4096);
    expected.insert(expected.end(), 1000, 0);
  }
  ASSERT_EQ(plan.size(), expected.size());
  EXPECT_EQ(Pull(plan, 7), expected);
  EXPECT_EQ(Pull(plan, 1 << 20), expected);

  const std::string out = dir_.File("out");
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  FdSink sink(fd, /*sparse_zeros=*/true);
  uint64_t last_progress = 0;
  ASSERT_TRUE(WritePlan(plan, sink, [&](uint64_t done) {
                last_progress = done;
                return true;
              }).ok());
  ASSERT_TRUE(sink.Finish().ok());
  ::close(fd);
  EXPECT_EQ(sink.bytes_written(), plan.size());
  EXPECT_EQ(last_progress, plan.size());
  EXPECT_EQ(vt::ReadFile(out), expected);
}

// Given a plan ending in a long run of zeros, When written sparse to a file, Then the file has the
// full length but its zeros take (almost) no space.
TEST_F(StreamPlanTest, SparseZerosBecomeHoles) {
  StreamPlan plan(source_);
  plan.AddFile(0, 4096);
  plan.AddZeros(256ULL << 20);
  const std::string out = dir_.File("sparse");
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  FdSink sink(fd, true);
  ASSERT_TRUE(WritePlan(plan, sink).ok());
  ASSERT_TRUE(sink.Finish().ok());
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  ::close(fd);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), plan.size());
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 1ULL << 20);
}

// Given a pipe as the sink (not a regular file), When a plan is written, Then zeros are real
// bytes and the reader on the other end sees exactly the plan.
TEST_F(StreamPlanTest, PipeSink) {
  StreamPlan plan(source_);
  plan.AddFile(10, 100000);
  plan.AddZeros(300000);
  plan.AddBytes(std::vector<uint8_t>{9, 9});
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::vector<uint8_t> got;
  std::thread reader([&] {
    uint8_t buf[65536];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) got.insert(got.end(), buf, buf + n);
  });
  FdSink sink(fds[1], /*sparse_zeros=*/true);  // ignored: a pipe cannot have holes
  const auto written = WritePlan(plan, sink);
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  ASSERT_TRUE(written.ok()) << written.error().message();
  EXPECT_EQ(got, Pull(plan, 4096));
}

// Given a plan over a source that is truncated afterwards, When written, Then the write fails
// with kIo saying the file changed, instead of producing fewer bytes.
TEST_F(StreamPlanTest, TruncatedSourceFails) {
  StreamPlan plan(source_);
  plan.AddFile(0, source_bytes_.size());
  ASSERT_EQ(::truncate(src_path_.c_str(), 1000), 0);
  const std::string out = dir_.File("out");
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  FdSink sink(fd, false);
  const auto written = WritePlan(plan, sink);
  ::close(fd);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code(), ErrorCode::kIo);
  EXPECT_NE(written.error().message().find("truncated or changed"), std::string::npos);
  PlanReader reader(plan);
  std::vector<uint8_t> buf(1 << 20);
  EXPECT_FALSE(reader.Read(buf).ok());
}

// Given a progress callback that asks to stop, When a long plan is written, Then WritePlan stops
// with kCancelled before the end.
TEST_F(StreamPlanTest, ProgressCanCancel) {
  StreamPlan plan;
  plan.AddZeros(1ULL << 30);
  const int fd = ::open("/dev/null", O_WRONLY);
  FdSink sink(fd, false);
  const auto written = WritePlan(plan, sink, [](uint64_t done) { return done < (128ULL << 20); });
  ::close(fd);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code(), ErrorCode::kCancelled);
  EXPECT_LT(sink.bytes_written(), plan.size());
}

// Given a missing path, When opened as a source, Then kNotFound names it.
TEST_F(StreamPlanTest, OpenMissingSource) {
  auto file = SourceFile::Open(dir_.File("nope"));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(file.error().message().find("nope"), std::string::npos);
}

}  // namespace
}  // namespace fruix::vhd
