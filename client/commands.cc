#include <nlohmann/json.hpp>

#include "client/command.h"
#include "client/control_client.h"
#include "client/daemon_commands.h"
#include "client/image_commands.h"

namespace fruix::client {

const std::vector<Command>& Commands() {
  static const std::vector<Command> table = {
      {"", "deploy",
       "Deploy IMAGE to a configured TARGET (or to --vm/--vdi/--network on --pool); prints the "
       "job id, or with --wait/--follow waits for the job's end",
       SetupDeploy},
      {"", "status",
       "Show one job in detail, or (without JOB) the running and queued jobs and the last 5 "
       "finished",
       SetupStatus},
      {"", "list", "List jobs, newest first, as a table", SetupList},
      {"", "watch", "Follow a job until it ends (like deploy --follow for a job already started)",
       SetupWatch},
      {"", "logs", "Print a job's console log (-f: keep printing until the job ends)", SetupLogs},
      {"", "cancel", "Cancel a queued or running job", SetupCancel},
      {"", "targets", "List the configured targets and the job holding each", SetupTargets},
      {"", "health", "Show fruixd's health: jobs, pools, store (exit 1 unless ok)", SetupHealth},
      {"", "version", "Print fruixctl's and fruixd's versions", SetupVersion},
      {"image", "check",
       "Check an image file: format, virtual size, allocated blocks and every problem found "
       "(exit 1 if it cannot be uploaded)",
       SetupImageCheck},
      {"image", "convert",
       "Write exactly the stream an upload of IMAGE would send (a dynamic VHD by default) to OUT",
       SetupImageConvert},
  };
  return table;
}

nlohmann::json ErrorJson(const Error& error, const proto::RpcError* rpc) {
  nlohmann::json e = {{"code", std::string(ErrorCodeName(error.code()))},
                      {"message", error.message()}};
  if (rpc != nullptr) {
    e["rpc_code"] = rpc->code;
    if (!rpc->data.is_null()) e["data"] = rpc->data;
  }
  return e;
}

int ReportError(const Context& ctx, const Error& error, int exit_code, const proto::RpcError* rpc) {
  if (ctx.json) {
    ctx.out << nlohmann::json{{"error", ErrorJson(error, rpc)}}.dump(2) << "\n";
  } else {
    ctx.out.flush();  // what was printed before comes first
    ctx.err << "fruixctl: " << error.message() << "\n";
  }
  return exit_code;
}

int CallErrorExitCode(const ControlClient& client) {
  using F = ControlClient::Failure;
  switch (client.last_failure()) {
    case F::kUnreachable:
    case F::kConnectionLost:
    case F::kNoAnswer:
      return kExitUnreachable;
    case F::kLimit:
      return kExitTimeout;
    default:
      return kExitFailed;
  }
}

Error CallErrorForPeople(const ControlClient& client, const Error& error) {
  const auto& rpc = client.last_rpc_error();
  if (client.last_failure() == ControlClient::Failure::kRpc && rpc &&
      rpc->code == static_cast<int>(proto::RpcCode::kBusy) && rpc->data.is_object() &&
      rpc->data.contains("job_id") && rpc->data["job_id"].is_string()) {
    const std::string job = rpc->data["job_id"].get<std::string>();
    const bool says_queue = error.message().find("--queue") != std::string::npos;
    return Error(error.code(),
                 error.message() + " (follow it: fruixctl watch " + job +
                     (says_queue ? ")" : "; or deploy with --queue to run after it)"));
  }
  return error;
}

int ReportCallError(const Context& ctx, const ControlClient& client, const Error& error) {
  const auto& rpc = client.last_failure() == ControlClient::Failure::kRpc
                        ? client.last_rpc_error()
                        : std::optional<proto::RpcError>();
  return ReportError(ctx, CallErrorForPeople(client, error), CallErrorExitCode(client),
                     rpc ? &*rpc : nullptr);
}

int ReportUsage(const Context& ctx, const std::string& message) {
  ReportError(ctx, Error::InvalidArgument(message), kExitUsage);
  if (!ctx.json) ctx.err << "Run with --help for more information.\n";
  return kExitUsage;
}

}  // namespace fruix::client
