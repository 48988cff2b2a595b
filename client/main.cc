// fruixctl — the fruixd command-line client. Commands come from the table in command.h; this file
// only builds the CLI from it, parses, and runs the chosen handler. Exit codes: command.h (and the
// --help footer below).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <map>
#include <string>

#include "client/command.h"
#include "client/control_client.h"

namespace {

constexpr const char* kFooter = R"(
fruixd's socket: --socket PATH, else $FRUIX_SOCKET, else /run/fruixd/fruixd.sock.
Exit codes: 0 ok (the job is ready), 1 the command or the job failed (also interrupted, busy),
2 usage error, 3 fruixd unreachable, 4 the job was cancelled, 5 timed out (--timeout-total
passed, or the job failed with code "timeout").)";

}  // namespace

int main(int argc, char** argv) {
  namespace fc = fruix::client;
  CLI::App app{"fruixctl: deploy OS images to XCP-ng with fruixd, and check images locally"};
  app.name("fruixctl");
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();  // global options (--json, --socket) also work after the subcommand
  bool json = false;
  std::string socket;
  app.add_flag("--json", json, "Print one JSON document instead of text");
  app.add_option("--socket", socket, "fruixd's control socket");

  std::map<std::string, CLI::App*> groups;
  std::map<CLI::App*, fc::Handler> handlers;
  for (const auto& command : fc::Commands()) {
    CLI::App* parent = &app;
    if (!command.group.empty()) {
      CLI::App*& group = groups[std::string(command.group)];
      if (group == nullptr) {
        group = app.add_subcommand(std::string(command.group),
                                   std::string(command.group) + " commands");
        group->require_subcommand(1);
      }
      parent = group;
    }
    CLI::App* sub = parent->add_subcommand(std::string(command.name), std::string(command.help));
    handlers[sub] = command.setup(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? fc::kExitOk : fc::kExitUsage;
  }

  const fc::Context ctx{json, std::cout, std::cerr, fc::ResolveSocketPath(socket),
                        ::isatty(STDOUT_FILENO) == 1};
  for (auto& [sub, handler] : handlers) {
    if (sub->parsed()) {
      try {
        return handler(ctx);
      } catch (const std::exception& e) {
        std::cerr << "fruixctl: internal error: " << e.what() << "\n";
        return fc::kExitFailed;
      }
    }
  }
  return fc::kExitUsage;
}
