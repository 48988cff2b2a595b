// fruixd — the deployment daemon. Everything lives in daemon::Daemon (daemon.h); this file parses
// the command line. Exit codes: 0 after a clean stop (or a valid --check-config), 1 when startup
// fails (the reason on stderr), 2 for a bad command line.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "daemon/config.h"
#include "daemon/daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"fruixd: deploys OS images to XCP-ng VMs and proves that they boot"};
  app.name("fruixd");
  std::string config_path(fruix::daemon::kDefaultConfigPath);
  bool check_only = false;
  app.add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  app.add_flag("--check-config", check_only,
               "Load and check the configuration, print a summary, and exit");
  app.set_version_flag("--version", std::string("fruixd ") + std::string(fruix::daemon::kVersion));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (check_only) {
    auto config = fruix::daemon::LoadConfig(config_path);
    if (!config.ok()) {
      std::cerr << "fruixd: " << config.error().message() << "\n";
      return 1;
    }
    for (const auto& w : config->warnings) std::cerr << "fruixd: warning: " << w << "\n";
    std::cout << config_path << ": OK (" << config->pools.size() << " pools, "
              << config->targets.size() << " targets)\n";
    return 0;
  }

  std::signal(SIGPIPE, SIG_IGN);
  auto daemon = fruix::daemon::Daemon::Start(config_path);
  if (!daemon.ok()) {
    std::cerr << "fruixd: " << daemon.error().message() << "\n";
    return 1;
  }
  return (*daemon)->Run();
}
