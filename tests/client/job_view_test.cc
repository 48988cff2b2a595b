// Job views: summary, table, exit codes, and the live event renderer (TTY bar vs plain lines)
// on a manual clock.
#include "client/job_view.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "client/command.h"
#include "tests/client/sample_jobs.h"

namespace fruix::client {
namespace {

using namespace fruix::client::testing;
using std::chrono::milliseconds;

class ManualClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::time_point{} + (now_ - TimePoint{});
  }
  void Advance(Duration d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1)};
};

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

// Given jobs in each end state, When mapped to exit codes, Then ready 0, failed 1, cancelled 4,
// a "timeout" failure 5, interrupted 1, still running 1.
TEST(JobViewTest, ExitCodes) {
  EXPECT_EQ(JobExitCode(ReadyJob("j")), kExitOk);
  EXPECT_EQ(JobExitCode(FailedJob("j")), kExitFailed);
  EXPECT_EQ(JobExitCode(FailedJob("j", "timeout")), kExitTimeout);
  EXPECT_EQ(JobExitCode(Job("j", "cancelled")), kExitCancelled);
  EXPECT_EQ(JobExitCode(Job("j", "interrupted")), kExitFailed);
  EXPECT_EQ(JobExitCode(Job("j", "running")), kExitFailed);
}

// Given a failed job, When summarized, Then the headline, phases with durations, the failure
// (phase, code, class, message) and the console excerpt are shown.
TEST(JobViewTest, FailedSummary) {
  std::ostringstream out;
  PrintJobSummary(out, FailedJob("j-7"));
  const std::string s = out.str();
  EXPECT_EQ(s.rfind("job j-7: failed after 1m00s\n", 0), 0u) << s;
  EXPECT_NE(s.find("  target:     freebsd-nightly (pool lab)\n"), std::string::npos) << s;
  EXPECT_NE(s.find("  requested:  alice (uid 1000), 2026-11-23 20:21:16Z\n"), std::string::npos)
      << s;
  EXPECT_NE(s.find("    upload     ok        41s      2 GiB, 212 data blocks\n"), std::string::npos)
      << s;
  EXPECT_NE(s.find("    boot       failed    11s\n"), std::string::npos) << s;
  EXPECT_NE(s.find("  failure:    boot: console:fsck-abort (guest failure)\n"), std::string::npos)
      << s;
  EXPECT_NE(s.find("  message:    console signature fsck-abort\n"), std::string::npos) << s;
  EXPECT_NE(s.find("  console excerpt:\n    | ** /dev/ada0p2\n"
                   "    | UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.\n"),
            std::string::npos)
      << s;
}

// Given a ready job with a report, When summarized, Then IP and the SSH host key are shown.
TEST(JobViewTest, ReadySummaryShowsAddressAndHostKey) {
  std::ostringstream out;
  PrintJobSummary(out, ReadyJob("j-8"), /*with_phases=*/false);
  const std::string s = out.str();
  EXPECT_EQ(s.rfind("job j-8: ready after 1m02s\n", 0), 0u) << s;
  EXPECT_NE(s.find("  ip:         10.0.0.57\n"), std::string::npos) << s;
  EXPECT_NE(s.find("  host key:   SHA256:q7bPAd2mEm0DnxVw1yDh3hQ0xJv4Wn9m3c0E3Wc1l8Y\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("  console:    /var/lib/fruixd/logs/j-8.console.log\n"), std::string::npos) << s;
  EXPECT_EQ(s.find("phases:"), std::string::npos) << s;
}

// Given two jobs, When tabled, Then a header and one aligned row each.
TEST(JobViewTest, Table) {
  std::ostringstream out;
  PrintJobTable(out, {FailedJob("j-20261123-0001"), Job("j-2", "queued")});
  EXPECT_EQ(out.str(),
            "JOB              STATE   TARGET           PHASE  CREATED               DURATION  BY\n"
            "j-20261123-0001  failed  freebsd-nightly  boot   2026-11-23 20:21:16Z  1m00s     "
            "alice\n"
            "j-2              queued  freebsd-nightly         2026-11-23 20:21:16Z            "
            "alice\n");
}

// Given a renderer on a non-TTY, When 101 progress events (0..100 %) arrive at one instant,
// Then exactly one line per 10 % step is printed and no "\r"; When 5 s pass without a new
// step, Then one more line.
TEST(JobViewTest, PlainProgressIsRateLimited) {
  ManualClock clock;
  std::ostringstream out;
  EventRenderer r(out, {.tty = false, .console = false}, clock);
  const uint64_t total = uint64_t{100} << 24;  // 1.6 GiB, a whole number of bytes per percent
  for (int pct = 0; pct <= 50; ++pct) r.OnEvent(ProgressEvent("j", total / 100 * pct, total));
  EXPECT_EQ(Count(out.str(), "upload"), 6u) << out.str();
  clock.Advance(milliseconds(4900));
  r.OnEvent(ProgressEvent("j", total / 100 * 51, total));
  EXPECT_EQ(Count(out.str(), "upload"), 6u) << out.str();
  clock.Advance(milliseconds(200));
  r.OnEvent(ProgressEvent("j", total / 100 * 52, total));
  EXPECT_EQ(Count(out.str(), "upload"), 7u) << out.str();
  for (int pct = 53; pct <= 100; ++pct) r.OnEvent(ProgressEvent("j", total / 100 * pct, total));
  r.OnEvent(ProgressEvent("j", total, total));
  EXPECT_EQ(Count(out.str(), "upload"), 12u) << out.str();
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
  EXPECT_NE(out.str().find(" 100%  1.6 GiB of 1.6 GiB"), std::string::npos) << out.str();
}

// Given upload progress over 2 s, When rendered, Then the rate is the bytes since the first
// event over the time since, and the ETA the rest at that rate.
TEST(JobViewTest, ProgressRateAndEta) {
  ManualClock clock;
  std::ostringstream out;
  EventRenderer r(out, {.tty = false, .console = false}, clock);
  r.OnEvent(ProgressEvent("j", 0, 400'000'000));
  clock.Advance(milliseconds(2000));
  r.OnEvent(ProgressEvent("j", 200'000'000, 400'000'000));
  EXPECT_NE(out.str().find("  upload      50%  190.7 MiB of 381.5 MiB  100.0 MB/s  ETA 2.0s\n"),
            std::string::npos)
      << out.str();
}

// Given a TTY renderer, When progress events come faster than 10 per second, Then the bar is
// redrawn in place ("\r") at most once per 100 ms (and always at 100 %), and a phase line first
// clears the bar.
TEST(JobViewTest, TtyBarRedrawsInPlace) {
  ManualClock clock;
  std::ostringstream out;
  EventRenderer r(out, {.tty = true, .console = false}, clock);
  for (int i = 0; i < 10; ++i) {
    r.OnEvent(ProgressEvent("j", uint64_t(i) * 10, 1000));
    clock.Advance(milliseconds(30));
  }
  // Draws at t=0, 120, 240 (each ≥ 100 ms after the last).
  EXPECT_EQ(Count(out.str(), "\r  upload     ["), 3u) << out.str();
  r.OnEvent(ProgressEvent("j", 1000, 1000));
  EXPECT_EQ(Count(out.str(), "\r  upload     ["), 4u);
  EXPECT_NE(out.str().find("[########################] 100%"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find('\n'), std::string::npos);
  r.OnEvent(PhaseEvent("j", Phase("upload", "ok", 41000)));
  EXPECT_NE(out.str().find("\r\033[K  upload     ok        41s\n"), std::string::npos) << out.str();
}

// Given phase, waiting, milestone and console events, When rendered without --console, Then one
// line each (a repeated status or wait is not repeated) and no console line; with --console the
// console line is shown with its prefix.
TEST(JobViewTest, PhasesWaitsMilestonesConsole) {
  ManualClock clock;
  std::ostringstream out;
  EventRenderer r(out, {.tty = false, .console = false}, clock);
  proto::JobInfo job = Job("j-3", "running");
  job.phases = {Phase("preflight", "ok", 120)};
  r.Start(job);
  r.OnEvent(PhaseEvent("j-3", Phase("preflight", "ok", 120)));
  r.OnEvent(PhaseEvent("j-3", Phase("boot", "running")));
  r.OnEvent(WaitingEvent("j-3", "waiting for the guest's address from guest-metrics, console"));
  r.OnEvent(WaitingEvent("j-3", "waiting for the guest's address from guest-metrics, console"));
  r.OnEvent(MilestoneEvent("j-3", "dhcp-ack", "DHCPACK from 10.0.0.1", 12000));
  r.OnEvent(ConsoleEvent("j-3", 1, "login: \r\n"));
  EXPECT_EQ(out.str(),
            "job j-3: running, target freebsd-nightly, image /srv/images/fruix-20261123.img\n"
            "  preflight  ok        0.1s\n"
            "  boot       started\n"
            "  waiting for the guest's address from guest-metrics, console\n"
            "  milestone  dhcp-ack at 12s: DHCPACK from 10.0.0.1\n");
  std::ostringstream with_console;
  EventRenderer c(with_console, {.tty = false, .console = true}, clock);
  c.OnEvent(ConsoleEvent("j-3", 1, "login: \r\n"));
  EXPECT_EQ(with_console.str(), "console| login: \n");
}

}  // namespace
}  // namespace fruix::client
