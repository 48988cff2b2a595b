// job::JobReport — the evidence of one deployment job, and its JSON form (stable schema
// "fruix.job-report/1", documented field by field below; additions are compatible, renames and
// removals need a new schema version). A plain value: the runner fills it on its own thread and
// hands out copies.
//
// JSON (times are RFC 3339 UTC with milliseconds; durations in ms; absent facts are omitted,
// never null):
// {
//   "schema": "fruix.job-report/1",
//   "job_id", "target", "vm_uuid", "vdi_uuid", "image",
//   "state": "ready" | "failed" | "cancelled" | <phase while running>,
//   "started_at", "finished_at", "duration_ms",
//   "phases": [{"phase", "status": "ok"|"failed"|"cancelled"|"skipped"|"running",
//               "started_at", "duration_ms", "detail"}],
//   "prepare": {"found", "action", "detail"},
//   "upload": {"bytes_sent", "data_blocks", "zero_blocks", "skipped", "zero_fill", "digest",
//              "host", "attempts", "duration_ms", "throughput_mib_s"},
//   "attach": {"vbd_created", "userdevice", "vbd_changes", "other_vbds_unbootable",
//              "vif_created", "vif_device", "mac", "vif_changes"},
//   "start": {"domid", "host_uuid", "host_address"},
//   "address": {"ip", "source", "disagreement", "sources": [{"source", "ip", "at_ms",
//               "evidence"}], "silent": [source...]},
//   "ssh": {"state", "attempts", "host_key_sha256", "marker_content",
//           "probes": [{"command", "exit_status", "output", "error_output", "truncated",
//           "error"}]},
//   "console": {"source", "description", "log_path", "state", "bytes", "lines", "reconnects",
//               "milestones": [{"name", "line", "line_number", "at_ms"}]},
//   "failure": {"phase", "code", "message", "class": "guest"|"infrastructure",
//               "console_excerpt": [line...]},
//   "after_run": {"policy", "action", "error"}
// }
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/wall_time.h"
#include "lib/job/address_book.h"
#include "lib/job/job_spec.h"
#include "lib/job/phase.h"
#include "lib/job/state_machine.h"
#include "lib/job/vm_actions.h"
#include "lib/ssh/readiness.h"
#include "lib/upload/importer.h"

namespace fruix::job {

using fruix::WallTime;

enum class PhaseStatus { kRunning, kOk, kFailed, kCancelled, kSkipped };
std::string_view ToString(PhaseStatus s);

// An SSH wait state as reports and failure codes spell it: "port-closed", "marker-missing", ...
std::string SshStateToken(ssh::SshWaitState state);

struct PhaseRecord {
  Phase phase = Phase::kPreflight;
  PhaseStatus status = PhaseStatus::kRunning;
  WallTime started_at;
  std::chrono::milliseconds duration{0};
  std::string detail;
};

struct MilestoneRecord {
  std::string name;
  std::string line;
  uint64_t line_number = 0;
  std::chrono::milliseconds at{0};  // since the job started
};

struct ConsoleReport {
  std::string source;  // kind
  std::string description;
  std::string log_path;
  std::string state;
  uint64_t bytes = 0;
  uint64_t lines = 0;
  uint64_t reconnects = 0;
  std::vector<MilestoneRecord> milestones;
};

struct SshReport {
  ssh::SshWaitStatus status;
  std::optional<ssh::ReadinessReport> readiness;
};

struct FailureReport {
  Phase phase = Phase::kPreflight;
  std::string code;  // "xapi:VM_BAD_POWER_STATE", "console:panic", "vm-halted",
                     // "ssh:marker-missing", "timeout", ... (see runner.h)
  std::string message;
  FailureClass failure_class = FailureClass::kInfrastructure;
  std::vector<std::string> console_excerpt;
};

struct AfterRunReport {
  AfterRun policy = AfterRun::kLeaveRunning;
  std::string action;  // "left running", "hard_shutdown", "none (VM not started)"
  std::string error;
};

struct JobReport {
  std::string job_id;
  std::string target;
  std::string vm_uuid;
  std::string vdi_uuid;
  std::string image;
  Phase state = Phase::kPreflight;
  WallTime started_at;
  std::optional<WallTime> finished_at;
  std::chrono::milliseconds duration{0};
  std::vector<PhaseRecord> phases;
  std::optional<PrepareOutcome> prepare;
  std::optional<upload::ImportResult> upload;
  std::optional<AttachOutcome> attach;
  std::optional<StartOutcome> start;
  std::optional<AddressObservation> address;
  std::vector<AddressObservation> address_sources;
  std::vector<AddressSource> address_silent;
  bool address_disagreement = false;
  std::optional<SshReport> ssh;
  std::optional<ConsoleReport> console;
  std::optional<FailureReport> failure;
  std::optional<AfterRunReport> after_run;

  // The record of `p`, or nullptr if it has not started.
  const PhaseRecord* FindPhase(Phase p) const;
};

nlohmann::json ToJson(const JobReport& report);

// "2026-11-23T10:00:00.123Z".
std::string FormatTime(WallTime t);

}  // namespace fruix::job
