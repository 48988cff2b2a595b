// console::PatternSet / PatternMatcher — what the job engine looks for in a guest's console lines:
// milestones (progress worth reporting), failure signatures (end the job at once with the guilty
// line and the 30 lines before it) and address lines (an IPv4 address the guest was given).
//
// A PatternSet is built once (from DefaultPatterns() and/or configuration), is immutable afterwards
// and may be shared by any number of threads (std::regex is only read). A PatternMatcher belongs to
// one job and is used from one thread at a time (normally the recorder's line callback).
//
// Regexes are ECMAScript (std::regex), searched anywhere in a line (use ^ to anchor at the line
// start). Lines are the recorder's cleaned lines: no line end, no escape sequences.
//
// Default patterns (DefaultPatterns / DefaultPatternSpecs), with the real line each comes from.
// "F" = FreeBSD set, "L" = Linux set; GuestOs::kAny has both.
//
// Failures:
//   fsck-abort       F  `ERROR: ABORTING BOOT (sending SIGTERM to parent)!` — /etc/rc stop_boot,
//                       printed after every fsck failure (field notes). The lines before it —
//                       `fsck: exec fsck_devfs for devfs in /sbin:/usr/sbin: No such file or
//                       directory`, `Unknown error 1; help!` — are context: they land in the
//                       excerpt (and `fsck: exec ...` is the milestone fsck-exec-missing), and
//                       failing on `help!` would cut the excerpt one line before the verdict.
//   rc-aborted       F  `init: /bin/sh on /etc/rc terminated abnormally, going to single user mode`
//   single-user      F  `Enter full pathname of shell or RETURN for /bin/sh:` (an unterminated
//                       prompt: matched on the partial line)
//   mountroot        F  `mountroot> ` (root file system not found; a prompt, matched partial).
//                       Not `mountroot: waiting for device ...`, which is a normal delay.
//   panic            F  `panic: page fault` / `panic: vm_fault: fault on nofault entry` — `panic: `
//                       at the line start or after white space, followed by a message; not
//                       `nopanic:`, `kern.panic:`, `debugger_on_panic:`.
//   fatal-signal     F  `pid 262 (guile), jid 0, uid 0: exited on signal 11 (core dumped)` — the
//                       kernel logs this only for core-dumping signals (3-8, 10-12, 24, 25), so
//                       exactly those numbers match; `exited on signal 15` does not.
//   pam-init-failed  F L `PAM: initialisation failed` (OpenSSH sshd, auth-pam.c; the American
//                       spelling is accepted too)
//   kernel-panic     L  `Kernel panic - not syncing: VFS: Unable to mount root fs on ...`
//   emergency-mode   L  `You are in emergency mode. After logging in, type "journalctl -xb" ...`
//   and
//                       `Give root password for maintenance` (systemd emergency/rescue shell)
//   initramfs-shell  L  `ALERT!  /dev/sda1 does not exist.  Dropping to a shell!` and the
//                       `(initramfs) ` prompt
// Milestones:
//   kernel-banner    F  `Copyright (c) 1992-2024 The FreeBSD Project.` and
//                       `FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64` (at the
//                       line start; `FreeBSD/amd64 (host) (ttyu0)` from getty does not match)
//                    L  `Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) ...`
//   root-mount       F  `Trying to mount root from ufs:/dev/gpt/fruix-root [rw]...`
//   fsck-exec-missing F `fsck: exec fsck_devfs for devfs in /sbin:/usr/sbin: No such file or
//                       directory` (a warning; the verdict is fsck-abort)
//   rc-warning       F  `/etc/rc: WARNING: $hostname is not set -- see rc.conf(5).` (a warning,
//                       never a failure)
//   dhcp-ack         F L `DHCPACK from 192.168.213.1` (FreeBSD dhclient) and
//                       `DHCPACK of 10.0.0.5 from 10.0.0.1` (ISC dhclient on Linux)
//   sshd-started     F  `Starting sshd.`
//                    L  `Server listening on 0.0.0.0 port 22.`,
//                       `[  OK  ] Started ssh.service - OpenBSD Secure Shell server.`,
//                       `Started OpenSSH server daemon.`
//   login-prompt     F L `login: ` after `FreeBSD/amd64 (fruix-freebsd) (ttyu0)`, or
//                       `debian login: ` (prompts, matched partial)
//   marker           F L the configurable marker line, default `fruix: ready` (matched literally,
//                       anywhere in the line)
// Addresses (capture group 1 = the address):
//   dhcp-bound       F L `bound to 192.168.213.62 -- renewal in 43200 seconds.` (dhclient)
//   udhcpc-lease     L  `udhcpc: lease of 10.0.2.15 obtained, lease time 86400` (busybox)
//   networkd-dhcp4   L  `eth0: DHCPv4 address 10.0.0.5/24, gateway 10.0.0.1 acquired from ...`
//                       (systemd-networkd)
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"

namespace fruix::console {

enum class PatternKind { kMilestone, kFailure, kAddress };

// "milestone", "failure", "address".
std::string_view PatternKindName(PatternKind kind);
// Inverse of PatternKindName (exact, lower-case); kInvalidArgument naming the accepted words.
Result<PatternKind> ParsePatternKind(std::string_view text);

enum class GuestOs { kFreeBsd, kLinux, kAny };

// The marker line the shipped defaults look for.
inline constexpr std::string_view kDefaultMarkerLine = "fruix: ready";

// One pattern as configuration spells it.
struct PatternSpec {
  std::string name;  // unique within a set; [A-Za-z0-9_.-]+
  PatternKind kind = PatternKind::kMilestone;
  std::string regex;  // ECMAScript; kAddress patterns have exactly one capture group
};

// The default specs for `os`, in the order documented above, with `marker_line` as the marker
// (matched literally; an empty marker_line omits the marker pattern).
std::vector<PatternSpec> DefaultPatternSpecs(GuestOs os,
                                             std::string_view marker_line = kDefaultMarkerLine);

// A spec that matches `line` literally (regex metacharacters escaped).
PatternSpec LiteralPattern(std::string name, PatternKind kind, std::string_view line);

// `base` with `overrides` applied by name: a same-named override replaces the base spec in place,
// an override with an empty regex removes it, any other override is appended.
std::vector<PatternSpec> MergePatternSpecs(std::vector<PatternSpec> base,
                                           const std::vector<PatternSpec>& overrides);

class PatternSet {
 public:
  struct Pattern {
    std::string name;
    PatternKind kind;
    std::string source;  // the regex text as given
    std::regex regex;
  };

  // Compiles every spec. kInvalidArgument, naming the pattern and its regex, for: an empty or
  // malformed name, a duplicate name, an empty or malformed regex (with std::regex's reason), an
  // address pattern without exactly one capture group.
  static Result<PatternSet> Build(const std::vector<PatternSpec>& specs);

  const std::vector<Pattern>& patterns() const { return patterns_; }
  size_t size() const { return patterns_.size(); }

 private:
  std::vector<Pattern> patterns_;
};

// DefaultPatternSpecs(os, marker_line) compiled (the defaults are tested to compile; an invalid
// marker cannot occur since it is escaped).
std::shared_ptr<const PatternSet> DefaultPatterns(
    GuestOs os, std::string_view marker_line = kDefaultMarkerLine);

// True for a dotted-quad IPv4 host address: four decimal octets 0-255 without leading zeros, not
// 0.0.0.0 and not 255.255.255.255.
bool IsIpv4HostAddress(std::string_view text);

struct PatternMatch {
  std::string name;  // the pattern's name
  PatternKind kind = PatternKind::kMilestone;
  std::string line;          // the matching line (as fed; partial text for a partial line)
  bool partial = false;      // matched on a line not yet terminated
  uint64_t line_number = 0;  // 1-based count of the line among the lines fed to this matcher
  std::string address;       // kAddress: the validated IPv4 address; "" otherwise
  // Up to context_lines complete lines fed before this one, oldest first, then the line itself.
  std::vector<std::string> excerpt;
};

class PatternMatcher {
 public:
  // `set` must not be null. context_lines is how many previous lines an excerpt holds (30).
  explicit PatternMatcher(std::shared_ptr<const PatternSet> set, size_t context_lines = 30);

  // Feeds one line. `partial` = the line has no end yet (the recorder's partial delivery); the
  // same line comes again, longer or complete, and only the complete one enters the history.
  // Returns every pattern that matches this line and has not already fired on it (each pattern
  // fires at most once per line, whether first seen partial or complete), in set order. An
  // address pattern whose capture is not an IPv4 host address does not match.
  std::vector<PatternMatch> Feed(std::string_view line, bool partial);

  // Complete lines fed so far.
  uint64_t lines_fed() const { return lines_fed_; }

 private:
  std::shared_ptr<const PatternSet> set_;
  size_t context_lines_;
  std::deque<std::string> history_;  // the last context_lines complete lines
  std::vector<bool> fired_;          // per pattern, for the current (unterminated) line
  uint64_t lines_fed_ = 0;
};

}  // namespace fruix::console
