// Tests of daemon::ParseConfig / LoadConfig / ReadPoolPassword and the shipped sample
// (daemon/config.h, config/fruixd.toml).
#include "daemon/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "daemon/target_spec.h"

namespace fruix::daemon {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// A directory under /tmp removed with its content at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fruix-config-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path Write(const std::string& name, const std::string& content,
                              std::filesystem::perms perms) const {
    auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    std::filesystem::permissions(p, perms);
    return p;
  }

 private:
  std::filesystem::path path_;
};

// A small valid document whose parts the tests change.
struct Doc {
  std::string daemon;
  std::string pool =
      "url = \"https://xcp.example.org\"\n"
      "password_file = \"/etc/fruix/lab.pw\"\n";
  std::string defaults;
  std::string defaults_ssh = "key = \"/keys/default\"\n";
  std::string target =
      "pool = \"lab\"\n"
      "vm = \"11111111-1111-4111-8111-000000000001\"\n"
      "vdi = \"11111111-1111-4111-8111-000000000002\"\n"
      "network = \"11111111-1111-4111-8111-000000000003\"\n";
  std::string ssh = "key = \"/keys/id\"\n";
  std::string extra;

  std::string Text() const {
    return "[daemon]\n" + daemon + "\n[pools.lab]\n" + pool + "\n[defaults]\n" + defaults +
           "\n[defaults.ssh]\n" + defaults_ssh + "\n[targets.t1]\n" + target +
           "\n[targets.t1.ssh]\n" + ssh + "\n" + extra;
  }
};

Result<Config> Parse(const Doc& doc) { return ParseConfig(doc.Text(), "test.toml"); }

// Given the shipped sample, When it is loaded, Then it parses without warnings, resolves the
// documented values (defaults, inheritance, overrides) and each target builds a valid JobSpec.
TEST(ConfigTest, SampleLoadsAndEveryTargetBuildsAJob) {
  auto config = LoadConfig(FRUIX_SAMPLE_CONFIG);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_TRUE(config->warnings.empty()) << config->warnings.front();

  const DaemonConfig& d = config->daemon;
  EXPECT_EQ(d.socket, "/run/fruixd/fruixd.sock");
  EXPECT_EQ(d.socket_mode, 0660u);
  EXPECT_EQ(d.socket_group, "fruix");
  EXPECT_EQ(d.state_dir, "/var/lib/fruixd");
  EXPECT_EQ(d.log_level, LogLevel::kInfo);
  EXPECT_EQ(d.max_concurrent_jobs, 4);
  EXPECT_EQ(d.shutdown_grace, seconds(30));
  EXPECT_EQ(d.lease_ttl, minutes(10));
  EXPECT_EQ(d.mutating_groups, std::vector<std::string>{"fruix-deploy"});

  const PoolConfig* lab = config->FindPool("lab");
  ASSERT_NE(lab, nullptr);
  EXPECT_EQ(lab->url, "https://xcp-master.example.org");
  EXPECT_EQ(lab->user, "root");
  EXPECT_EQ(lab->password_file, "/etc/fruix/secrets/lab.password");
  EXPECT_EQ(lab->tls.pin_sha256.substr(0, 8), "00:11:22");
  EXPECT_EQ(lab->call_timeout, seconds(60));

  ASSERT_EQ(config->targets.size(), 2u);
  const TargetConfig* bsd = config->FindTarget("freebsd-nightly");
  ASSERT_NE(bsd, nullptr);
  EXPECT_EQ(bsd->mac, "02:00:00:00:00:01");
  EXPECT_EQ(bsd->settings.console.kind, "xapi-vt100");
  EXPECT_EQ(bsd->settings.console.os, console::GuestOs::kFreeBsd);
  ASSERT_EQ(bsd->settings.console.overrides.size(), 1u);  // from [defaults.console]
  EXPECT_EQ(bsd->settings.console.overrides[0].name, "oom-kill");
  ASSERT_TRUE(bsd->settings.ssh.has_value());
  EXPECT_EQ(bsd->settings.ssh->endpoint.private_key_file, "/etc/fruix/keys/guest_ed25519");
  EXPECT_EQ(bsd->settings.ssh->expected_marker, "nightly");
  EXPECT_EQ(bsd->settings.timeouts.upload, hours(1));
  EXPECT_EQ(bsd->settings.timeouts.prepare, seconds(180));  // built-in default
  EXPECT_EQ(bsd->settings.after_run, job::AfterRun::kShutdownOnSuccess);

  const TargetConfig* hvm = config->FindTarget("linux-hvm");
  ASSERT_NE(hvm, nullptr);
  EXPECT_EQ(hvm->settings.console.kind, "dom0-ssh");
  EXPECT_TRUE(hvm->settings.console.hvm_serial);
  EXPECT_EQ(hvm->settings.console.dom0.host_key.mode, ssh::HostKeyMode::kPin);
  EXPECT_EQ(hvm->settings.format, image::StreamFormat::kRawChunked);
  EXPECT_EQ(hvm->settings.shutdown, job::ShutdownPolicy::kHard);
  EXPECT_EQ(hvm->settings.address.lease_file, "/var/lib/misc/dnsmasq.leases");
  EXPECT_EQ(hvm->settings.ssh->endpoint.user, "fruix");
  EXPECT_EQ(hvm->settings.ssh->endpoint.private_key_file, "/etc/fruix/keys/guest_ed25519");

  for (const auto& [name, target] : config->targets) {
    auto spec = BuildJobSpec(target, {}, "/tmp/console.log");
    EXPECT_TRUE(spec.ok()) << name << ": " << spec.error().ToString();
  }
}

// Given the shipped sample, When its "key =" lines (commented or not) are collected per section,
// Then every key the loader accepts appears in its section: the sample documents every option.
TEST(ConfigTest, SampleDocumentsEveryOption) {
  std::ifstream in(FRUIX_SAMPLE_CONFIG);
  ASSERT_TRUE(in.good());
  const std::regex section(R"(^\[([A-Za-z0-9_.-]+)\])");
  const std::regex key(R"(([a-z_0-9]+) =)");
  std::set<std::string> documented;
  std::string current;
  std::string line;
  while (std::getline(in, line)) {
    auto start = line.find_first_not_of("# ");
    if (start == std::string::npos) continue;
    std::string text = line.substr(start);
    std::smatch m;
    if (std::regex_search(text, m, section)) {
      // pools.NAME -> pools.*, targets.NAME -> targets.*, defaults -> targets.*
      std::vector<std::string> parts;
      std::stringstream ss(m[1].str());
      for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
      if (parts[0] == "defaults") {
        parts[0] = "*";
        parts.insert(parts.begin(), "targets");
      } else if (parts.size() > 1 && (parts[0] == "pools" || parts[0] == "targets")) {
        parts[1] = "*";
      }
      current.clear();
      for (const auto& p : parts) current += (current.empty() ? "" : ".") + p;
      documented.insert(current);  // a sub-table is a key of its parent
      continue;
    }
    for (auto it = std::sregex_iterator(text.begin(), text.end(), key);
         it != std::sregex_iterator(); ++it) {
      documented.insert(current + "." + (*it)[1].str());
    }
  }
  for (const auto& path : ConfigKeyPaths()) {
    std::string want = path;
    // Pattern keys live in the inline tables of console.patterns.
    auto pos = want.find(".patterns.");
    if (pos != std::string::npos) want.erase(pos, std::string(".patterns").size());
    EXPECT_TRUE(documented.contains(want)) << path << " is not documented in the sample";
  }
}

// Given a valid document, When one thing is made wrong, Then loading fails with
// kInvalidArgument and a message naming the key path and the bad value.
TEST(ConfigTest, BadInputIsRefusedNamingKeyAndValue) {
  ASSERT_TRUE(Parse(Doc{}).ok()) << Parse(Doc{}).error().ToString();
  struct Case {
    std::string what;
    std::function<void(Doc&)> mutate;
    std::vector<std::string> named;
  };
  const Case cases[] = {
      {"unknown key",
       [](Doc& d) { d.ssh += "prot = 22\n"; },
       {"targets.t1.ssh.prot", "unknown key", "did you mean port?"}},
      {"unknown top-level table",
       [](Doc& d) { d.extra = "[target.x]\npool = \"lab\"\n"; },
       {"target", "unknown key", "targets"}},
      {"wrong type",
       [](Doc& d) { d.ssh += "port = \"22\"\n"; },
       {"targets.t1.ssh.port", "expected an integer", "\"22\" (a string)"}},
      {"out of range",
       [](Doc& d) { d.ssh += "port = 70000\n"; },
       {"targets.t1.ssh.port", "70000", "1-65535"}},
      {"bad duration",
       [](Doc& d) { d.daemon = "lease_ttl = \"10 min\"\n"; },
       {"daemon.lease_ttl", "\"10 min\"", "not a duration"}},
      {"float duration",
       [](Doc& d) { d.target += "clean_shutdown_timeout = 1.5\n"; },
       {"targets.t1.clean_shutdown_timeout", "1.5", "a float"}},
      {"bad uuid",
       [](Doc& d) { d.target += "start_on_host = \"host-1\"\n"; },
       {"targets.t1.start_on_host", "\"host-1\"", "not a uuid"}},
      {"bad vm uuid",
       [](Doc& d) {
         d.target = std::regex_replace(d.target, std::regex("vm = \"1111"), "vm = \"zzzz");
       },
       {"targets.t1.vm", "zzzz1111-1111-4111-8111-000000000001", "not a uuid"}},
      {"missing uuid",
       [](Doc& d) { d.target = std::regex_replace(d.target, std::regex("vdi = .*\n"), ""); },
       {"targets.t1.vdi", "missing"}},
      {"unknown pool",
       [](Doc& d) { d.target = std::regex_replace(d.target, std::regex("\"lab\""), "\"lba\""); },
       {"targets.t1.pool", "\"lba\"", "not a configured pool", "lab"}},
      {"both passwords",
       [](Doc& d) { d.pool += "password_env = \"LAB_PW\"\n"; },
       {"pools.lab.password_env", "password_file and password_env exclude each other"}},
      {"no password",
       [](Doc& d) { d.pool = std::regex_replace(d.pool, std::regex("password_file = .*\n"), ""); },
       {"pools.lab.password_file", "missing", "password_env"}},
      {"missing url",
       [](Doc& d) { d.pool = std::regex_replace(d.pool, std::regex("url = .*\n"), ""); },
       {"pools.lab.url", "missing"}},
      {"bad url",
       [](Doc& d) { d.pool = "url = \"ftp://x\"\npassword_env = \"PW\"\n"; },
       {"pools.lab.url", "\"ftp://x\""}},
      {"bad mode",
       [](Doc& d) { d.daemon = "socket_mode = \"0680\"\n"; },
       {"daemon.socket_mode", "\"0680\"", "not a permission mode"}},
      {"decimal mode",
       [](Doc& d) { d.daemon = "socket_mode = 660\n"; },
       {"daemon.socket_mode", "660", "octal"}},
      {"bad log level",
       [](Doc& d) { d.daemon = "log_level = \"verbose\"\n"; },
       {"daemon.log_level", "\"verbose\"", "trace, debug, info, warn, error"}},
      {"bad MAC",
       [](Doc& d) { d.target += "mac = \"02:00:00:00:00\"\n"; },
       {"targets.t1.mac", "\"02:00:00:00:00\"", "not a MAC address"}},
      {"bad pin",
       [](Doc& d) { d.pool += "pin_sha256 = \"AB:CD\"\n"; },
       {"pools.lab.pin_sha256", "\"AB:CD\"", "fingerprint"}},
      {"pin and ca_file",
       [](Doc& d) {
         d.pool += "pin_sha256 = \"" + std::string(64, 'a') + "\"\nca_file = \"/etc/ca.pem\"\n";
       },
       {"pools.lab.pin_sha256", "cannot be combined with ca_file"}},
      {"insecure and pin",
       [](Doc& d) { d.pool += "pin_sha256 = \"" + std::string(64, 'a') + "\"\ninsecure = true\n"; },
       {"pools.lab.insecure", "pin_sha256"}},
      {"relative path",
       [](Doc& d) { d.ssh = "key = \"keys/id\"\n"; },
       {"targets.t1.ssh.key", "\"keys/id\"", "absolute"}},
      {"bad host key",
       [](Doc& d) { d.ssh += "host_key = \"trust-me\"\n"; },
       {"targets.t1.ssh.host_key", "\"trust-me\"", "record"}},
      {"bad enum",
       [](Doc& d) { d.defaults = "format = \"qcow2\"\n"; },
       {"defaults.format", "\"qcow2\"", "vhd, raw, raw-chunked"}},
      {"bad address source",
       [](Doc& d) { d.extra = "[targets.t1.address]\nsources = [\"dhcp\"]\n"; },
       {"targets.t1.address.sources", "\"dhcp\"", "guest-metrics"}},
      {"bad static address",
       [](Doc& d) { d.extra = "[targets.t1.address]\nstatic = \"10.0.0.300\"\n"; },
       {"targets.t1.address.static", "\"10.0.0.300\""}},
      {"mac in defaults",
       [](Doc& d) { d.defaults = "mac = \"02:00:00:00:00:01\"\n"; },
       {"defaults.mac", "belongs to a target"}},
      {"bad target name",
       [](Doc& d) { d.extra = "[targets.\"a b\"]\npool = \"lab\"\n"; },
       {"targets.a b", "target name"}},
      {"console not a table",
       [](Doc& d) { d.target += "console = \"xapi\"\n"; },
       {"targets.t1.console", "expected a table", "\"xapi\""}},
      {"bad regex",
       [](Doc& d) {
         d.extra =
             "[targets.t1.console]\npatterns = [{name = \"x\", kind = \"failure\", regex = "
             "\"(\"}]\n";
       },
       {"targets.t1.console.patterns", "'x'"}},
      {"unknown boot milestone",
       [](Doc& d) { d.extra = "[targets.t1.console]\nboot_complete = [\"booted\"]\n"; },
       {"targets.t1.console.boot_complete", "\"booted\"", "not a milestone"}},
      {"lease-file without a path",
       [](Doc& d) { d.extra = "[targets.t1.address]\nsources = [\"lease-file\"]\n"; },
       {"targets.t1", "lease-file needs a lease file path"}},
      {"ssh enabled without a key",
       [](Doc& d) {
         d.defaults_ssh.clear();
         d.ssh = "user = \"root\"\n";
       },
       {"targets.t1", "ssh key file is empty"}},
      {"zero timeout",
       [](Doc& d) { d.extra = "[targets.t1.timeouts]\nboot = \"0s\"\n"; },
       {"targets.t1.timeouts.boot", "\"0s\"", "too short"}},
      {"bad concurrency",
       [](Doc& d) { d.daemon = "max_concurrent_jobs = 0\n"; },
       {"daemon.max_concurrent_jobs", "0 is out of range"}},
  };
  for (const auto& c : cases) {
    Doc doc;
    c.mutate(doc);
    auto config = Parse(doc);
    ASSERT_FALSE(config.ok()) << c.what << " was accepted";
    EXPECT_EQ(config.error().code(), ErrorCode::kInvalidArgument) << c.what;
    EXPECT_EQ(config.error().message().rfind("test.toml:", 0), 0u)
        << c.what << ": " << config.error().message();
    for (const auto& n : c.named) {
      EXPECT_NE(config.error().message().find(n), std::string::npos)
          << c.what << ": \"" << n << "\" not in: " << config.error().message();
    }
  }
}

// Given a bad value on a known line, When loaded, Then the message gives origin:line:column of
// the value; Given a TOML syntax error, Then its position is given too.
TEST(ConfigTest, MessagesCarryLineAndColumn) {
  auto config = ParseConfig("[daemon]\n\nlog_level = \"loud\"\n", "/etc/fruix/fruixd.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(),
            "/etc/fruix/fruixd.toml:3:13: daemon.log_level: \"loud\" is not one of trace, debug, "
            "info, warn, error");

  auto syntax = ParseConfig("[daemon]\nsocket = \"/run/x.sock\n", "f.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().message().rfind("f.toml:2:", 0), 0u) << syntax.error().message();
  EXPECT_NE(syntax.error().message().find("TOML syntax"), std::string::npos);
}

// Given a document with several problems, When loaded, Then every one is reported, one per line.
TEST(ConfigTest, EveryProblemIsReported) {
  Doc doc;
  doc.daemon = "log_level = \"loud\"\nmax_queued_jobs = -1\n";
  doc.ssh += "port = 0\n";
  auto config = Parse(doc);
  ASSERT_FALSE(config.ok());
  const std::string& m = config.error().message();
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 2) << m;
  EXPECT_NE(m.find("daemon.log_level"), std::string::npos);
  EXPECT_NE(m.find("daemon.max_queued_jobs"), std::string::npos);
  EXPECT_NE(m.find("targets.t1.ssh.port"), std::string::npos);
}

// Given [defaults] and a target that sets some keys, When loaded, Then the target has its own
// keys, inherits the others (in sub-tables too), and console patterns add up, defaults first.
TEST(ConfigTest, TargetsInheritFromDefaults) {
  Doc doc;
  doc.defaults =
      "format = \"raw\"\nafter_run = \"shutdown\"\n"
      "[defaults.timeouts]\nboot = \"7m\"\nssh = 90\n"
      "[defaults.console]\nos = \"linux\"\n"
      "patterns = [{name = \"a\", kind = \"failure\", regex = \"AAA\"}]\n";
  doc.defaults_ssh = "port = 2222\nuser = \"deploy\"\nprobes = [\"true\"]\n";
  doc.target += "format = \"vhd\"\n";
  doc.ssh = "key = \"/keys/id\"\nuser = \"fruix\"\n";
  doc.extra =
      "[targets.t1.timeouts]\nboot = \"2m\"\n"
      "[targets.t1.console]\npatterns = [{name = \"b\", literal = \"B.B\"}]\n";
  auto config = Parse(doc);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  const DeploySettings& s = config->FindTarget("t1")->settings;
  EXPECT_EQ(s.format, image::StreamFormat::kVhd);    // own
  EXPECT_EQ(s.after_run, job::AfterRun::kShutdown);  // inherited
  ASSERT_TRUE(s.ssh.has_value());
  EXPECT_EQ(s.ssh->endpoint.user, "fruix");  // own, in a sub-table
  EXPECT_EQ(s.ssh->endpoint.port, 2222);     // inherited, in a sub-table
  EXPECT_EQ(s.ssh->probes, std::vector<std::string>{"true"});
  EXPECT_EQ(s.timeouts.boot, minutes(2));
  EXPECT_EQ(s.timeouts.ssh, seconds(90));  // an integer is seconds
  EXPECT_EQ(s.timeouts.network, seconds(300));
  EXPECT_EQ(s.console.os, console::GuestOs::kLinux);
  ASSERT_EQ(s.console.overrides.size(), 2u);
  EXPECT_EQ(s.console.overrides[0].name, "a");
  EXPECT_EQ(s.console.overrides[1].name, "b");
  EXPECT_EQ(s.console.overrides[1].regex, "B\\.B");  // literal, escaped
  EXPECT_EQ(config->defaults.ssh->endpoint.user, "deploy");
}

// Given ssh.enabled = false in [defaults], When a target does not re-enable it, Then it has no
// ssh check; When another target re-enables it, Then it has one.
TEST(ConfigTest, SshCanBeDisabledAndReenabled) {
  Doc doc;
  doc.defaults_ssh = "enabled = false\n";
  doc.ssh = "enabled = true\nkey = \"/keys/id\"\n";
  doc.extra =
      "[targets.t2]\npool = \"lab\"\nvm = \"22222222-1111-4111-8111-000000000001\"\n"
      "vdi = \"22222222-1111-4111-8111-000000000002\"\n"
      "network = \"22222222-1111-4111-8111-000000000003\"\n";
  auto config = Parse(doc);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_TRUE(config->FindTarget("t1")->settings.ssh.has_value());
  EXPECT_FALSE(config->FindTarget("t2")->settings.ssh.has_value());
}

// Given the duration spellings, Then the good ones parse to their value and format back, and the
// bad ones are refused naming the text.
TEST(ConfigTest, DurationsTable) {
  const std::pair<std::string, milliseconds> good[] = {
      {"250ms", milliseconds(250)}, {"90s", seconds(90)},
      {"5m", minutes(5)},           {"4h", hours(4)},
      {"1h30m", minutes(90)},       {"1m30s500ms", milliseconds(90500)},
      {"0s", milliseconds(0)},      {"8784h", hours(8784)},
  };
  for (const auto& [text, want] : good) {
    auto d = ParseDuration(text);
    ASSERT_TRUE(d.ok()) << text << ": " << d.error().ToString();
    EXPECT_EQ(*d, want) << text;
    EXPECT_EQ(ParseDuration(FormatDuration(want)).value_or(milliseconds(-1)), want) << text;
  }
  EXPECT_EQ(FormatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1s500ms");
  const std::string bad[] = {"",      "5",    "5 m", "-5s", "1.5h",  "5M",         "5d",
                             "30m1h", "1h1h", "s",   "1h ", "8785h", "9999999999s"};
  for (const auto& text : bad) {
    auto d = ParseDuration(text);
    ASSERT_FALSE(d.ok()) << "\"" << text << "\" was accepted";
    EXPECT_NE(d.error().message().find("\"" + text + "\""), std::string::npos)
        << d.error().message();
  }
}

// Given socket_mode spellings, Then octal strings and TOML octal integers are accepted.
TEST(ConfigTest, SocketModeForms) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, uint32_t>>{
           {"\"0660\"", 0660}, {"\"600\"", 0600}, {"\"0o640\"", 0640}, {"0o660", 0660}}) {
    Doc doc;
    doc.daemon = "socket_mode = " + text + "\n";
    auto config = Parse(doc);
    ASSERT_TRUE(config.ok()) << text << ": " << config.error().ToString();
    EXPECT_EQ(config->daemon.socket_mode, want) << text;
  }
}

// Given settings that are valid but risky, When loaded, Then each is reported as a warning
// naming its key; Given a safe document, Then there is none.
TEST(ConfigTest, RiskySettingsAreWarned) {
  EXPECT_TRUE(Parse(Doc{})->warnings.empty());
  Doc doc;
  doc.pool = "url = \"http://xcp.example.org\"\npassword_env = \"PW\"\n";
  doc.daemon = "socket_mode = \"0666\"\n";
  doc.extra =
      "[pools.other]\nurl = \"https://x.example.org\"\npassword_env = \"PW2\"\n"
      "insecure = true\n";
  auto config = Parse(doc);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  std::string all;
  for (const auto& w : config->warnings) all += w + "\n";
  EXPECT_EQ(config->warnings.size(), 3u) << all;
  EXPECT_NE(all.find("pools.lab.url"), std::string::npos) << all;
  EXPECT_NE(all.find("pools.other.insecure"), std::string::npos) << all;
  EXPECT_NE(all.find("daemon.socket_mode"), std::string::npos) << all;
  EXPECT_TRUE(config->FindPool("other")->tls.insecure);
}

// Given no [defaults] SSH key, When loaded, Then a warning says explicit deploys will fail.
TEST(ConfigTest, UnrunnableDefaultsAreWarned) {
  Doc doc;
  doc.defaults_ssh = "user = \"root\"\n";
  auto config = Parse(doc);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_NE(config->warnings[0].find("explicit deploys"), std::string::npos);
  EXPECT_NE(config->warnings[0].find("ssh key file is empty"), std::string::npos);
}

// Given a missing file, When loaded, Then kIo names the path.
TEST(ConfigTest, MissingFileIsAnIoError) {
  TempDir dir;
  auto config = LoadConfig(dir.path() / "nope.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code(), ErrorCode::kIo);
  EXPECT_NE(config.error().message().find("nope.toml"), std::string::npos);
}

// Given password files and variables, When read, Then the password comes back without its
// trailing newline; a world-readable file, a missing variable and an empty file are refused
// without revealing the password.
TEST(ConfigTest, ReadPoolPassword) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  using std::filesystem::perms;
  PoolConfig pool;
  pool.name = "lab";

  pool.password_file = dir.Write("good", "s3cret\n", perms::owner_read | perms::group_read);
  auto pw = ReadPoolPassword(pool);
  ASSERT_TRUE(pw.ok()) << pw.error().ToString();
  EXPECT_EQ(*pw, "s3cret");

  pool.password_file = dir.Write("crlf", "two words\r\n", perms::owner_read);
  EXPECT_EQ(ReadPoolPassword(pool).value_or(""), "two words");

  pool.password_file = dir.Write("open", "hunter2\n", perms::owner_read | perms::others_read);
  auto open = ReadPoolPassword(pool);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(open.error().message().find("readable by other users"), std::string::npos);
  EXPECT_NE(open.error().message().find(pool.password_file), std::string::npos);
  EXPECT_EQ(open.error().message().find("hunter2"), std::string::npos);

  pool.password_file = dir.Write("empty", "\n", perms::owner_read);
  EXPECT_EQ(ReadPoolPassword(pool).error().code(), ErrorCode::kInvalidArgument);

  pool.password_file = (dir.path() / "absent").string();
  EXPECT_EQ(ReadPoolPassword(pool).error().code(), ErrorCode::kIo);

  pool.password_file.clear();
  pool.password_env = "FRUIX_CONFIG_TEST_PASSWORD";
  ::unsetenv(pool.password_env.c_str());
  EXPECT_EQ(ReadPoolPassword(pool).error().code(), ErrorCode::kNotFound);
  ::setenv(pool.password_env.c_str(), "from-env", 1);
  EXPECT_EQ(ReadPoolPassword(pool).value_or(""), "from-env");
  ::unsetenv(pool.password_env.c_str());
}

// Given an owner or none, Then OwnerName is it, or else the (non-empty) host name.
TEST(ConfigTest, OwnerNameFallsBackToTheHostName) {
  DaemonConfig d;
  d.owner = "builder-1";
  EXPECT_EQ(OwnerName(d), "builder-1");
  d.owner.clear();
  EXPECT_FALSE(OwnerName(d).empty());
}

}  // namespace
}  // namespace fruix::daemon
