// fruix-upload-bench: times fruixd's image upload against qemu-img convert + curl and against
// curl -T of the raw file, into fruix-xapi-sim on loopback (issue 3, item 8). See
// bench/bench_runner.h for what one run does and README.md (Benchmarks) for how to read it.
// The hidden first argument --child-import runs one fruixd import (bench_contenders.h).
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "bench/bench_contenders.h"
#include "bench/bench_runner.h"

namespace {

// "2G", "2GiB", "32M", "512K", "1073741824" -> bytes (binary units).
std::optional<uint64_t> ParseSize(const std::string& text) {
  size_t used = 0;
  uint64_t value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit = text.substr(used);
  for (char& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (unit.ends_with("IB")) unit.resize(unit.size() - 2);
  if (unit.ends_with("B") && unit.size() == 2) unit.resize(1);
  int shift = 0;
  if (unit == "K") {
    shift = 10;
  } else if (unit == "M") {
    shift = 20;
  } else if (unit == "G") {
    shift = 30;
  } else if (unit == "T") {
    shift = 40;
  } else if (!unit.empty() && unit != "B") {
    return std::nullopt;
  }
  return value << shift;
}

}  // namespace

int main(int argc, char** argv) {
  // Library diagnostics go to stderr (stdout carries the table, and the child's result line);
  // only warnings and errors.
  spdlog::set_default_logger(spdlog::stderr_logger_st("fruix-upload-bench"));
  spdlog::set_level(spdlog::level::warn);
  if (argc > 1 && std::strcmp(argv[1], "--child-import") == 0) {
    return fruix::bench::ChildImportMain(argc, argv);
  }
  CLI::App app{
      "fruix-upload-bench: fruixd upload vs qemu-img+curl and curl -T, into fruix-xapi-sim"};
  fruix::bench::BenchOptions options;
  std::string size = "2G", big_size;
  app.add_option("--size", size, "image size (K/M/G suffixes, binary; default 2G)");
  app.add_option("--runs", options.runs, "timed runs per contender (default 3, at least 3)");
  app.add_flag("--quick", options.quick,
               "allow fewer than 3 runs; the large sparse case defaults to 10 x --size");
  app.add_option("--big-size", big_size, "size of the large sparse image (default 20G)");
  app.add_option("--big-fraction", options.big_fraction,
                 "share of data in the large sparse image (default 0.01)");
  app.add_option("--work-dir", options.work_dir,
                 "where images and the simulator's state go (default $TMPDIR or /tmp)");
  app.add_option("--sim", options.sim_path,
                 "fruix-xapi-sim binary (default: the one built alongside)");
  app.add_flag("--keep-images", options.keep_images,
               "keep the images in WORK_DIR/fruix-upload-bench-images and reuse them");
  app.add_option("--json", options.json_path, "also write the figures as JSON to this file");
  CLI11_PARSE(app, argc, argv);

  auto parsed = ParseSize(size);
  if (!parsed || *parsed < 4 * fruix::bench::kMiB || *parsed % fruix::bench::kMiB != 0) {
    std::cerr << "fruix-upload-bench: --size must be a multiple of 1 MiB, at least 4 MiB\n";
    return 2;
  }
  options.size = *parsed;
  if (!big_size.empty()) {
    auto big = ParseSize(big_size);
    if (!big || *big < 4 * fruix::bench::kMiB || *big % fruix::bench::kMiB != 0) {
      std::cerr << "fruix-upload-bench: --big-size must be a multiple of 1 MiB, at least 4 MiB\n";
      return 2;
    }
    options.big_size = *big;
  }
  if (options.runs < 1 || (options.runs < 3 && !options.quick)) {
    std::cerr << "fruix-upload-bench: --runs must be at least 3 (or at least 1 with --quick)\n";
    return 2;
  }
  return fruix::bench::RunBench(options);
}
