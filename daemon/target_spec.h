// daemon target specs — from a configured target (or an explicit VM/VDI/network) and a deploy
// request's overrides to a runnable job::JobSpec. Pure functions on plain values; any thread.
//
// Precedence, lowest first: built-in defaults (job_spec.h) < [defaults] < [targets.NAME] <
// DeployOverrides (what the deploy.start request asked for).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/config.h"
#include "lib/core/result.h"
#include "lib/image/image_stream.h"
#include "lib/job/job_spec.h"
#include "lib/job/phase.h"
#include "lib/vhd/stream_plan.h"

namespace fruix::daemon {

// What one deploy request may change for its job. Every field is optional; an absent field keeps
// the target's setting. Plain value; the daemon fills it from deploy.start's parameters.
struct DeployOverrides {
  // The image to upload (job::JobSpec::image_file / image_path): `image_file` when the daemon
  // already holds it open (the descriptor a client passed; image_path then only names it in
  // reports), else opened from image_path when the job starts. Neither = no upload (the job
  // re-validates what the VDI holds).
  std::shared_ptr<vhd::SourceFile> image_file;
  std::optional<std::string> image_path;
  std::optional<image::StreamFormat> format;
  std::optional<image::ZeroFill> zero_fill;
  std::optional<bool> force;  // upload even when the VDI already holds this content
  std::optional<job::AfterRun> after_run;
  // The readiness marker's expected content; "" = any content. Needs the ssh check enabled.
  std::optional<std::string> expected_marker;
  // The readiness marker's path (absolute). Needs the ssh check enabled.
  std::optional<std::string> marker_path;
  // The VIF's MAC (any case; stored lower-case); "" = keep / let xapi choose.
  std::optional<std::string> mac;
  // Per-phase timeouts; keys must be working phases (job::kWorkingPhases), values positive.
  std::map<job::Phase, std::chrono::milliseconds> timeouts;
  // console::kXapiVt100Kind, kDom0SshKind or kNoneKind. Switching to "none" also drops the
  // console from the address sources when another source remains.
  std::optional<std::string> console_kind;
};

// An untargeted deploy: `vm`, `vdi` and `network` (uuids) in `pool` with the [defaults]
// settings. An empty `pool` means the only configured pool when there is exactly one. `mac` may
// be empty. Errors: kInvalidArgument naming a malformed uuid or MAC (and the field), kNotFound
// for an unknown pool (listing the configured ones).
Result<TargetConfig> ExplicitTarget(const Config& config, std::string_view pool,
                                    std::string_view vm, std::string_view vdi,
                                    std::string_view network, std::string_view mac = {});

// The job for `target` with `overrides` applied; its console log goes to `console_log` (whose
// directory must exist when the job runs). The result passes job::Validate. Errors:
// kInvalidArgument for a bad override (naming it and its value: unknown console kind, a
// terminal phase or a non-positive timeout, a malformed MAC, a relative marker path, a marker
// override while the target's ssh check is disabled) or Validate's error, prefixed with
// "target NAME: " for a configured target.
Result<job::JobSpec> BuildJobSpec(const TargetConfig& target, const DeployOverrides& overrides,
                                  std::filesystem::path console_log);

}  // namespace fruix::daemon
