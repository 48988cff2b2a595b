// fruix-xapi-sim: a wire-faithful XCP-ng (xapi) simulator. See lib/sim/simulator.h for what it
// serves, config/sim-fixture.md for the fixture format and the admin endpoint.
// Prints one JSON line on stdout when ready, then runs until SIGTERM/SIGINT.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "lib/sim/simulator.h"

int main(int argc, char** argv) {
  CLI::App app{"fruix-xapi-sim: simulated XCP-ng pool speaking XenAPI"};
  std::string fixture_file, log_level = "info";
  fruix::sim::SimulatorOptions opts;
  app.add_option("--fixture", fixture_file, "pool fixture (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--http-port", opts.http_port,
                 "XenAPI HTTP port on every host address (0 = ephemeral, -1 = off)");
  app.add_option("--https-port", opts.https_port,
                 "XenAPI HTTPS port on every host address (0 = ephemeral, -1 = off)");
  app.add_option("--admin-port", opts.admin_port,
                 "admin endpoint port on 127.0.0.1 (0 = ephemeral, -1 = off)");
  app.add_option("--state-dir", opts.state_dir,
                 "directory for SR backing files (default: a new temp dir)");
  app.add_option("--tls-cert", opts.tls_cert_file,
                 "PEM certificate (default: generated self-signed)");
  app.add_option("--tls-key", opts.tls_key_file, "PEM private key for --tls-cert");
  app.add_option("--log-level", log_level, "error|warn|info|debug (diagnostics on stderr)");
  CLI11_PARSE(app, argc, argv);
  if (opts.tls_cert_file.empty() != opts.tls_key_file.empty()) {
    std::cerr << "fruix-xapi-sim: --tls-cert and --tls-key go together\n";
    return 2;
  }

  std::ifstream in(fixture_file);
  std::stringstream text;
  text << in.rdbuf();
  opts.fixture_json = text.str();
  if (opts.state_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fruix-xapi-sim.XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("fruix-xapi-sim: mkdtemp");
      return 1;
    }
    opts.state_dir = tmpl;
  }

  // Block the shutdown signals before any thread starts so that only sigwait() sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto sim = fruix::sim::Simulator::Start(std::move(opts));
  if (!sim.ok()) {
    std::cerr << "fruix-xapi-sim: " << sim.error().ToString() << "\n";
    return 1;
  }
  if (log_level == "debug" || log_level == "info") {
    std::cerr << "fruix-xapi-sim: TLS certificate SHA-256 fingerprint "
              << (*sim)->tls_fingerprint_sha256() << "\n";
  }
  std::cout << (*sim)->ReadyJson() << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  if (log_level != "error") std::cerr << "fruix-xapi-sim: signal " << sig << ", stopping\n";
  (*sim)->Stop();
  return 0;
}
