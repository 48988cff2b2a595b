// fruixctl — the fruixd command-line client. Commands come from the table in command.h; this file
// only builds the CLI from it, parses, and runs the chosen handler. Exit codes: 0 ok, 1 failed or
// unusable, 2 usage error.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <map>
#include <string>

#include "client/command.h"

int main(int argc, char** argv) {
  using fruix::client::Commands;
  CLI::App app{"fruixctl: deploy OS images to XCP-ng with fruixd, and check images locally"};
  app.name("fruixctl");
  app.require_subcommand(1);
  app.fallthrough();  // global options (--json) also work after the subcommand
  bool json = false;
  app.add_flag("--json", json, "Print one JSON document instead of text");

  std::map<std::string, CLI::App*> groups;
  std::map<CLI::App*, fruix::client::Handler> handlers;
  for (const auto& command : Commands()) {
    CLI::App*& group = groups[std::string(command.group)];
    if (group == nullptr) {
      group =
          app.add_subcommand(std::string(command.group), std::string(command.group) + " commands");
      group->require_subcommand(1);
    }
    CLI::App* sub = group->add_subcommand(std::string(command.name), std::string(command.help));
    handlers[sub] = command.setup(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? fruix::client::kExitOk : fruix::client::kExitUsage;
  }

  const fruix::client::Context ctx{json, std::cout, std::cerr};
  for (auto& [sub, handler] : handlers) {
    if (sub->parsed()) {
      try {
        return handler(ctx);
      } catch (const std::exception& e) {
        std::cerr << "fruixctl: internal error: " << e.what() << "\n";
        return fruix::client::kExitFailed;
      }
    }
  }
  return fruix::client::kExitUsage;
}
