// client::FollowJob — waits for a job's end through job.watch and prints it: what `deploy --wait`,
// `deploy --follow` and `watch` do after they know the job id. Shared by those handlers;
// single-threaded.
#pragma once

#include <optional>
#include <string>

#include "client/command.h"
#include "client/control_client.h"
#include "lib/core/clock.h"

namespace fruix::client {

struct FollowOptions {
  bool live = false;     // print phases, waits, milestones and upload progress as they happen
  bool console = false;  // also print console lines ("console| ..."); implies live
  std::optional<Deadline> limit;  // --timeout-total: stop waiting (the job keeps running)
  std::string limit_text;         // the limit as the user typed it, for the message
};

// Watches `job_id` until it ends, then prints the job's final summary (with --json: one
// document, {"job": <the job as job.get returns it, with its report>}). Returns the job's exit
// code (JobExitCode), kExitTimeout when the limit passed first (saying the job keeps running and
// how to follow or cancel it), or ReportCallError's code when fruixd fails.
int FollowJob(const Context& ctx, ControlClient& client, const std::string& job_id,
              const FollowOptions& options);

}  // namespace fruix::client
