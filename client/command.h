// fruixctl's subcommand table: each row is one `fruixctl <group> <name>` command with its help and
// a setup function that declares its options on a CLI11 app and returns the handler that runs it.
// The daemon commands (deploy, job, ...) slot in as further rows. Single-threaded, like the CLI.
#pragma once

#include <functional>
#include <ostream>
#include <string_view>
#include <vector>

#include "lib/core/error.h"

namespace CLI {
class App;
}

namespace fruix::client {

// Process exit codes, for every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the command failed or the result is negative (unusable)
inline constexpr int kExitUsage = 2;   // bad command line

// What every handler gets.
struct Context {
  bool json = false;  // --json: print one JSON document on stdout instead of text
  std::ostream& out;
  std::ostream& err;
};

using Handler = std::function<int(const Context&)>;

struct Command {
  std::string_view group;  // "image"
  std::string_view name;   // "check"
  std::string_view help;
  // Declares the command's options and positionals on `app` (bound to state the returned handler
  // owns) and returns the handler; called once, before parsing.
  Handler (*setup)(CLI::App& app);
};

// Every fruixctl command, in help order.
const std::vector<Command>& Commands();

// Prints `error` the way every command does: "fruixctl: <message>" on err, or with --json
// {"error": {"code": ..., "message": ...}} on out. Returns kExitFailed.
int ReportError(const Context& ctx, const Error& error);

}  // namespace fruix::client
