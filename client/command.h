// fruixctl's subcommand table: each row is one command — `fruixctl <name>` (daemon commands:
// deploy, status, list, ...) or `fruixctl <group> <name>` (local commands: image check) — with its
// help and a setup function that declares its options on a CLI11 app and returns the handler that
// runs it. Handlers parse options, make their call(s) through a ControlClient and print; they hold
// no state and never retry. Single-threaded, like the CLI.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/error.h"
#include "proto/jsonrpc.h"

namespace CLI {
class App;
}

namespace fruix::client {

class ControlClient;

// Process exit codes, for every command.
inline constexpr int kExitOk = 0;           // ok; the job is ready
inline constexpr int kExitFailed = 1;       // the command or the job failed (also: interrupted,
                                            // an RPC error such as busy, an unusable image)
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitUnreachable = 3;  // fruixd cannot be reached (or stopped answering)
inline constexpr int kExitCancelled = 4;    // the job was cancelled
inline constexpr int kExitTimeout = 5;      // the client's wait expired (--timeout-total), or
                                            // the job failed with code "timeout"

// What every handler gets.
struct Context {
  bool json = false;  // --json: print one JSON document on stdout instead of text
  std::ostream& out;
  std::ostream& err;
  std::string socket_path;  // resolved: --socket, $FRUIX_SOCKET, or the default
  bool tty = false;         // stdout is a terminal (progress bar instead of progress lines)
};

using Handler = std::function<int(const Context&)>;

struct Command {
  std::string_view group;  // "image", or "" for a top-level command
  std::string_view name;   // "check", "deploy"
  std::string_view help;
  // Declares the command's options and positionals on `app` (bound to state the returned handler
  // owns) and returns the handler; called once, before parsing.
  Handler (*setup)(CLI::App& app);
};

// Every fruixctl command, in help order.
const std::vector<Command>& Commands();

// Prints `error` the way every command does: "fruixctl: <message>" on err, or with --json
// {"error": {"code": <fruix error code name>, "message": ..., "rpc_code": <JSON-RPC code, when
// fruixd answered with an error>, "data": <its data, when present>}} on out. Returns `exit_code`.
int ReportError(const Context& ctx, const Error& error, int exit_code = kExitFailed,
                const proto::RpcError* rpc = nullptr);

// The "error" member of a JSON error document.
nlohmann::json ErrorJson(const Error& error, const proto::RpcError* rpc = nullptr);

// The exit code for a failed ControlClient call: 3 when fruixd could not be reached, lost the
// connection or did not answer, 5 when the client's wait limit passed, else 1.
int CallErrorExitCode(const ControlClient& client);
// `error` as people should read it: a "busy" refusal also says how to follow the job holding the
// VM or queue behind it.
Error CallErrorForPeople(const ControlClient& client, const Error& error);
// ReportError(CallErrorForPeople(...), CallErrorExitCode(...), the RPC error if any).
int ReportCallError(const Context& ctx, const ControlClient& client, const Error& error);

// A usage error found after parsing (e.g. conflicting arguments): "fruixctl: <message>" and a
// pointer to --help on err (or the JSON error on out). Returns kExitUsage.
int ReportUsage(const Context& ctx, const std::string& message);

}  // namespace fruix::client
