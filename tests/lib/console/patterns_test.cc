// Console patterns: every default against the real line it was written for and against near-misses
// (patterns.h documents the sources).
#include "lib/console/patterns.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fruix::console {
namespace {

// The names of the patterns that match `line` fed complete to a fresh matcher.
std::vector<std::string> Matches(GuestOs os, const std::string& line, bool partial = false) {
  PatternMatcher m(DefaultPatterns(os));
  std::vector<std::string> names;
  for (const auto& match : m.Feed(line, partial)) names.push_back(match.name);
  return names;
}

struct Case {
  GuestOs os;
  std::string line;
  std::vector<std::string> expected;  // every pattern that must fire, nothing else
};

// Given the real console lines of field-notes.md and of common Linux boots, When each is fed to a
// matcher with the default patterns, Then exactly the documented patterns fire.
TEST(DefaultPatternsTest, RealLinesFireTheirPatterns) {
  const std::vector<Case> cases = {
      // FreeBSD fsck abort (field notes).
      {GuestOs::kFreeBsd, "ERROR: ABORTING BOOT (sending SIGTERM to parent)!", {"fsck-abort"}},
      {GuestOs::kFreeBsd,
       "fsck: exec fsck_devfs for devfs in /sbin:/usr/sbin: No such file or directory",
       {"fsck-exec-missing"}},
      {GuestOs::kFreeBsd, "Unknown error 1; help!", {}},
      {GuestOs::kFreeBsd, "/dev/gpt/fruix-root: FILE SYSTEM CLEAN; SKIPPING CHECKS", {}},
      {GuestOs::kFreeBsd, "Starting file system checks:", {}},
      {GuestOs::kFreeBsd,
       "pid 262 (guile), jid 0, uid 0: exited on signal 11 (core dumped)",
       {"fatal-signal"}},
      {GuestOs::kFreeBsd, "pid 77 (sh), jid 0, uid 0: exited on signal 6", {"fatal-signal"}},
      {GuestOs::kFreeBsd, "PAM: initialisation failed", {"pam-init-failed"}},
      {GuestOs::kLinux, "sshd[812]: fatal: PAM: initialization failed", {"pam-init-failed"}},
      {GuestOs::kFreeBsd, "Enter full pathname of shell or RETURN for /bin/sh: ", {"single-user"}},
      {GuestOs::kFreeBsd, "mountroot> ", {"mountroot"}},
      {GuestOs::kFreeBsd, "panic: page fault", {"panic"}},
      {GuestOs::kFreeBsd, "panic: vm_fault: fault on nofault entry, addr: 0xfffffe00", {"panic"}},
      {GuestOs::kFreeBsd, "KDB: stack backtrace: panic: boom", {"panic"}},
      {GuestOs::kFreeBsd,
       "init: /bin/sh on /etc/rc terminated abnormally, going to single user mode",
       {"rc-aborted"}},
      {GuestOs::kFreeBsd, "Copyright (c) 1992-2024 The FreeBSD Project.", {"kernel-banner"}},
      {GuestOs::kFreeBsd,
       "FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64",
       {"kernel-banner"}},
      {GuestOs::kFreeBsd,
       "Trying to mount root from ufs:/dev/gpt/fruix-root [rw]...",
       {"root-mount"}},
      {GuestOs::kFreeBsd,
       "/etc/rc: WARNING: $hostname is not set -- see rc.conf(5).",
       {"rc-warning"}},
      {GuestOs::kFreeBsd, "DHCPACK from 192.168.213.1", {"dhcp-ack"}},
      {GuestOs::kFreeBsd, "bound to 192.168.213.62 -- renewal in 43200 seconds.", {"dhcp-bound"}},
      {GuestOs::kFreeBsd, "Starting sshd.", {"sshd-started"}},
      {GuestOs::kFreeBsd, "login: ", {"login-prompt"}},
      {GuestOs::kFreeBsd, "fruix: ready", {"marker"}},
      // Linux.
      {GuestOs::kLinux,
       "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
       {"kernel-panic"}},
      {GuestOs::kLinux,
       "You are in emergency mode. After logging in, type \"journalctl -xb\" to view",
       {"emergency-mode"}},
      {GuestOs::kLinux, "Give root password for maintenance", {"emergency-mode"}},
      {GuestOs::kLinux,
       "ALERT!  /dev/sda1 does not exist.  Dropping to a shell!",
       {"initramfs-shell"}},
      {GuestOs::kLinux, "(initramfs) ", {"initramfs-shell"}},
      {GuestOs::kLinux,
       "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14))",
       {"kernel-banner"}},
      {GuestOs::kLinux, "DHCPACK of 10.0.0.5 from 10.0.0.1", {"dhcp-ack"}},
      {GuestOs::kLinux, "bound to 10.0.0.5 -- renewal in 1717 seconds.", {"dhcp-bound"}},
      {GuestOs::kLinux, "udhcpc: lease of 10.0.2.15 obtained, lease time 86400", {"udhcpc-lease"}},
      {GuestOs::kLinux,
       "eth0: DHCPv4 address 10.0.0.5/24, gateway 10.0.0.1 acquired from 10.0.0.1",
       {"networkd-dhcp4"}},
      {GuestOs::kLinux, "Server listening on 0.0.0.0 port 22.", {"sshd-started"}},
      {GuestOs::kLinux,
       "[  OK  ] Started ssh.service - OpenBSD Secure Shell server.",
       {"sshd-started"}},
      {GuestOs::kLinux, "[  OK  ] Started OpenSSH server daemon.", {"sshd-started"}},
      {GuestOs::kLinux, "debian login: ", {"login-prompt"}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Matches(c.os, c.line), c.expected) << c.line;
    // kAny holds both sets: the same patterns fire.
    EXPECT_EQ(Matches(GuestOs::kAny, c.line), c.expected) << "kAny: " << c.line;
  }
}

// Given lines that resemble failure or milestone lines but are not, When fed, Then nothing fires.
TEST(DefaultPatternsTest, NearMissesDoNotFire) {
  const std::vector<std::string> lines = {
      "nopanic: 1",
      "kern.panic: 0",
      "debug.debugger_on_panic: 0",
      "panic:",  // no message
      "Panicking is not an option",
      "mountroot: waiting for device /dev/gpt/fruix-root...",
      "pid 12 (daemon), jid 0, uid 0: exited on signal 15",
      "pid 12 (daemon), jid 0, uid 0: exited on signal 9",
      "pid 12 (daemon), jid 0, uid 0: exited on signal 110",
      "PAM: authentication failed",
      "ERROR: something else",
      "Kernel panic test skipped",
      "bound to 999.1.1.1 -- renewal in 60 seconds.",
      "bound to 0.0.0.0 -- renewal in 60 seconds.",
      "bound to 10.0.0.05 -- renewal in 60 seconds.",
      "udhcpc: lease of 256.0.0.1 obtained, lease time 60",
      "FreeBSD/amd64 (fruix-freebsd) (ttyu0)",
      "Last login: Tue Jan  2 10:00:00 on ttyu0",
      "Starting sshd-keygen.",
      "Trying to mount root",
      "  /etc/rc: WARNING: indented is not rc",
      "fruix: ready-ish but different",
  };
  for (const auto& line : lines) {
    auto m = Matches(GuestOs::kAny, line);
    // "fruix: ready-ish" contains the marker text literally and is allowed to match it.
    if (line.starts_with("fruix: ready")) {
      EXPECT_EQ(m, std::vector<std::string>{"marker"}) << line;
      continue;
    }
    EXPECT_TRUE(m.empty()) << line << " fired " << (m.empty() ? "" : m.front());
  }
}

// Given OS-specific sets, Then a FreeBSD set has no Linux failure and vice versa.
TEST(DefaultPatternsTest, SetsAreOsSpecific) {
  EXPECT_TRUE(Matches(GuestOs::kFreeBsd, "Kernel panic - not syncing: x").empty());
  EXPECT_TRUE(Matches(GuestOs::kLinux, "mountroot> ").empty());
  EXPECT_TRUE(
      Matches(GuestOs::kLinux, "ERROR: ABORTING BOOT (sending SIGTERM to parent)!").empty());
  // Every default compiles for every OS (DefaultPatterns aborts otherwise) and has a unique name.
  for (GuestOs os : {GuestOs::kFreeBsd, GuestOs::kLinux, GuestOs::kAny}) {
    EXPECT_TRUE(PatternSet::Build(DefaultPatternSpecs(os)).ok());
  }
}

// Given the real fsck-abort boot of field-notes.md after 40 earlier lines, When it is fed, Then
// the failure fires once on "ABORTING BOOT" with an excerpt of the 30 previous lines + the line,
// holding the fsck context lines.
TEST(PatternMatcherTest, FailureExcerptHoldsThirtyPreviousLines) {
  PatternMatcher m(DefaultPatterns(GuestOs::kFreeBsd));
  for (int i = 0; i < 40; ++i) EXPECT_TRUE(m.Feed("boot line " + std::to_string(i), false).empty());
  const std::vector<std::string> boot = {
      "Starting file system checks:",
      "/dev/gpt/fruix-root: FILE SYSTEM CLEAN; SKIPPING CHECKS",
      "/dev/gpt/fruix-root: clean, ...",
      "fsck: exec fsck_devfs for devfs in /sbin:/usr/sbin: No such file or directory",
      "Unknown error 1; help!",
  };
  for (const auto& l : boot) (void)m.Feed(l, false);
  auto matches = m.Feed("ERROR: ABORTING BOOT (sending SIGTERM to parent)!", false);
  ASSERT_EQ(matches.size(), 1u);
  const auto& f = matches[0];
  EXPECT_EQ(f.name, "fsck-abort");
  EXPECT_EQ(f.kind, PatternKind::kFailure);
  EXPECT_FALSE(f.partial);
  EXPECT_EQ(f.line_number, 46u);
  ASSERT_EQ(f.excerpt.size(), 31u);
  EXPECT_EQ(f.excerpt.front(), "boot line 15");
  EXPECT_EQ(f.excerpt[29], "Unknown error 1; help!");
  EXPECT_EQ(f.excerpt[28],
            "fsck: exec fsck_devfs for devfs in /sbin:/usr/sbin: No such file or directory");
  EXPECT_EQ(f.excerpt.back(), "ERROR: ABORTING BOOT (sending SIGTERM to parent)!");
}

// Given each default failure signature, When its real line follows 35 other lines, Then it fires
// with a 31-line excerpt ending at that line.
TEST(PatternMatcherTest, EveryDefaultFailureFiresWithExcerpt) {
  const std::vector<std::pair<std::string, std::string>> failures = {
      {"fsck-abort", "ERROR: ABORTING BOOT (sending SIGTERM to parent)!"},
      {"rc-aborted", "init: /bin/sh on /etc/rc terminated abnormally, going to single user mode"},
      {"single-user", "Enter full pathname of shell or RETURN for /bin/sh: "},
      {"mountroot", "mountroot> "},
      {"panic", "panic: page fault"},
      {"fatal-signal", "pid 262 (guile), jid 0, uid 0: exited on signal 11 (core dumped)"},
      {"pam-init-failed", "PAM: initialisation failed"},
      {"kernel-panic", "Kernel panic - not syncing: Attempted to kill init!"},
      {"emergency-mode", "You are in emergency mode."},
      {"initramfs-shell", "Gave up waiting for root device.  Dropping to a shell!"},
  };
  auto set = DefaultPatterns(GuestOs::kAny);
  size_t failure_patterns = 0;
  for (const auto& p : set->patterns()) failure_patterns += p.kind == PatternKind::kFailure;
  EXPECT_EQ(failure_patterns, failures.size()) << "a default failure lacks a test line";
  for (const auto& [name, line] : failures) {
    PatternMatcher m(set);
    for (int i = 0; i < 35; ++i) (void)m.Feed("context " + std::to_string(i), false);
    auto matches = m.Feed(line, false);
    ASSERT_EQ(matches.size(), 1u) << line;
    EXPECT_EQ(matches[0].name, name);
    ASSERT_EQ(matches[0].excerpt.size(), 31u);
    EXPECT_EQ(matches[0].excerpt.front(), "context 5");
    EXPECT_EQ(matches[0].excerpt.back(), line);
  }
}

// Given a prompt delivered partial (twice, growing) and then complete, Then the failure fires
// once, on the first partial delivery that matches, and not again for the same line; the next
// line can fire it again.
TEST(PatternMatcherTest, FiresOncePerLineAcrossPartialDeliveries) {
  PatternMatcher m(DefaultPatterns(GuestOs::kFreeBsd));
  EXPECT_TRUE(m.Feed("Enter full pathname", true).empty());
  auto first = m.Feed("Enter full pathname of shell or RETURN for /bin/sh:", true);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].partial);
  EXPECT_EQ(first[0].name, "single-user");
  EXPECT_EQ(first[0].line_number, 1u);
  EXPECT_TRUE(m.Feed("Enter full pathname of shell or RETURN for /bin/sh: x", true).empty());
  EXPECT_TRUE(m.Feed("Enter full pathname of shell or RETURN for /bin/sh: x", false).empty());
  EXPECT_EQ(m.lines_fed(), 1u);
  auto again = m.Feed("Enter full pathname of shell or RETURN for /bin/sh:", false);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].line_number, 2u);
  // Partial lines never enter the history.
  EXPECT_EQ(again[0].excerpt.size(), 2u);
}

// Given the marker configured, Then it matches literally (metacharacters escaped), and an empty
// marker omits the pattern.
TEST(PatternMatcherTest, MarkerIsLiteral) {
  PatternMatcher m(DefaultPatterns(GuestOs::kAny, "ready (build 1.2)*"));
  EXPECT_TRUE(m.Feed("ready (build 1x2)", false).empty());
  auto hit = m.Feed("svc: ready (build 1.2)* ok", false);
  ASSERT_EQ(hit.size(), 1u);
  EXPECT_EQ(hit[0].name, "marker");
  PatternMatcher none(DefaultPatterns(GuestOs::kAny, ""));
  EXPECT_TRUE(none.Feed("fruix: ready", false).empty());
}

// Given an address line, Then the match carries the validated address.
TEST(PatternMatcherTest, AddressCarriesValidatedIpv4) {
  PatternMatcher m(DefaultPatterns(GuestOs::kAny));
  auto hit = m.Feed("bound to 127.0.0.5 -- renewal in 600 seconds.", false);
  ASSERT_EQ(hit.size(), 1u);
  EXPECT_EQ(hit[0].kind, PatternKind::kAddress);
  EXPECT_EQ(hit[0].address, "127.0.0.5");
}

// Given bad configuration, Then Build fails naming the pattern and the regex.
TEST(PatternSetTest, BuildErrorsNameTheBadPattern) {
  auto bad_regex = PatternSet::Build({{"oops", PatternKind::kFailure, "unclosed (group"}});
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_EQ(bad_regex.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_regex.error().message().find("oops"), std::string::npos);
  EXPECT_NE(bad_regex.error().message().find("unclosed (group"), std::string::npos);

  auto no_group = PatternSet::Build({{"ip", PatternKind::kAddress, R"(lease \d+\.\d+)"}});
  ASSERT_FALSE(no_group.ok());
  EXPECT_NE(no_group.error().message().find("exactly one capture group"), std::string::npos);
  auto two_groups =
      PatternSet::Build({{"ip", PatternKind::kAddress, R"((a)(\d+\.\d+\.\d+\.\d+))"}});
  EXPECT_FALSE(two_groups.ok());

  EXPECT_FALSE(PatternSet::Build({{"", PatternKind::kMilestone, "x"}}).ok());
  EXPECT_FALSE(PatternSet::Build({{"bad name", PatternKind::kMilestone, "x"}}).ok());
  EXPECT_FALSE(PatternSet::Build({{"e", PatternKind::kMilestone, ""}}).ok());
  auto dup =
      PatternSet::Build({{"a", PatternKind::kMilestone, "x"}, {"a", PatternKind::kFailure, "y"}});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message().find("twice"), std::string::npos);

  EXPECT_EQ(*ParsePatternKind("failure"), PatternKind::kFailure);
  EXPECT_FALSE(ParsePatternKind("fatal").ok());
}

// Given defaults and configuration overrides, Then same-named ones replace, empty regexes remove,
// new ones are appended.
TEST(PatternSetTest, MergeOverridesByName) {
  auto merged = MergePatternSpecs(DefaultPatternSpecs(GuestOs::kFreeBsd),
                                  {{"fatal-signal", PatternKind::kFailure, ""},
                                   {"panic", PatternKind::kMilestone, "^panic: "},
                                   {"my-check", PatternKind::kFailure, "^SELFTEST FAILED"}});
  auto set = PatternSet::Build(merged);
  ASSERT_TRUE(set.ok()) << set.error().ToString();
  PatternMatcher m(std::make_shared<const PatternSet>(std::move(set).value()));
  EXPECT_TRUE(m.Feed("pid 1 (x), jid 0, uid 0: exited on signal 11", false).empty());
  auto panic = m.Feed("panic: x", false);
  ASSERT_EQ(panic.size(), 1u);
  EXPECT_EQ(panic[0].kind, PatternKind::kMilestone);
  auto own = m.Feed("SELFTEST FAILED: disk", false);
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own[0].name, "my-check");
}

TEST(Ipv4Test, HostAddresses) {
  EXPECT_TRUE(IsIpv4HostAddress("127.0.0.5"));
  EXPECT_TRUE(IsIpv4HostAddress("192.168.213.62"));
  EXPECT_FALSE(IsIpv4HostAddress("0.0.0.0"));
  EXPECT_FALSE(IsIpv4HostAddress("255.255.255.255"));
  EXPECT_FALSE(IsIpv4HostAddress("1.2.3"));
  EXPECT_FALSE(IsIpv4HostAddress("1.2.3.4.5"));
  EXPECT_FALSE(IsIpv4HostAddress("1.2.3.256"));
  EXPECT_FALSE(IsIpv4HostAddress("01.2.3.4"));
  EXPECT_FALSE(IsIpv4HostAddress("1.2.3.4 "));
  EXPECT_FALSE(IsIpv4HostAddress(""));
}

}  // namespace
}  // namespace fruix::console
