// bench::SimProcess — fruix-xapi-sim run as a separate process for the upload benchmark, on
// loopback only: a pool with one host (127.0.0.1), one SR and one VDI (the import target), plain
// HTTP on an ephemeral port, no HTTPS. Owns the process: the destructor stops it (SIGTERM, then
// SIGKILL after 10 s). Used from the bench's main thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench/bench_process.h"
#include "lib/core/result.h"

namespace fruix::bench {

inline constexpr const char* kBenchHostUuid = "b0000000-0000-4000-8000-000000000011";
inline constexpr const char* kBenchSrUuid = "b0000000-0000-4000-8000-000000000031";
inline constexpr const char* kBenchVdiUuid = "b0000000-0000-4000-8000-000000000041";
inline constexpr const char* kBenchUser = "root";
inline constexpr const char* kBenchPassword = "bench";

// The fixture: one host on 127.0.0.1, a local `ext` SR whose files live in `sr` under the state
// directory, and VDI kBenchVdiUuid of `vdi_size` bytes on it.
std::string BenchFixture(uint64_t vdi_size);

class SimProcess {
 public:
  // Writes the fixture to `state_dir`/fixture.json, starts `sim_path` with it (stderr appended to
  // `state_dir`/sim.log) and waits (30 s at most) for its ready line. Errors: kIo/kTimeout with
  // the log's tail, kProtocol for an unexpected ready line.
  static Result<std::unique_ptr<SimProcess>> Start(const std::string& sim_path,
                                                   const std::string& state_dir, uint64_t vdi_size);
  // The same with a fixture of the caller's (VdiPath() then names kBenchVdiUuid's file, which
  // the fixture may not have).
  static Result<std::unique_ptr<SimProcess>> StartWithFixture(const std::string& sim_path,
                                                              const std::string& state_dir,
                                                              const std::string& fixture);
  ~SimProcess();

  pid_t pid() const { return child_.pid(); }
  uint16_t http_port() const { return http_port_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(http_port_) + "/"; }
  // The VDI's backing file (what imports write into).
  std::string VdiPath() const;

 private:
  SimProcess(ChildProcess child, std::string state_dir)
      : child_(std::move(child)), state_dir_(std::move(state_dir)) {}
  ChildProcess child_;
  std::string state_dir_;
  uint16_t http_port_ = 0;
};

}  // namespace fruix::bench
