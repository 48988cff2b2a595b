// bench::RunBench — the whole upload benchmark of issue 3 item 8, in one run:
//   1. a run directory under the work directory (mkdtemp), removed at the end, also on failure
//      and on SIGINT/SIGTERM; images there too unless --keep-images (then in
//      <work-dir>/fruix-upload-bench-images, kept and reused when identical);
//   2. the images: dense, sparse, zeros of --size and the large sparse one, generated (fsync'ed)
//      before anything is timed;
//   3. fruix-xapi-sim started as a separate process with the bench fixture (bench_sim.h);
//   4. one untimed warm-up import (fruixd raw of `dense`) so that the VDI's backing file is
//      allocated before the first timed run;
//   5. --runs rounds; each round runs every (case, contender) once, the contenders' order rotated
//      by one per round so that no contender always follows the same one;
//   6. the large sparse image imported once by fruixd (its peak RSS is a target);
//   7. the table and targets on stdout, JSON to --json.
// Returns the exit status: 0 all targets pass, 1 some missed, 2 the bench itself failed, 130
// interrupted. Runs on the main thread.
#pragma once

#include <cstdint>
#include <string>

namespace fruix::bench {

struct BenchOptions {
  uint64_t size = 2ULL << 30;
  int runs = 3;
  bool quick = false;          // allows runs < 3; large case defaults to 10 x size
  double fraction = 0.10;      // sparse / zeros data share
  uint64_t big_size = 0;       // 0 = default: 20 GiB, or 10 x size with --quick
  double big_fraction = 0.01;  // data share of the large sparse image
  std::string work_dir;        // default $TMPDIR or /tmp
  std::string sim_path;        // default: fruix-xapi-sim built alongside
  bool keep_images = false;
  std::string json_path;
  uint64_t seed = 20240601;
};

int RunBench(const BenchOptions& options);

}  // namespace fruix::bench
