#include "daemon/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <span>
#include <sstream>

#include "daemon/target_spec.h"
#include "lib/console/console_source.h"
#include "lib/console/patterns.h"
#include "lib/core/ids.h"
#include "lib/http/url.h"
#include "lib/job/address_book.h"
#include "lib/job/lease_file.h"
#include "lib/ssh/ssh_client.h"

namespace fruix::daemon {
namespace {

using Keys = std::span<const std::string_view>;

// The keys each table accepts. ConfigKeyPaths() and the unknown-key checks both come from here.
constexpr std::string_view kTopKeys[] = {"daemon", "pools", "defaults", "targets"};
constexpr std::string_view kDaemonKeys[] = {
    "socket",   "socket_mode",         "socket_group",    "state_dir",      "log_level",
    "log_file", "max_concurrent_jobs", "max_queued_jobs", "shutdown_grace", "lease_ttl",
    "owner",    "mutating_users",      "mutating_groups",
};
constexpr std::string_view kPoolKeys[] = {
    "url",     "user",       "password_file", "password_env",
    "ca_file", "pin_sha256", "insecure",      "call_timeout",
};
// Keys only a target has; [defaults] has the others.
constexpr std::string_view kTargetOnlyKeys[] = {"pool", "vm", "vdi", "network", "mac"};
constexpr std::string_view kSettingsKeys[] = {
    "start_on_host",          "format",  "zero_fill", "after_run", "shutdown",
    "clean_shutdown_timeout", "console", "address",   "ssh",       "timeouts",
};
// A target's keys: its own and the settings.
const std::vector<std::string_view>& TargetKeys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> k(std::begin(kTargetOnlyKeys), std::end(kTargetOnlyKeys));
    k.insert(k.end(), std::begin(kSettingsKeys), std::end(kSettingsKeys));
    return k;
  }();
  return keys;
}
constexpr std::string_view kConsoleKeys[] = {
    "kind",     "os",        "marker_line",   "boot_complete",        "patterns",   "dom0_user",
    "dom0_key", "dom0_port", "dom0_host_key", "dom0_connect_timeout", "hvm_serial",
};
constexpr std::string_view kPatternKeys[] = {"name", "kind", "regex", "literal"};
constexpr std::string_view kAddressKeys[] = {"sources", "lease_file", "static"};
constexpr std::string_view kSshKeys[] = {"enabled",
                                         "user",
                                         "key",
                                         "port",
                                         "host_key",
                                         "marker",
                                         "expected_marker",
                                         "probes",
                                         "connect_timeout",
                                         "command_timeout"};
constexpr std::string_view kTimeoutKeys[] = {
    "preflight", "prepare", "upload", "attach", "start", "boot", "network", "ssh",
};

constexpr size_t kMaxProblems = 50;
constexpr int64_t kMaxDurationMs = int64_t{366} * 24 * 3600 * 1000;
constexpr size_t kMaxConfigBytes = size_t{1} << 20;
constexpr size_t kMaxPasswordBytes = 4096;

std::string Join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string JoinWords(Keys words) {
  std::string out;
  for (auto w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

// A string as a TOML basic string would spell it ("..." with escapes), for messages.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

std::string_view TypeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// The value as written (scalars) or its kind (tables, arrays, dates), for messages.
std::string Describe(const toml::node& n) {
  if (const auto* s = n.as_string()) return Quote(s->get());
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* f = n.as_floating_point()) {
    std::ostringstream out;
    out << f->get();
    return out.str();
  }
  return std::string(TypeName(n.type()));
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

bool Contains(Keys keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

bool IsName(std::string_view s) {
  if (s.empty() || s.size() > 64 || std::isalnum(static_cast<unsigned char>(s[0])) == 0) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '.' || ch == '-';
  });
}

bool IsEnvName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])) != 0) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_';
  });
}

// A user or group name (or owner): no white space, ':' or ',', at most 64 bytes.
bool IsAccountName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c != 0x7f && ch != ':' && ch != ',';
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// "origin:line:col: path: problem", leaving out what is unknown.
std::string Locate(std::string_view origin, const toml::source_region* where, std::string_view path,
                   std::string_view problem) {
  std::string out(origin);
  if (where != nullptr && where->begin.line > 0) {
    out += ':' + std::to_string(where->begin.line) + ':' + std::to_string(where->begin.column);
  }
  out += ": ";
  if (!path.empty()) {
    out += path;
    out += ": ";
  }
  out += problem;
  return out;
}

// Collects the problems of one document (each reported once, in order of discovery) and the
// warnings.
class Problems {
 public:
  explicit Problems(std::string origin) : origin_(std::move(origin)) {}

  void Add(const toml::source_region* where, std::string_view path, std::string_view problem) {
    std::string line = Locate(origin_, where, path, problem);
    if (seen_.insert(line).second) lines_.push_back(std::move(line));
  }
  void Warn(const toml::source_region* where, std::string_view path, std::string_view problem) {
    std::string line = Locate(origin_, where, path, problem);
    if (seen_warnings_.insert(line).second) warnings_.push_back(std::move(line));
  }

  size_t count() const { return lines_.size(); }
  const std::string& origin() const { return origin_; }
  std::vector<std::string> TakeWarnings() { return std::move(warnings_); }

  Error ToError() const {
    std::string message;
    for (size_t i = 0; i < lines_.size() && i < kMaxProblems; ++i) {
      if (i > 0) message += '\n';
      message += lines_[i];
    }
    if (lines_.size() > kMaxProblems) {
      message += "\n... and " + std::to_string(lines_.size() - kMaxProblems) + " more problems";
    }
    return Error::InvalidArgument(std::move(message));
  }

 private:
  std::string origin_;
  std::vector<std::string> lines_;
  std::set<std::string> seen_;
  std::vector<std::string> warnings_;
  std::set<std::string> seen_warnings_;
};

// One table of the document with its key path.
struct Layer {
  const toml::table* table;
  std::string path;
};

// A value found under a key, with the path it was found at.
struct Field {
  const toml::node* node;
  std::string path;
};

template <typename T>
struct Got {
  T value;
  Field field;
};

// Reads keys from a stack of tables: a target's table over [defaults]'s (highest priority
// first). Every getter returns nullopt when the key is absent everywhere or its value is bad;
// a bad value is reported to Problems with the path of the layer it came from.
class Reader {
 public:
  Reader(std::vector<Layer> layers, std::string path, const toml::source_region* where,
         Problems& problems)
      : layers_(std::move(layers)), path_(std::move(path)), where_(where), problems_(problems) {
    if (!layers_.empty()) where_ = &layers_.front().table->source();
  }

  const std::string& path() const { return path_; }
  const toml::source_region* where() const { return where_; }
  bool empty() const { return layers_.empty(); }
  Problems& problems() const { return problems_; }

  std::optional<Field> Find(std::string_view key) const {
    for (const Layer& l : layers_) {
      if (const toml::node* n = l.table->get(key)) return Field{n, Join(l.path, key)};
    }
    return std::nullopt;
  }

  // Every layer's value of `key`, lowest priority first.
  std::vector<Field> FindAll(std::string_view key) const {
    std::vector<Field> out;
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
      if (const toml::node* n = it->table->get(key)) out.push_back({n, Join(it->path, key)});
    }
    return out;
  }

  Reader Sub(std::string_view key) const {
    std::vector<Layer> sub;
    for (const Layer& l : layers_) {
      const toml::node* n = l.table->get(key);
      if (n == nullptr) continue;
      if (const toml::table* t = n->as_table()) {
        sub.push_back({t, Join(l.path, key)});
      } else {
        WrongType({n, Join(l.path, key)}, "a table");
      }
    }
    return Reader(std::move(sub), Join(path_, key), where_, problems_);
  }

  // Reports every key of every layer that is not in `known`.
  void CheckKeys(Keys known) const {
    for (const Layer& l : layers_) {
      for (auto&& [key, value] : *l.table) {
        (void)value;
        if (Contains(known, key.str())) continue;
        std::string problem = "unknown key";
        std::string_view best;
        size_t best_distance = 3;
        for (auto k : known) {
          size_t d = EditDistance(key.str(), k);
          if (d < best_distance) {
            best_distance = d;
            best = k;
          }
        }
        if (!best.empty()) {
          problem += " (did you mean " + std::string(best) + "?)";
        } else {
          problem += " (expected one of: " + JoinWords(known) + ")";
        }
        problems_.Add(&key.source(), Join(l.path, key.str()), problem);
      }
    }
  }

  void Bad(const Field& f, std::string_view problem) const {
    problems_.Add(&f.node->source(), f.path, problem);
  }
  void WrongType(const Field& f, std::string_view want) const {
    std::string got = Describe(*f.node);
    std::string_view type = TypeName(f.node->type());
    if (got != type) got += " (" + std::string(type) + ")";
    Bad(f, "expected " + std::string(want) + ", got " + got);
  }
  void Missing(std::string_view key, std::string_view what) const {
    problems_.Add(where_, Join(path_, key), "missing (required: " + std::string(what) + ")");
  }

  std::optional<Got<std::string>> Str(std::string_view key) const {
    auto f = Find(key);
    if (!f) return std::nullopt;
    if (const auto* s = f->node->as_string()) return Got<std::string>{s->get(), *f};
    WrongType(*f, "a string");
    return std::nullopt;
  }

  std::optional<Got<std::string>> NonEmptyStr(std::string_view key) const {
    auto s = Str(key);
    if (s && s->value.empty()) {
      Bad(s->field, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  std::optional<bool> Bool(std::string_view key) const {
    auto f = Find(key);
    if (!f) return std::nullopt;
    if (const auto* b = f->node->as_boolean()) return b->get();
    WrongType(*f, "true or false");
    return std::nullopt;
  }

  std::optional<int64_t> Int(std::string_view key, int64_t min, int64_t max) const {
    auto f = Find(key);
    if (!f) return std::nullopt;
    const auto* i = f->node->as_integer();
    if (i == nullptr) {
      WrongType(*f, "an integer");
      return std::nullopt;
    }
    if (i->get() < min || i->get() > max) {
      Bad(*f, std::to_string(i->get()) + " is out of range (" + std::to_string(min) + "-" +
                  std::to_string(max) + ")");
      return std::nullopt;
    }
    return i->get();
  }

  // A duration string or an integer of seconds, at least `min`.
  std::optional<milliseconds> Duration(std::string_view key, milliseconds min) const {
    auto f = Find(key);
    if (!f) return std::nullopt;
    milliseconds d{0};
    if (const auto* i = f->node->as_integer()) {
      if (i->get() < 0 || i->get() > kMaxDurationMs / 1000) {
        Bad(*f, std::to_string(i->get()) + " seconds is not a duration (0 to 366 days)");
        return std::nullopt;
      }
      d = std::chrono::seconds(i->get());
    } else if (const auto* s = f->node->as_string()) {
      auto parsed = ParseDuration(s->get());
      if (!parsed.ok()) {
        Bad(*f, parsed.error().message());
        return std::nullopt;
      }
      d = *parsed;
    } else {
      WrongType(*f, "a duration (\"90s\", \"5m\", ...) or an integer of seconds");
      return std::nullopt;
    }
    if (d < min) {
      Bad(*f, Describe(*f->node) + " is too short (at least " + FormatDuration(min) + ")");
      return std::nullopt;
    }
    return d;
  }

  std::optional<std::vector<std::string>> StrList(std::string_view key,
                                                  bool allow_empty_items) const {
    auto f = Find(key);
    if (!f) return std::nullopt;
    const auto* a = f->node->as_array();
    if (a == nullptr) {
      WrongType(*f, "an array of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (size_t i = 0; i < a->size(); ++i) {
      Field item{a->get(i), f->path + "[" + std::to_string(i) + "]"};
      if (const auto* s = item.node->as_string()) {
        if (!allow_empty_items && s->get().empty()) {
          Bad(item, "must not be empty");
          ok = false;
        }
        out.push_back(s->get());
      } else {
        WrongType(item, "a string");
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // An absolute path, or "" when allow_empty.
  std::optional<std::string> AbsPath(std::string_view key, bool allow_empty) const {
    auto s = Str(key);
    if (!s) return std::nullopt;
    if (s->value.empty() && allow_empty) return s->value;
    if (s->value.empty() || s->value.front() != '/') {
      Bad(s->field, Quote(s->value) + " must be an absolute path");
      return std::nullopt;
    }
    return s->value;
  }

  // A uuid (returned lower-case), or "" when allow_empty.
  std::optional<std::string> UuidValue(std::string_view key, bool allow_empty) const {
    auto s = Str(key);
    if (!s) return std::nullopt;
    if (s->value.empty() && allow_empty) return s->value;
    if (!IsUuidString(s->value)) {
      Bad(s->field, Quote(s->value) + " is not a uuid (8-4-4-4-12 hex digits)");
      return std::nullopt;
    }
    return Lower(s->value);
  }

  // One of `words`, mapped by `parse` (which returns an optional-like value).
  template <typename T, typename Parse>
  std::optional<T> Enum(std::string_view key, Keys words, Parse parse) const {
    auto s = Str(key);
    if (!s) return std::nullopt;
    std::optional<T> v = parse(s->value);
    if (!v) Bad(s->field, Quote(s->value) + " is not one of " + JoinWords(words));
    return v;
  }

  // "record" or a host-key fingerprint (ssh::ParseHostKeyFingerprint).
  std::optional<ssh::HostKeyPolicy> HostKey(std::string_view key) const {
    auto s = Str(key);
    if (!s) return std::nullopt;
    if (s->value == "record") return ssh::HostKeyPolicy{};
    auto fp = ssh::ParseHostKeyFingerprint(s->value);
    if (!fp.ok()) {
      Bad(s->field, Quote(s->value) +
                        " is neither \"record\" nor a SHA-256 host-key fingerprint "
                        "(\"SHA256:<base64>\" as ssh-keygen -lf prints it, or 64 hex digits)");
      return std::nullopt;
    }
    return ssh::HostKeyPolicy{ssh::HostKeyMode::kPin, *fp};
  }

 private:
  std::vector<Layer> layers_;  // highest priority first
  std::string path_;           // the path of this scope in the highest-priority layer
  const toml::source_region* where_;
  Problems& problems_;
};

template <typename T>
std::optional<T> FromResult(Result<T> r) {
  if (!r.ok()) return std::nullopt;
  return std::move(r).value();
}

constexpr std::string_view kFormatWords[] = {"vhd", "raw", "raw-chunked"};
constexpr std::string_view kZeroFillWords[] = {"previous", "full", "none"};
constexpr std::string_view kAfterRunWords[] = {"leave-running", "shutdown", "shutdown-on-success"};
constexpr std::string_view kShutdownWords[] = {"clean-then-hard", "clean", "hard", "refuse"};
constexpr std::string_view kConsoleKindWords[] = {console::kXapiVt100Kind, console::kDom0SshKind,
                                                  console::kNoneKind};
constexpr std::string_view kOsWords[] = {"freebsd", "linux", "any"};
constexpr std::string_view kPatternKindWords[] = {"failure", "milestone", "address"};
constexpr std::string_view kAddressSourceWords[] = {"guest-metrics", "console", "lease-file",
                                                    "static"};
constexpr std::string_view kLogLevelWords[] = {"trace", "debug", "info", "warn", "error"};

std::optional<console::GuestOs> ParseGuestOs(std::string_view s) {
  if (s == "freebsd") return console::GuestOs::kFreeBsd;
  if (s == "linux") return console::GuestOs::kLinux;
  if (s == "any") return console::GuestOs::kAny;
  return std::nullopt;
}

std::optional<std::string> ParseConsoleKind(std::string_view s) {
  if (Contains(kConsoleKindWords, s)) return std::string(s);
  return std::nullopt;
}

void ParsePatterns(const Reader& c, std::vector<console::PatternSpec>& out) {
  // [defaults] patterns first, then the target's: MergePatternSpecs applies them in order.
  for (const Field& f : c.FindAll("patterns")) {
    const auto* a = f.node->as_array();
    if (a == nullptr) {
      c.WrongType(f, "an array of tables {name, kind, regex | literal}");
      continue;
    }
    for (size_t i = 0; i < a->size(); ++i) {
      Field item{a->get(i), f.path + "[" + std::to_string(i) + "]"};
      const auto* t = item.node->as_table();
      if (t == nullptr) {
        c.WrongType(item, "a table {name, kind, regex | literal}");
        continue;
      }
      Reader p({{t, item.path}}, item.path, &t->source(), c.problems());
      p.CheckKeys(kPatternKeys);
      size_t before = c.problems().count();
      console::PatternSpec spec;
      if (auto name = p.NonEmptyStr("name")) {
        spec.name = name->value;
      } else if (!p.Find("name")) {
        p.Missing("name", "the pattern's name");
      }
      if (auto kind = p.Enum<console::PatternKind>("kind", kPatternKindWords, [](auto s) {
            return FromResult(console::ParsePatternKind(s));
          })) {
        spec.kind = *kind;
      }
      auto regex = p.Str("regex");
      auto literal = p.Str("literal");
      if (regex && literal) {
        p.Bad(literal->field, "cannot be combined with regex (give one of them)");
      } else if (regex) {
        spec.regex = regex->value;  // "" removes a built-in pattern of that name
      } else if (literal) {
        if (literal->value.empty()) {
          p.Bad(literal->field, "must not be empty (regex = \"\" removes a pattern)");
        } else {
          spec = console::LiteralPattern(spec.name, spec.kind, literal->value);
        }
      } else if (!p.Find("regex") && !p.Find("literal")) {
        p.Missing("regex", "regex or literal; regex = \"\" removes a built-in pattern");
      }
      if (c.problems().count() != before) continue;
      if (!spec.regex.empty()) {  // the pattern on its own: name, regex, capture group
        auto alone = console::PatternSet::Build({spec});
        if (!alone.ok()) {
          c.Bad(item, alone.error().message());
          continue;
        }
      }
      out.push_back(std::move(spec));
    }
  }
}

void ParseConsole(const Reader& r, job::ConsoleSpec& spec) {
  Reader c = r.Sub("console");
  c.CheckKeys(kConsoleKeys);
  size_t before = c.problems().count();
  if (auto v = c.Enum<std::string>("kind", kConsoleKindWords, ParseConsoleKind)) spec.kind = *v;
  if (auto v = c.Enum<console::GuestOs>("os", kOsWords, ParseGuestOs)) spec.os = *v;
  if (auto v = c.Str("marker_line")) spec.marker_line = v->value;
  auto boot_complete = c.StrList("boot_complete", false);
  if (boot_complete) spec.boot_complete = *boot_complete;
  ParsePatterns(c, spec.overrides);
  if (auto v = c.NonEmptyStr("dom0_user")) spec.dom0.user = v->value;
  if (auto v = c.AbsPath("dom0_key", true)) spec.dom0.private_key_file = *v;
  if (auto v = c.Int("dom0_port", 1, 65535)) spec.dom0.port = static_cast<uint16_t>(*v);
  if (auto v = c.HostKey("dom0_host_key")) spec.dom0.host_key = *v;
  if (auto v = c.Duration("dom0_connect_timeout", milliseconds(1))) spec.dom0.connect_timeout = *v;
  if (auto v = c.Bool("hvm_serial")) spec.hvm_serial = *v;
  if (c.problems().count() != before || spec.kind == console::kNoneKind) return;

  // The patterns the job will use must compile, and boot_complete must name milestones of them.
  auto specs = console::MergePatternSpecs(console::DefaultPatternSpecs(spec.os, spec.marker_line),
                                          spec.overrides);
  auto set = console::PatternSet::Build(specs);
  if (!set.ok()) {
    auto f = c.Find("patterns");
    c.problems().Add(f ? &f->node->source() : c.where(), Join(c.path(), "patterns"),
                     set.error().message());
    return;
  }
  std::vector<std::string_view> milestones;
  for (const auto& p : set->patterns()) {
    if (p.kind == console::PatternKind::kMilestone) milestones.push_back(p.name);
  }
  auto is_milestone = [&](const std::string& name) {
    return std::find(milestones.begin(), milestones.end(), name) != milestones.end();
  };
  if (boot_complete) {
    auto f = c.Find("boot_complete");
    for (const auto& name : spec.boot_complete) {
      if (!is_milestone(name)) {
        c.Bad(*f, Quote(name) +
                      " is not a milestone pattern (milestones: " + JoinWords(milestones) + ")");
      }
    }
  } else {
    // The built-in list names patterns an empty marker_line or a removal may have dropped.
    std::erase_if(spec.boot_complete, [&](const std::string& n) { return !is_milestone(n); });
  }
}

void ParseAddress(const Reader& r, job::AddressSpec& spec) {
  Reader a = r.Sub("address");
  a.CheckKeys(kAddressKeys);
  if (auto sources = a.StrList("sources", false)) {
    auto f = a.Find("sources");
    std::vector<job::AddressSource> parsed;
    bool ok = true;
    for (const auto& s : *sources) {
      auto source = job::ParseAddressSource(s);
      if (!source) {
        a.Bad(*f, Quote(s) + " is not one of " + JoinWords(kAddressSourceWords));
        ok = false;
      } else if (std::find(parsed.begin(), parsed.end(), *source) != parsed.end()) {
        a.Bad(*f, Quote(s) + " is listed twice");
        ok = false;
      } else {
        parsed.push_back(*source);
      }
    }
    if (ok && parsed.empty()) {
      a.Bad(*f, "must name at least one source (" + JoinWords(kAddressSourceWords) + ")");
    } else if (ok) {
      spec.sources = std::move(parsed);
    }
  }
  if (auto v = a.AbsPath("lease_file", true)) spec.lease_file = *v;
  if (auto v = a.Str("static")) {
    if (!v->value.empty() && !console::IsIpv4HostAddress(v->value)) {
      a.Bad(v->field, Quote(v->value) + " is not an IPv4 host address");
    } else {
      spec.static_address = v->value;
    }
  }
}

void ParseSsh(const Reader& r, std::optional<ssh::ReadinessSpec>& out) {
  Reader s = r.Sub("ssh");
  s.CheckKeys(kSshKeys);
  ssh::ReadinessSpec spec = out.value_or(ssh::ReadinessSpec{});
  bool enabled = s.Bool("enabled").value_or(true);
  if (auto v = s.NonEmptyStr("user")) spec.endpoint.user = v->value;
  if (auto v = s.AbsPath("key", true)) spec.endpoint.private_key_file = *v;
  if (auto v = s.Int("port", 1, 65535)) spec.endpoint.port = static_cast<uint16_t>(*v);
  if (auto v = s.HostKey("host_key")) spec.endpoint.host_key = *v;
  if (auto v = s.AbsPath("marker", false)) spec.marker_path = *v;
  if (auto v = s.Str("expected_marker")) {
    if (v->value.empty()) {
      spec.expected_marker.reset();
    } else {
      spec.expected_marker = v->value;
    }
  }
  if (auto v = s.StrList("probes", false)) spec.probes = *v;
  if (auto v = s.Duration("connect_timeout", milliseconds(1))) spec.endpoint.connect_timeout = *v;
  if (auto v = s.Duration("command_timeout", milliseconds(1))) spec.command_timeout = *v;
  if (enabled) {
    out = std::move(spec);
  } else {
    out.reset();
  }
}

void ParseTimeouts(const Reader& r, job::PhaseTimeouts& t) {
  Reader tr = r.Sub("timeouts");
  tr.CheckKeys(kTimeoutKeys);
  milliseconds* slots[] = {&t.preflight, &t.prepare, &t.upload,  &t.attach,
                           &t.start,     &t.boot,    &t.network, &t.ssh};
  static_assert(std::size(kTimeoutKeys) == job::kWorkingPhases.size());
  for (size_t i = 0; i < std::size(kTimeoutKeys); ++i) {
    if (auto v = tr.Duration(kTimeoutKeys[i], milliseconds(1))) *slots[i] = *v;
  }
}

void ParseSettings(const Reader& r, DeploySettings& s) {
  if (auto v = r.UuidValue("start_on_host", true)) s.start_on_host = *v;
  if (auto v = r.Enum<image::StreamFormat>(
          "format", kFormatWords, [](auto x) { return FromResult(image::ParseStreamFormat(x)); })) {
    s.format = *v;
  }
  if (auto v = r.Enum<image::ZeroFill>("zero_fill", kZeroFillWords, [](auto x) {
        return FromResult(image::ParseZeroFill(x));
      })) {
    s.zero_fill = *v;
  }
  if (auto v = r.Enum<job::AfterRun>("after_run", kAfterRunWords, job::ParseAfterRun)) {
    s.after_run = *v;
  }
  if (auto v = r.Enum<job::ShutdownPolicy>("shutdown", kShutdownWords, job::ParseShutdownPolicy)) {
    s.shutdown = *v;
  }
  if (auto v = r.Duration("clean_shutdown_timeout", milliseconds(1))) {
    s.clean_shutdown_timeout = *v;
  }
  ParseConsole(r, s.console);
  ParseAddress(r, s.address);
  ParseSsh(r, s.ssh);
  ParseTimeouts(r, s.timeouts);
}

// socket_mode: an octal string, or an integer written in TOML's octal form (0o660); a decimal
// integer is refused since 660 would not mean what it looks like.
std::optional<uint32_t> SocketMode(const Reader& d, const Field& f) {
  if (const auto* s = f.node->as_string()) {
    auto mode = ParseFileMode(s->get());
    if (mode.ok()) return *mode;
    d.Bad(f, mode.error().message());
    return std::nullopt;
  }
  const auto* i = f.node->as_integer();
  if (i == nullptr) {
    d.WrongType(f, "an octal mode string such as \"0660\"");
    return std::nullopt;
  }
  if ((i->flags() & toml::value_flags::format_as_octal) == toml::value_flags::none) {
    d.Bad(f, Describe(*f.node) +
                 " is a decimal number; write the mode in octal, as \"0660\" or 0o660");
    return std::nullopt;
  }
  if (i->get() < 0 || i->get() > 0777) {
    std::ostringstream octal;
    octal << "0o" << std::oct << i->get();
    d.Bad(f, octal.str() + " is not a permission mode (at most 0777)");
    return std::nullopt;
  }
  return static_cast<uint32_t>(i->get());
}

void ParseDaemon(const Reader& d, DaemonConfig& c) {
  d.CheckKeys(kDaemonKeys);
  if (auto v = d.AbsPath("socket", false)) c.socket = *v;
  if (auto f = d.Find("socket_mode")) {
    if (auto mode = SocketMode(d, *f)) c.socket_mode = *mode;
  }
  if (auto v = d.Str("socket_group")) {
    if (!v->value.empty() && !IsAccountName(v->value)) {
      d.Bad(v->field, Quote(v->value) + " is not a group name");
    } else {
      c.socket_group = v->value;
    }
  }
  if (auto v = d.AbsPath("state_dir", false)) c.state_dir = *v;
  if (auto v = d.Enum<LogLevel>("log_level", kLogLevelWords, ParseLogLevel)) c.log_level = *v;
  if (auto v = d.AbsPath("log_file", true)) c.log_file = *v;
  if (auto v = d.Int("max_concurrent_jobs", 1, 256)) c.max_concurrent_jobs = static_cast<int>(*v);
  if (auto v = d.Int("max_queued_jobs", 0, 10000)) c.max_queued_jobs = static_cast<int>(*v);
  if (auto v = d.Duration("shutdown_grace", milliseconds(0))) c.shutdown_grace = *v;
  if (auto v = d.Duration("lease_ttl", std::chrono::seconds(10))) c.lease_ttl = *v;
  if (auto v = d.Str("owner")) {
    if (!v->value.empty() && !IsAccountName(v->value)) {
      d.Bad(v->field, Quote(v->value) + " is not a valid owner name (no spaces, ':' or ',')");
    } else {
      c.owner = v->value;
    }
  }
  for (auto [key, list] : {std::pair{"mutating_users", &c.mutating_users},
                           std::pair{"mutating_groups", &c.mutating_groups}}) {
    auto names = d.StrList(key, false);
    if (!names) continue;
    bool ok = true;
    for (const auto& n : *names) {
      if (!IsAccountName(n)) {
        d.Bad(*d.Find(key), Quote(n) + " is not a user or group name");
        ok = false;
      }
    }
    if (ok) *list = std::move(*names);
  }
}

void ParsePool(const Reader& p, PoolConfig& pool) {
  p.CheckKeys(kPoolKeys);
  if (auto v = p.Str("url")) {
    auto url = http::Url::Parse(v->value);
    if (!url.ok()) {
      p.Bad(v->field,
            Quote(v->value) + " is not an http:// or https:// URL (" + url.error().message() + ")");
    } else {
      pool.url = v->value;
    }
  } else if (!p.Find("url")) {
    p.Missing("url", "the pool master's https:// URL");
  }
  if (auto v = p.NonEmptyStr("user")) pool.user = v->value;
  auto file = p.Find("password_file");
  auto env = p.Find("password_env");
  if (file && env) {
    p.Bad(*env, "password_file and password_env exclude each other (give exactly one)");
  } else if (!file && !env) {
    p.Missing("password_file", "password_file or password_env");
  }
  if (auto v = p.AbsPath("password_file", false)) pool.password_file = *v;
  if (auto v = p.Str("password_env")) {
    if (!IsEnvName(v->value)) {
      p.Bad(v->field, Quote(v->value) + " is not an environment variable name");
    } else {
      pool.password_env = v->value;
    }
  }
  if (auto v = p.AbsPath("ca_file", false)) pool.tls.ca_file = *v;
  if (auto v = p.Str("pin_sha256")) {
    auto fp = http::ParseSha256Fingerprint(v->value);
    if (!fp.ok()) {
      p.Bad(v->field, Quote(v->value) +
                          " is not a SHA-256 certificate fingerprint (\"AB:CD:...\" as openssl "
                          "x509 -fingerprint -sha256 prints it, or 64 hex digits)");
    } else {
      pool.tls.pin_sha256 = http::FormatSha256Fingerprint(*fp);
    }
  }
  if (auto v = p.Bool("insecure")) {
    pool.tls.insecure = *v;
    pool.tls.verify = !*v;
  }
  if (auto v = p.Duration("call_timeout", milliseconds(1))) pool.call_timeout = *v;

  auto pin = p.Find("pin_sha256");
  auto ca = p.Find("ca_file");
  auto insecure = p.Find("insecure");
  if (pin && ca) {
    p.Bad(*pin, "cannot be combined with ca_file (a pin replaces chain verification)");
  }
  if (pool.tls.insecure && (pin || ca)) {
    p.Bad(*insecure,
          "insecure = true cannot be combined with " + std::string(pin ? "pin_sha256" : "ca_file"));
  }
  auto tls = http::ValidateTlsOptions(pool.tls);
  if (!tls.ok()) p.problems().Add(p.where(), p.path(), tls.error().message());

  if (pool.tls.insecure) {
    p.problems().Warn(&insecure->node->source(), insecure->path,
                      "TLS verification is off: the pool's certificate is not checked");
  }
  if (!pool.url.empty() && Lower(pool.url).rfind("http://", 0) == 0) {
    auto url = p.Find("url");
    p.problems().Warn(&url->node->source(), url->path,
                      "plain http: the pool password travels unencrypted");
    if (pin || ca) {
      auto f = pin ? pin : ca;
      p.problems().Warn(&f->node->source(), f->path, "ignored for an http:// URL");
    }
  }
}

void ParseTarget(const Reader& own, const Reader& merged, const toml::table& pools,
                 TargetConfig& t) {
  merged.CheckKeys(TargetKeys());
  if (auto v = own.NonEmptyStr("pool")) {
    if (pools.get(v->value) == nullptr) {
      std::vector<std::string_view> names;
      for (auto&& [k, n] : pools) {
        (void)n;
        names.push_back(k.str());
      }
      own.Bad(v->field, Quote(v->value) + " is not a configured pool (configured: " +
                            (names.empty() ? std::string("none") : JoinWords(names)) + ")");
    } else {
      t.pool = v->value;
    }
  } else if (!own.Find("pool")) {
    own.Missing("pool", "the name of a [pools.NAME] table");
  }
  struct {
    std::string_view key;
    std::string* out;
  } const uuids[] = {{"vm", &t.vm_uuid}, {"vdi", &t.vdi_uuid}, {"network", &t.network_uuid}};
  for (const auto& u : uuids) {
    if (auto v = own.UuidValue(u.key, false)) {
      *u.out = *v;
    } else if (!own.Find(u.key)) {
      own.Missing(u.key, "the " + std::string(u.key) + "'s uuid");
    }
  }
  if (auto v = own.Str("mac")) {
    if (!v->value.empty() && !job::IsMacAddress(v->value)) {
      own.Bad(v->field, Quote(v->value) + " is not a MAC address (aa:bb:cc:dd:ee:ff)");
    } else {
      t.mac = job::NormalizeMac(v->value);
    }
  }
  ParseSettings(merged, t.settings);
}

const toml::table* TableOf(const Reader& root, std::string_view key) {
  auto f = root.Find(key);
  if (!f) return nullptr;
  if (const auto* t = f->node->as_table()) return t;
  root.WrongType(*f, "a table");
  return nullptr;
}

Result<Config> ParseDocument(const toml::table& doc, Config config) {
  Problems problems(config.origin);
  Reader root({{&doc, ""}}, "", nullptr, problems);
  root.CheckKeys(kTopKeys);

  ParseDaemon(root.Sub("daemon"), config.daemon);
  if (config.daemon.socket_mode & 0002) {
    auto f = root.Sub("daemon").Find("socket_mode");
    problems.Warn(f ? &f->node->source() : nullptr, "daemon.socket_mode",
                  "the socket is world-writable: any local user can connect");
  }

  static const toml::table kEmpty;
  const toml::table* pools = TableOf(root, "pools");
  for (auto&& [name, node] : pools ? *pools : kEmpty) {
    std::string path = Join("pools", name.str());
    if (!IsName(name.str())) {
      problems.Add(&name.source(), path,
                   "a pool name is 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter "
                   "or digit");
    }
    const auto* t = node.as_table();
    if (t == nullptr) {
      root.WrongType({&node, path}, "a table");
      continue;
    }
    PoolConfig pool;
    pool.name = std::string(name.str());
    ParsePool(Reader({{t, path}}, path, &t->source(), problems), pool);
    config.pools.emplace(pool.name, std::move(pool));
  }

  const toml::table* defaults = TableOf(root, "defaults");
  size_t before_defaults = problems.count();
  if (defaults != nullptr) {
    Reader d({{defaults, "defaults"}}, "defaults", &defaults->source(), problems);
    for (auto key : kTargetOnlyKeys) {
      if (auto f = d.Find(key)) {
        d.Bad(*f, std::string(key) + " belongs to a target, not to [defaults]" +
                      (key == "mac" ? " (a MAC address is one VM's)" : ""));
      }
    }
    d.CheckKeys(TargetKeys());  // the target-only keys were reported just above
    ParseSettings(d, config.defaults);
  }
  if (problems.count() == before_defaults && !config.pools.empty()) {
    // Explicit deploys use [defaults] as it is: say so when that cannot make a runnable job.
    TargetConfig probe;
    probe.vm_uuid = probe.vdi_uuid = probe.network_uuid = "00000000-0000-4000-8000-000000000000";
    probe.settings = config.defaults;
    auto spec = BuildJobSpec(probe, {}, "/run/fruixd/console.log");
    if (!spec.ok()) {
      problems.Warn(defaults ? &defaults->source() : nullptr, "defaults",
                    "explicit deploys (no target) will be refused: " + spec.error().message());
    }
  }

  const toml::table* targets = TableOf(root, "targets");
  for (auto&& [name, node] : targets ? *targets : kEmpty) {
    std::string path = Join("targets", name.str());
    if (!IsName(name.str())) {
      problems.Add(&name.source(), path,
                   "a target name is 1-64 characters of A-Z a-z 0-9 _ . - starting with a "
                   "letter or digit");
    }
    const auto* t = node.as_table();
    if (t == nullptr) {
      root.WrongType({&node, path}, "a table");
      continue;
    }
    std::vector<Layer> layers = {{t, path}};
    if (defaults != nullptr) layers.push_back({defaults, "defaults"});
    Reader own({{t, path}}, path, &t->source(), problems);
    Reader merged(std::move(layers), path, &t->source(), problems);
    TargetConfig target;
    target.name = std::string(name.str());
    size_t before = problems.count();
    ParseTarget(own, merged, pools ? *pools : kEmpty, target);
    if (problems.count() == before) {
      auto spec = BuildJobSpec(target, {}, "/run/fruixd/console.log");
      if (!spec.ok()) problems.Add(&t->source(), path, spec.error().message());
    }
    config.targets.emplace(target.name, std::move(target));
  }

  if (problems.count() > 0) return problems.ToError();
  config.warnings = problems.TakeWarnings();
  return config;
}

}  // namespace

std::string_view ToString(LogLevel level) { return kLogLevelWords[static_cast<size_t>(level)]; }

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (size_t i = 0; i < std::size(kLogLevelWords); ++i) {
    if (kLogLevelWords[i] == name) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

const PoolConfig* Config::FindPool(std::string_view name) const {
  auto it = pools.find(name);
  return it == pools.end() ? nullptr : &it->second;
}

const TargetConfig* Config::FindTarget(std::string_view name) const {
  auto it = targets.find(name);
  return it == targets.end() ? nullptr : &it->second;
}

Result<Config> ParseConfig(std::string_view text, std::string origin) {
  Config config;
  config.origin = std::move(origin);
  toml::table doc;
  try {
    doc = toml::parse(text, config.origin);
  } catch (const toml::parse_error& e) {
    return Error::InvalidArgument(
        Locate(config.origin, &e.source(), "", "TOML syntax: " + std::string(e.description())));
  }
  return ParseDocument(doc, std::move(config));
}

Result<Config> LoadConfig(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error::Io("cannot read config " + path.string() + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) {
      return Error::Io("config " + path.string() + " is larger than 1 MiB");
    }
  }
  if (in.bad()) return Error::Io("cannot read config " + path.string());
  return ParseConfig(text, path.string());
}

Result<milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error::InvalidArgument(
        Quote(text) + " is not a duration" + std::string(why) +
        " (write e.g. \"250ms\", \"90s\", \"5m\", \"4h\", \"1h30m\", or an integer of seconds)");
  };
  struct Unit {
    std::string_view name;
    int64_t ms;
  };
  static constexpr Unit kUnits[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
  if (text.empty()) return bad("");
  int64_t total = 0;
  int last = -1;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) ++i;
    if (i == start) return bad("");
    if (i - start > 9) return bad(": number too large");
    int64_t n = 0;
    for (size_t k = start; k < i; ++k) n = n * 10 + (text[k] - '0');
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])) != 0) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit.empty() && i < text.size()) return bad(": unexpected " + Quote(text.substr(i, 1)));
    if (unit.empty()) return bad(": a unit (h, m, s, ms) is missing");
    int rank = -1;
    for (int u = 0; u < static_cast<int>(std::size(kUnits)); ++u) {
      if (kUnits[u].name == unit) rank = u;
    }
    if (rank < 0) return bad(": unknown unit " + Quote(unit) + " (h, m, s, ms)");
    if (rank <= last) return bad(": units must come largest first, each at most once");
    last = rank;
    total += n * kUnits[rank].ms;
    if (total > kMaxDurationMs) return bad(": longer than 366 days");
  }
  return milliseconds(total);
}

std::string FormatDuration(milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  struct Unit {
    const char* name;
    int64_t ms;
  };
  for (Unit u : {Unit{"h", 3600000}, Unit{"m", 60000}, Unit{"s", 1000}, Unit{"ms", 1}}) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  return out;
}

Result<uint32_t> ParseFileMode(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("0o")) digits.remove_prefix(2);
  bool ok = !digits.empty() && digits.size() <= 4;
  uint32_t mode = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '7') {
      ok = false;
      break;
    }
    mode = mode * 8 + static_cast<uint32_t>(ch - '0');
  }
  if (!ok || mode > 0777) {
    return Error::InvalidArgument(Quote(text) +
                                  " is not a permission mode (octal, at most 0777, e.g. \"0660\")");
  }
  return mode;
}

Result<std::string> ReadPoolPassword(const PoolConfig& pool) {
  std::string where = "password of pool " + pool.name;
  std::string password;
  if (!pool.password_file.empty()) {
    const std::string& path = pool.password_file;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
      return Error::Io(where + ": cannot open " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Error::Io(where + ": " + path + " is not a regular file");
    }
    if ((st.st_mode & S_IROTH) != 0) {
      ::close(fd);
      return Error::PermissionDenied(where + ": " + path +
                                     " is readable by other users; refusing to use it (run: "
                                     "chmod o-r " +
                                     path + ")");
    }
    char buf[kMaxPasswordBytes + 1];
    size_t got = 0;
    while (got < sizeof buf) {
      ssize_t n = ::read(fd, buf + got, sizeof buf - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return Error::Io(where + ": cannot read " + path + ": " + std::strerror(err));
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    if (got > kMaxPasswordBytes) {
      return Error::Io(where + ": " + path + " is larger than 4 KiB; is it the right file?");
    }
    password.assign(buf, got);
    std::fill(std::begin(buf), std::end(buf), '\0');
    if (password.ends_with("\r\n")) {
      password.resize(password.size() - 2);
    } else if (password.ends_with('\n')) {
      password.pop_back();
    }
    if (password.empty()) return Error::InvalidArgument(where + ": " + path + " is empty");
    return password;
  }
  if (!pool.password_env.empty()) {
    const char* value = std::getenv(pool.password_env.c_str());
    if (value == nullptr) {
      return Error::NotFound(where + ": environment variable " + pool.password_env + " is not set");
    }
    password = value;
    if (password.empty()) {
      return Error::InvalidArgument(where + ": environment variable " + pool.password_env +
                                    " is empty");
    }
    return password;
  }
  return Error::InvalidArgument(where + ": neither password_file nor password_env is set");
}

std::string OwnerName(const DaemonConfig& daemon) {
  if (!daemon.owner.empty()) return daemon.owner;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') return host;
  return "fruixd";
}

std::vector<std::string> ConfigKeyPaths() {
  std::vector<std::string> out;
  auto add = [&](std::string_view prefix, Keys keys) {
    for (auto k : keys) out.push_back(Join(prefix, k));
  };
  add("daemon", kDaemonKeys);
  add("pools.*", kPoolKeys);
  add("targets.*", TargetKeys());
  add("targets.*.console", kConsoleKeys);
  add("targets.*.console.patterns", kPatternKeys);
  add("targets.*.address", kAddressKeys);
  add("targets.*.ssh", kSshKeys);
  add("targets.*.timeouts", kTimeoutKeys);
  return out;
}

}  // namespace fruix::daemon
