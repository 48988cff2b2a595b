// Test support: run a program (no shell) with a deadline and capture its exit status, stdout and
// stderr. Used to drive qemu-img, vhdiinfo and fruixctl as real processes. Single-threaded use.
#pragma once

#include <string>
#include <vector>

namespace fruix::image::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 if it could not run, was killed, or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH) with argv; kills it after `timeout_seconds`.
ProcessResult RunProcess(const std::vector<std::string>& argv, int timeout_seconds = 60);

// True if `program` can be found in PATH.
bool HaveProgram(const std::string& program);

}  // namespace fruix::image::testing
