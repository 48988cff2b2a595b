// ConsoleRecorder against a scripted fake source: log file, line view, ring, partial lines,
// reconnects, states, Stop().
#include "lib/console/console_recorder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "lib/console/none_console_source.h"
#include "tests/lib/console/fake_console_source.h"
#include "tests/lib/console/recorder_test_util.h"

namespace fruix::console {
namespace {

using namespace std::chrono_literals;
using testing::Collector;
using testing::FakeConsoleSource;
using testing::ReadFile;
using testing::TempDir;

class ConsoleRecorderTest : public ::testing::Test {
 protected:
  ConsoleRecorderOptions Options() {
    ConsoleRecorderOptions o;
    o.log_path = dir_.path() / "console.log";
    o.on_line = collector_.LineCallback();
    o.on_state = collector_.StateCallback();
    return o;
  }
  std::unique_ptr<ConsoleRecorder> Start(ConsoleRecorderOptions o) {
    auto r = ConsoleRecorder::Start(std::make_unique<FakeConsoleSource>(script_), std::move(o));
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  TempDir dir_;
  Collector collector_;
  std::shared_ptr<FakeConsoleSource::Script> script_ =
      std::make_shared<FakeConsoleSource::Script>();
};

// Given a console printing CRLF lines with colour codes, When recorded, Then the log file holds
// the exact bytes, the callback and the ring get the cleaned lines with seq 1..n, mode 0640.
TEST_F(ConsoleRecorderTest, WritesEveryByteAndSplitsLines) {
  auto pipe = script_->QueuePipe();
  auto rec = Start(Options());
  ASSERT_NE(rec, nullptr);
  const std::string raw = "\x1b[1mFreeBSD 15.0\x1b[0m\r\nStarting sshd.\r\nbound to 10.0.0.5";
  pipe->Push(raw);
  pipe->Push(" -- renewal in 600 seconds.\r\n");
  ASSERT_TRUE(collector_.WaitForComplete("bound to 10.0.0.5 -- renewal in 600 seconds."));
  EXPECT_EQ(collector_.CompleteTexts(),
            (std::vector<std::string>{"FreeBSD 15.0", "Starting sshd.",
                                      "bound to 10.0.0.5 -- renewal in 600 seconds."}));
  auto tail = rec->Tail(10);
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[0].seq, 1u);
  EXPECT_EQ(tail[2].seq, 3u);
  rec->Stop();
  EXPECT_EQ(ReadFile(rec->log_path()), raw + " -- renewal in 600 seconds.\r\n");
  auto st = rec->Status();
  EXPECT_EQ(st.state, RecorderState::kStopped);
  EXPECT_EQ(st.bytes, raw.size() + 29);
  EXPECT_EQ(st.lines, 3u);
  EXPECT_EQ(st.connects, 1u);
  EXPECT_EQ(st.reconnects, 0u);
  EXPECT_EQ(st.source_kind, "xapi-vt100");
  struct stat sb {};
  ASSERT_EQ(::stat(rec->log_path().c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0640u);
}

// Given an existing log file and a console that drops twice, When recorded, Then the old content
// is kept, each connection's bytes are appended in order, reconnects counts 2, and the states go
// connected → reconnecting → connected.
TEST_F(ConsoleRecorderTest, ReconnectsAndAppendsAcrossDrops) {
  {
    std::ofstream old(dir_.path() / "console.log");
    old << "previous job run\n";
  }
  auto p1 = script_->QueuePipe();
  auto rec = Start(Options());
  ASSERT_NE(rec, nullptr);
  p1->Push("one\r\n");
  ASSERT_TRUE(collector_.WaitForComplete("one"));
  p1->End();
  script_->QueueError(Error::Unavailable("connection refused"));
  auto p2 = script_->QueuePipe();
  p2->Push("two\r\n");
  ASSERT_TRUE(collector_.WaitForComplete("two"));
  p2->End();
  auto p3 = script_->QueuePipe();
  p3->Push("three\r\n");
  ASSERT_TRUE(collector_.WaitForComplete("three"));
  auto st = rec->Status();
  EXPECT_EQ(st.connects, 3u);
  EXPECT_EQ(st.reconnects, 2u);
  EXPECT_EQ(st.state, RecorderState::kConnected);
  ASSERT_TRUE(st.last_error.has_value());
  EXPECT_EQ(script_->open_count(), 4);
  rec->Stop();
  EXPECT_TRUE(p3->closed());
  EXPECT_EQ(ReadFile(dir_.path() / "console.log"), "previous job run\none\r\ntwo\r\nthree\r\n");
  auto states = collector_.states();
  ASSERT_GE(states.size(), 4u);
  EXPECT_EQ(states[0], RecorderState::kConnected);
  EXPECT_EQ(states[1], RecorderState::kReconnecting);
  EXPECT_EQ(rec->Tail(5).back().seq, 3u);
}

// Given Open failing with kFailedPrecondition (no text console), Then the state is unavailable
// with that error, and a console that appears later is still picked up.
TEST_F(ConsoleRecorderTest, UnavailableThenRecovers) {
  script_->QueueError(Error::FailedPrecondition("VM x has no text console"));
  auto rec = Start(Options());
  ASSERT_NE(rec, nullptr);
  ASSERT_TRUE(collector_.WaitForState(RecorderState::kUnavailable));
  auto st = rec->Status();
  ASSERT_TRUE(st.last_error.has_value());
  EXPECT_EQ(st.last_error->code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(st.last_error->message().find("no text console"), std::string::npos);
  auto pipe = script_->QueuePipe();
  pipe->Push("late\n");
  ASSERT_TRUE(collector_.WaitForComplete("late"));
  EXPECT_EQ(rec->Status().state, RecorderState::kConnected);
}

// Given a "none" source, Then the state is none, nothing is read, and the reason is reported.
TEST_F(ConsoleRecorderTest, NoneSource) {
  auto r = ConsoleRecorder::Start(std::make_unique<NoneConsoleSource>("HVM guest"), Options());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(collector_.WaitForState(RecorderState::kNone));
  auto st = (*r)->Status();
  EXPECT_EQ(st.state, RecorderState::kNone);
  EXPECT_EQ(st.source_kind, "none");
  ASSERT_TRUE(st.last_error.has_value());
  EXPECT_EQ(st.last_error->message(), "no console source configured: HVM guest");
  (*r)->Stop();
  EXPECT_EQ((*r)->Status().state, RecorderState::kStopped);
}

// Given a prompt without a newline, When the console stays silent, Then the callback gets it as
// partial after ~300 ms (not before), once; when the newline arrives it comes again as complete
// with the same seq, and only then enters the ring.
TEST_F(ConsoleRecorderTest, PartialLineAfterSilence) {
  auto pipe = script_->QueuePipe();
  auto rec = Start(Options());
  ASSERT_NE(rec, nullptr);
  pipe->Push("before\r\n");
  ASSERT_TRUE(collector_.WaitForComplete("before"));
  const std::string prompt = "Enter full pathname of shell or RETURN for /bin/sh: ";
  auto pushed_at = std::chrono::steady_clock::now();
  pipe->Push(prompt);
  ASSERT_TRUE(collector_.WaitForPartial(prompt, 5s));
  auto ds = collector_.deliveries();
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_TRUE(ds[1].partial);
  EXPECT_EQ(ds[1].line.text, prompt);
  EXPECT_EQ(ds[1].line.seq, 2u);
  EXPECT_GE(ds[1].at - pushed_at, 290ms);
  EXPECT_EQ(rec->Status().partial_line, prompt);
  EXPECT_EQ(rec->Tail(10).size(), 1u);
  pipe->Push("\r\n");
  ASSERT_TRUE(collector_.WaitForComplete(prompt));
  ds = collector_.deliveries();
  ASSERT_EQ(ds.size(), 3u);  // the partial was delivered once
  EXPECT_FALSE(ds[2].partial);
  EXPECT_EQ(ds[2].line.seq, 2u);
  EXPECT_EQ(rec->Tail(10).size(), 2u);
}

// Given a ring of 5 lines and 20 lines printed, Then Tail and Lines see only the last 5, with
// their original sequence numbers, and followers resume by seq.
TEST_F(ConsoleRecorderTest, RingIsBounded) {
  auto pipe = script_->QueuePipe();
  auto o = Options();
  o.ring_lines = 5;
  auto rec = Start(std::move(o));
  ASSERT_NE(rec, nullptr);
  std::string text;
  for (int i = 1; i <= 20; ++i) text += "line " + std::to_string(i) + "\n";
  pipe->Push(text);
  ASSERT_TRUE(collector_.WaitForComplete("line 20"));
  auto tail = rec->Tail(100);
  ASSERT_EQ(tail.size(), 5u);
  EXPECT_EQ(tail.front().seq, 16u);
  EXPECT_EQ(tail.front().text, "line 16");
  EXPECT_EQ(rec->Tail(2).front().text, "line 19");
  auto from_start = rec->Lines(0, 100);
  ASSERT_EQ(from_start.size(), 5u);
  EXPECT_EQ(from_start.front().seq, 16u);
  auto follow = rec->Lines(17, 2);
  ASSERT_EQ(follow.size(), 2u);
  EXPECT_EQ(follow[0].seq, 18u);
  EXPECT_EQ(follow[1].seq, 19u);
  EXPECT_TRUE(rec->Lines(20, 10).empty());
  EXPECT_EQ(rec->Status().lines, 20u);
}

// Given a recorder blocked in Open (no console) and one connected to a silent console, When
// Stop() is called, Then it returns within a second and the stream is closed.
TEST_F(ConsoleRecorderTest, StopIsPrompt) {
  {
    auto blocked = Start(Options());
    ASSERT_NE(blocked, nullptr);
    auto t0 = std::chrono::steady_clock::now();
    blocked->Stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    EXPECT_EQ(blocked->Status().state, RecorderState::kStopped);
  }
  auto pipe = script_->QueuePipe();
  auto rec = Start(Options());
  ASSERT_NE(rec, nullptr);
  ASSERT_TRUE(collector_.WaitForState(RecorderState::kConnected));
  auto t0 = std::chrono::steady_clock::now();
  rec->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_TRUE(pipe->closed());
  rec->Stop();  // idempotent
}

// Given bad options or an unwritable log path, Then Start fails and starts nothing.
TEST_F(ConsoleRecorderTest, StartValidates) {
  auto o = Options();
  o.log_path = dir_.path() / "missing-dir" / "console.log";
  auto r = ConsoleRecorder::Start(std::make_unique<FakeConsoleSource>(script_), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_NE(r.error().message().find("missing-dir"), std::string::npos);
  auto zero = Options();
  zero.ring_lines = 0;
  EXPECT_FALSE(ConsoleRecorder::Start(std::make_unique<FakeConsoleSource>(script_), zero).ok());
  EXPECT_FALSE(ConsoleRecorder::Start(nullptr, Options()).ok());
  EXPECT_EQ(script_->open_count(), 0);
}

}  // namespace
}  // namespace fruix::console
