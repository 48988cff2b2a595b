// bench::report — the upload benchmark's figures: per (case, contender) the samples of every run,
// their median, bytes on the wire, throughput and peak RSS; ratios against the baselines; the
// issue's targets (issue 3, item 8) with PASS/FAIL; a text table and a JSON document. Values only;
// single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bench/bench_contenders.h"
#include "bench/bench_images.h"

namespace fruix::bench {

struct Row {
  std::string case_name;
  Contender contender = Contender::kFruixd;
  uint64_t image_size = 0;
  std::vector<Sample> samples;  // one per run, in run order

  double MedianSeconds() const;
  double MedianOf(double Sample::*field) const;
  uint64_t BytesOnWire() const;  // of the first sample (all runs send the same body)
  bool BytesConsistent() const;  // every run sent the same number of bytes
  uint64_t PeakRssKib() const;   // max over the runs
};

struct Target {
  std::string name;  // "dense: fruixd / qemu-img+curl"
  double value = 0;  // measured ratio, or MiB for RSS
  double limit = 0;
  std::string unit;  // "x" or "MiB"
  bool measured = false;
  bool pass = false;
};

struct BenchConfig {
  uint64_t size = 0;
  int runs = 0;
  bool quick = false;
  double fraction = 0;
  uint64_t big_size = 0;
  double big_fraction = 0;
  std::string zero_fill = "none";
};

struct Report {
  BenchConfig config;
  std::vector<GeneratedImage> cases;       // dense, sparse, zeros
  std::vector<PlanTimes> planning;         // per case, same order (diagnostic)
  std::string loadavg_start, loadavg_end;  // /proc/loadavg around the timed part
  std::vector<Row> rows;
  std::optional<GeneratedImage> big_case;
  std::optional<Row> big_row;
  std::vector<Target> targets;

  const Row* Find(const std::string& case_name, Contender contender) const;
  // Fills `targets` from the rows.
  void EvaluateTargets();
  bool AllPass() const;
};

// The human-readable table, ratios and targets.
void PrintReport(const Report& report, std::ostream& out);
// The same figures as a JSON document (see the README's Benchmarks section).
std::string ReportJson(const Report& report);

}  // namespace fruix::bench
