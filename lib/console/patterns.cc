#include "lib/console/patterns.h"

#include <algorithm>
#include <charconv>
#include <utility>

namespace fruix::console {
namespace {

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

std::string EscapeRegex(std::string_view text) {
  static constexpr std::string_view kSpecial = R"(\^$.|?*+()[]{}/)";
  std::string out;
  out.reserve(text.size() * 2);
  for (char c : text) {
    if (kSpecial.find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Shared pieces of the default regexes.
constexpr std::string_view kIpv4 = R"((\d{1,3}(?:\.\d{1,3}){3}))";

void Add(std::vector<PatternSpec>& out, std::string name, PatternKind kind, std::string regex) {
  out.push_back(PatternSpec{std::move(name), kind, std::move(regex)});
}

}  // namespace

std::string_view PatternKindName(PatternKind kind) {
  switch (kind) {
    case PatternKind::kMilestone:
      return "milestone";
    case PatternKind::kFailure:
      return "failure";
    case PatternKind::kAddress:
      return "address";
  }
  return "unknown";
}

Result<PatternKind> ParsePatternKind(std::string_view text) {
  for (PatternKind k : {PatternKind::kMilestone, PatternKind::kFailure, PatternKind::kAddress}) {
    if (text == PatternKindName(k)) return k;
  }
  return Error::InvalidArgument("pattern kind '" + std::string(text) +
                                "' is not one of milestone, failure, address");
}

std::vector<PatternSpec> DefaultPatternSpecs(GuestOs os, std::string_view marker_line) {
  const bool for_bsd = os == GuestOs::kFreeBsd || os == GuestOs::kAny;
  const bool for_linux = os == GuestOs::kLinux || os == GuestOs::kAny;
  const std::string ip(kIpv4);
  std::vector<PatternSpec> out;
  using K = PatternKind;
  // Failures (see the header for the real lines).
  if (for_bsd) {
    Add(out, "fsck-abort", K::kFailure, R"(ERROR: ABORTING BOOT)");
    Add(out, "rc-aborted", K::kFailure, R"(/etc/rc terminated abnormally)");
    Add(out, "single-user", K::kFailure, R"(Enter full pathname of shell or RETURN for /bin/sh)");
    Add(out, "mountroot", K::kFailure, R"(^\s*mountroot>)");
    Add(out, "panic", K::kFailure, R"((?:^|\s)panic: \S)");
    Add(out, "fatal-signal", K::kFailure, R"(\bexited on signal (?:[3-8]|1[0-2]|2[45])\b)");
  }
  Add(out, "pam-init-failed", K::kFailure, R"(PAM: initiali[sz]ation failed)");
  if (for_linux) {
    Add(out, "kernel-panic", K::kFailure, R"(Kernel panic - not syncing)");
    Add(out, "emergency-mode", K::kFailure,
        R"(You are in emergency mode|Give root password for maintenance)");
    Add(out, "initramfs-shell", K::kFailure, R"(Dropping to a shell!|^\(initramfs\) ?$)");
  }
  // Milestones.
  std::string banner;
  if (for_bsd) banner = R"(^FreeBSD \d+\.\d+-[A-Z]|Copyright \(c\) 1992-\d+ The FreeBSD Project)";
  if (for_linux) banner += std::string(banner.empty() ? "" : "|") + R"(^Linux version \d+\.\d+)";
  Add(out, "kernel-banner", K::kMilestone, banner);
  if (for_bsd) {
    Add(out, "root-mount", K::kMilestone, R"(^Trying to mount root from \S+)");
    Add(out, "fsck-exec-missing", K::kMilestone,
        R"(^fsck: exec fsck_\w+ for .*: No such file or directory)");
    Add(out, "rc-warning", K::kMilestone, R"(^/etc/rc: WARNING:)");
  }
  Add(out, "dhcp-ack", K::kMilestone,
      R"(\bDHCPACK (?:of \d{1,3}(?:\.\d{1,3}){3} )?from \d{1,3}(?:\.\d{1,3}){3})");
  std::string sshd;
  if (for_bsd) sshd = R"(^Starting sshd\.)";
  if (for_linux) {
    sshd +=
        std::string(sshd.empty() ? "" : "|") +
        R"(Server listening on \S+ port \d+|Started .*(?:OpenBSD Secure Shell|OpenSSH server daemon))";
  }
  Add(out, "sshd-started", K::kMilestone, sshd);
  Add(out, "login-prompt", K::kMilestone, R"(^(?:\S+ )?login: ?$)");
  if (!marker_line.empty()) {
    out.push_back(LiteralPattern("marker", K::kMilestone, marker_line));
  }
  // Addresses.
  Add(out, "dhcp-bound", K::kAddress, R"(\bbound to )" + ip + R"( -- renewal in)");
  if (for_linux) {
    Add(out, "udhcpc-lease", K::kAddress, R"(udhcpc: lease of )" + ip + R"( obtained)");
    Add(out, "networkd-dhcp4", K::kAddress, R"(: DHCPv4 address )" + ip + R"(/\d+)");
  }
  return out;
}

PatternSpec LiteralPattern(std::string name, PatternKind kind, std::string_view line) {
  return PatternSpec{std::move(name), kind, EscapeRegex(line)};
}

std::vector<PatternSpec> MergePatternSpecs(std::vector<PatternSpec> base,
                                           const std::vector<PatternSpec>& overrides) {
  for (const auto& o : overrides) {
    auto it = std::find_if(base.begin(), base.end(),
                           [&](const PatternSpec& b) { return b.name == o.name; });
    if (it == base.end()) {
      if (!o.regex.empty()) base.push_back(o);
    } else if (o.regex.empty()) {
      base.erase(it);
    } else {
      *it = o;
    }
  }
  return base;
}

Result<PatternSet> PatternSet::Build(const std::vector<PatternSpec>& specs) {
  PatternSet set;
  set.patterns_.reserve(specs.size());
  for (const auto& spec : specs) {
    std::string what =
        "console pattern '" + spec.name + "' (" + std::string(PatternKindName(spec.kind)) + ")";
    if (!IsValidName(spec.name)) {
      return Error::InvalidArgument("console pattern name '" + spec.name +
                                    "' must be 1-64 characters of A-Z a-z 0-9 _ . -");
    }
    for (const auto& p : set.patterns_) {
      if (p.name == spec.name) return Error::InvalidArgument(what + " is defined twice");
    }
    if (spec.regex.empty()) return Error::InvalidArgument(what + " has an empty regex");
    std::regex re;
    try {
      re = std::regex(spec.regex, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return Error::InvalidArgument(what + ": bad regex '" + spec.regex + "': " + e.what());
    }
    if (spec.kind == PatternKind::kAddress && re.mark_count() != 1) {
      return Error::InvalidArgument(what + ": regex '" + spec.regex +
                                    "' must have exactly one capture group (the IPv4 address), "
                                    "it has " +
                                    std::to_string(re.mark_count()) +
                                    "; use (?:...) for other groups");
    }
    set.patterns_.push_back(Pattern{spec.name, spec.kind, spec.regex, std::move(re)});
  }
  return set;
}

std::shared_ptr<const PatternSet> DefaultPatterns(GuestOs os, std::string_view marker_line) {
  auto set = PatternSet::Build(DefaultPatternSpecs(os, marker_line));
  if (!set.ok()) std::abort();  // the defaults are fixed text, tested to compile
  return std::make_shared<const PatternSet>(std::move(set).value());
}

bool IsIpv4HostAddress(std::string_view text) {
  uint32_t octets[4] = {0, 0, 0, 0};
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (pos >= text.size() || text[pos] != '.') return false;
      ++pos;
    }
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    size_t len = pos - start;
    if (len == 0 || len > 3) return false;
    if (len > 1 && text[start] == '0') return false;  // no leading zeros (octal ambiguity)
    std::from_chars(text.data() + start, text.data() + pos, octets[i]);
    if (octets[i] > 255) return false;
  }
  if (pos != text.size()) return false;
  bool all_zero = octets[0] == 0 && octets[1] == 0 && octets[2] == 0 && octets[3] == 0;
  bool all_ones = octets[0] == 255 && octets[1] == 255 && octets[2] == 255 && octets[3] == 255;
  return !all_zero && !all_ones;
}

PatternMatcher::PatternMatcher(std::shared_ptr<const PatternSet> set, size_t context_lines)
    : set_(std::move(set)), context_lines_(context_lines), fired_(set_->size(), false) {}

std::vector<PatternMatch> PatternMatcher::Feed(std::string_view line, bool partial) {
  std::vector<PatternMatch> matches;
  const auto& patterns = set_->patterns();
  const std::string text(line);
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (fired_[i]) continue;
    const auto& p = patterns[i];
    std::smatch m;
    bool found = false;
    try {
      found = std::regex_search(text, m, p.regex);
    } catch (const std::regex_error&) {
      found = false;  // complexity/stack limits on a pathological line: treat as no match
    }
    if (!found) continue;
    PatternMatch match;
    if (p.kind == PatternKind::kAddress) {
      std::string addr = m.size() > 1 ? m[1].str() : "";
      if (!IsIpv4HostAddress(addr)) continue;
      match.address = std::move(addr);
    }
    fired_[i] = true;
    match.name = p.name;
    match.kind = p.kind;
    match.line = text;
    match.partial = partial;
    match.line_number = lines_fed_ + 1;
    match.excerpt.reserve(history_.size() + 1);
    match.excerpt.assign(history_.begin(), history_.end());
    match.excerpt.push_back(text);
    matches.push_back(std::move(match));
  }
  if (!partial) {
    ++lines_fed_;
    std::fill(fired_.begin(), fired_.end(), false);
    if (context_lines_ > 0) {
      history_.push_back(text);
      while (history_.size() > context_lines_) history_.pop_front();
    }
  }
  return matches;
}

}  // namespace fruix::console
