// `fruixctl <command>` for the commands that talk to fruixd: one setup function per row of the
// command table (commands.cc). Each declares its options, and its handler makes its call(s)
// through a ControlClient on ctx.socket_path and prints (text for people, or with --json one JSON
// document: the method's result as proto/messages.h encodes it). Exit codes: command.h.
//
// deploy and watch share FollowJob (job_follow.h); everything else is here. Single-threaded.
#pragma once

#include "client/command.h"

namespace fruix::client {

Handler SetupDeploy(CLI::App& app);  // deploy_command.cc
Handler SetupWatch(CLI::App& app);   // deploy_command.cc
Handler SetupStatus(CLI::App& app);
Handler SetupList(CLI::App& app);
Handler SetupLogs(CLI::App& app);
Handler SetupCancel(CLI::App& app);
Handler SetupTargets(CLI::App& app);
Handler SetupHealth(CLI::App& app);
Handler SetupVersion(CLI::App& app);

}  // namespace fruix::client
