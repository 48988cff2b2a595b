#include "bench/bench_sim.h"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fruix::bench {
namespace {

std::string LogTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  if (s.size() > 2000) s = "..." + s.substr(s.size() - 2000);
  return s.empty() ? "(empty log)" : s;
}

}  // namespace

std::string BenchFixture(uint64_t vdi_size) {
  using nlohmann::json;
  json fixture = {
      {"_doc", "fruix-upload-bench: one host on loopback, one SR, one import target VDI"},
      {"credentials", {{"username", kBenchUser}, {"password", kBenchPassword}}},
      {"pool", {{"name_label", "bench-pool"}, {"master", kBenchHostUuid}}},
      {"hosts",
       json::array(
           {{{"uuid", kBenchHostUuid}, {"name_label", "bench-host"}, {"address", "127.0.0.1"}}})},
      {"srs", json::array({{{"uuid", kBenchSrUuid},
                            {"name_label", "bench-sr"},
                            {"type", "ext"},
                            {"shared", false},
                            {"physical_size", static_cast<int64_t>(vdi_size) * 2},
                            {"backing_dir", "sr"}}})},
      {"vdis", json::array({{{"uuid", kBenchVdiUuid},
                             {"name_label", "bench-target"},
                             {"sr", kBenchSrUuid},
                             {"virtual_size", static_cast<int64_t>(vdi_size)},
                             {"backing_file", "bench-vdi.img"}}})},
  };
  return fixture.dump(2) + "\n";
}

Result<std::unique_ptr<SimProcess>> SimProcess::Start(const std::string& sim_path,
                                                      const std::string& state_dir,
                                                      uint64_t vdi_size) {
  return StartWithFixture(sim_path, state_dir, BenchFixture(vdi_size));
}

Result<std::unique_ptr<SimProcess>> SimProcess::StartWithFixture(const std::string& sim_path,
                                                                 const std::string& state_dir,
                                                                 const std::string& fixture) {
  const std::string fixture_path = state_dir + "/fixture.json";
  const std::string log_path = state_dir + "/sim.log";
  {
    std::ofstream out(fixture_path);
    out << fixture;
    if (!out) return Error::Io("cannot write " + fixture_path);
  }
  RunOptions options;
  options.capture_stdout = true;
  options.stderr_path = log_path;
  FRUIX_ASSIGN_OR_RETURN(ChildProcess child,
                         ChildProcess::Start({sim_path, "--fixture", fixture_path, "--http-port",
                                              "0", "--https-port", "-1", "--admin-port", "0",
                                              "--state-dir", state_dir, "--log-level", "warn"},
                                             options));
  auto line = child.ReadLine(std::chrono::seconds(30));
  if (!line.ok()) {
    return line.error().WithContext("fruix-xapi-sim did not become ready; its log: " +
                                    LogTail(log_path));
  }
  std::unique_ptr<SimProcess> sim(new SimProcess(std::move(child), state_dir));
  try {
    const auto ready = nlohmann::json::parse(*line);
    if (!ready.value("ready", false)) throw std::runtime_error("not ready");
    sim->http_port_ = ready.at("http_port").get<uint16_t>();
  } catch (const std::exception& e) {
    return Error::Protocol("unexpected ready line from fruix-xapi-sim: " + *line + " (" + e.what() +
                           ")");
  }
  return sim;
}

SimProcess::~SimProcess() {
  if (child_.pid() <= 0) return;
  child_.Signal(SIGTERM);
  // A clean stop within 10 s; otherwise the ChildProcess destructor kills what is left.
  (void)child_.WaitFor(std::chrono::seconds(10));
}

std::string SimProcess::VdiPath() const { return state_dir_ + "/sr/bench-vdi.img"; }

}  // namespace fruix::bench
