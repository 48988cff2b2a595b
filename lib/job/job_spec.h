// job::JobSpec — everything one deployment job needs to know, resolved from a target's
// configuration and the request (the daemon builds it; tests build it directly). A plain value;
// Validate() checks it before a job starts, so bad input fails with a message naming the value
// before anything touches xapi.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/console/patterns.h"
#include "lib/core/result.h"
#include "lib/vhd/stream_plan.h"
#include "lib/job/address_book.h"
#include "lib/job/phase.h"
#include "lib/job/vm_actions.h"
#include "lib/ssh/readiness.h"
#include "lib/upload/importer.h"

namespace fruix::job {

using std::chrono::milliseconds;

struct PhaseTimeouts {
  milliseconds preflight{std::chrono::seconds(60)};
  milliseconds prepare{std::chrono::seconds(180)};  // includes the clean-shutdown wait
  milliseconds upload{std::chrono::hours(4)};
  milliseconds attach{std::chrono::seconds(60)};
  milliseconds start{std::chrono::seconds(180)};
  milliseconds boot{std::chrono::seconds(300)};
  milliseconds network{std::chrono::seconds(300)};
  milliseconds ssh{std::chrono::seconds(300)};

  milliseconds For(Phase p) const;
};

// What happens to the VM once the job has ended.
enum class AfterRun {
  kLeaveRunning,       // leave it as it is (default; a failed guest stays up for inspection)
  kShutdown,           // hard shutdown whatever the outcome
  kShutdownOnSuccess,  // hard shutdown after `ready`; a failed guest stays up for inspection
};
std::string_view ToString(AfterRun a);
std::optional<AfterRun> ParseAfterRun(std::string_view name);  // "leave-running", "shutdown", ...

// Where the console comes from and what to look for in it.
struct ConsoleSpec {
  std::string kind = "xapi-vt100";  // console::kXapiVt100Kind, kDom0SshKind or kNoneKind
  console::GuestOs os = console::GuestOs::kAny;
  std::string marker_line = std::string(console::kDefaultMarkerLine);
  std::vector<console::PatternSpec> overrides;  // console::MergePatternSpecs onto the defaults
  // Milestones that prove the guest is up (end the boot phase), by pattern name.
  std::vector<std::string> boot_complete = {"sshd-started", "login-prompt", "marker"};
  // dom0-ssh only: how to log in to the resident host's dom0 (host filled at run time).
  ssh::Endpoint dom0;
  bool hvm_serial = false;  // dom0-ssh: `xl console -t serial` instead of the PV console
};

// Where the guest's address may come from. The first source to answer wins.
struct AddressSpec {
  std::vector<AddressSource> sources = {AddressSource::kGuestMetrics, AddressSource::kConsole};
  std::string lease_file;      // kLeaseFile: dnsmasq or ISC lease file, looked up by the VIF's MAC
  std::string static_address;  // kStatic
};

struct JobSpec {
  std::string target;  // the target's name, for reports
  std::string vm_uuid;
  std::string vdi_uuid;
  std::string network_uuid;
  std::string mac;            // "" = keep a VIF's MAC on the network / let xapi generate one
  std::string start_on_host;  // host uuid for VM.start_on; "" = VM.start

  // The image, opened and checked in preflight: `image_file` when already open (a descriptor a
  // client passed; image_path then only names it in reports), else image_path. Neither skips the
  // upload phase (re-validate what the VDI holds).
  std::string image_path;
  std::shared_ptr<vhd::SourceFile> image_file;
  upload::ImportOptions import;  // format, zero_fill, force, retries (progress/cancel: runner)

  ShutdownPolicy shutdown = ShutdownPolicy::kCleanThenHard;
  milliseconds clean_shutdown_timeout{std::chrono::seconds(60)};
  AfterRun after_run = AfterRun::kLeaveRunning;

  ConsoleSpec console;
  AddressSpec address;
  // The readiness check; its endpoint.host is set to the discovered address at run time.
  // nullopt skips the ssh phase (the job is ready once the address is known).
  std::optional<ssh::ReadinessSpec> ssh;

  PhaseTimeouts timeouts;
  std::filesystem::path console_log;  // the per-job console log file (its directory must exist)
};

// Checks a spec before running it: uuids present and well-formed, MAC, address sources coherent
// (lease-file needs a path and a MAC-known VIF, static needs an IPv4 address), console kind known,
// positive timeouts, SSH endpoint with a user and a key file, a console log path when a console
// is used. kInvalidArgument naming the field and the bad value.
Result<void> Validate(const JobSpec& spec);

}  // namespace fruix::job
