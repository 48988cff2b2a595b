// bench::contenders — one timed import of an image into the simulator's VDI by each contender of
// the upload benchmark. Every contender is timed from its start until the import task has
// succeeded (observed by the bench), and each sample fails unless the task succeeded.
//
//   fruixd         upload::Importer::Import (format vhd, zero_fill none, force, no retries) in a
//                  child process: this executable re-run in its hidden --child-import mode, whose
//                  ru_maxrss is the peak RSS. Over plain HTTP, so the body goes by sendfile.
//   fruixd raw     the same with format raw.
//   qemu-img+curl  `qemu-img convert -O vpc -o subformat=dynamic,force_size=on SRC TMP.vhd`, then
//                  `curl -T TMP.vhd` to PUT /import_raw_vdi?...&format=vhd under a task the bench
//                  created (task.create); TMP.vhd is deleted after the run (not timed).
//   curl -T raw    `curl -T SRC` with format=raw.
// curl also gets `-sS -o /dev/null -w '%{size_upload} %{http_code}'` (output only: quiet, and the
// bytes it sent). Children's stderr goes to the run's log file.
//
// Used from the bench's main thread; the Session is borrowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bench/bench_images.h"
#include "lib/core/result.h"
#include "lib/xenapi/session.h"

namespace fruix::bench {

enum class Contender { kFruixd, kFruixdRaw, kQemuCurl, kCurlRaw };
// "fruixd", "fruixd raw", "qemu-img+curl", "curl -T raw".
std::string_view ContenderName(Contender contender);
// The format= of the PUT: "vhd" or "raw".
std::string_view ContenderFormat(Contender contender);

struct BenchContext {
  std::string self_exe;  // this executable, for --child-import
  std::string qemu_img;  // absolute paths
  std::string curl;
  std::string sim_url;  // "http://127.0.0.1:<port>/"
  pid_t sim_pid = 0;    // for the simulator's CPU time per run
  std::string vdi_uuid;
  std::string run_dir;                 // TMP.vhd lives here
  std::string log_path;                // children's stderr
  xenapi::Session* session = nullptr;  // the bench's own session (tasks for the baselines)
};

struct Sample {
  double seconds = 0;          // start -> task succeeded
  uint64_t bytes_on_wire = 0;  // the PUT's Content-Length (body bytes sent)
  uint64_t peak_rss_kib = 0;   // fruixd child; max of qemu-img and curl
  double sim_cpu_seconds = 0;  // CPU the simulator used meanwhile
  // Phases, seconds from the start. fruixd: child started and logged in -> Import() called
  // (`start`), first body bytes sent (`first_byte`: preflight, scan and digest done), last body
  // byte sent (`sent`). Baselines: qemu-img done (`first_byte`, 0 for curl raw), curl done
  // (`sent`).
  double start_s = 0;
  double first_byte_s = 0;
  double sent_s = 0;
};

// One import of `image` by `contender`. Errors: the failing step (process exit, HTTP status, task
// error_info), kCancelled on an interrupt.
Result<Sample> RunContender(const BenchContext& context, Contender contender,
                            const GeneratedImage& image);

// fruixd's planning pass (image::PlanImageStream, format vhd, zero_fill none) over `image`, timed
// in this process twice: as upload::Importer runs it (content digest on: every data block read in
// full and hashed with SHA-256) and with the zero test only (digest off: a block whose first 64 KiB
// hold data is not read further). Diagnostic: shows what the digest costs before the first byte.
struct PlanTimes {
  double with_digest_s = 0;
  uint64_t with_digest_bytes_read = 0;
  double zero_test_only_s = 0;
  uint64_t zero_test_only_bytes_read = 0;
};
Result<PlanTimes> MeasurePlanning(const GeneratedImage& image);

// The hidden child mode: argv = {exe, "--child-import", URL, VDI, IMAGE, FORMAT}. Logs in to the
// simulator, imports, and prints one JSON line (ok, bytes_sent, phase times or error). Returns the
// exit status (0 on success).
int ChildImportMain(int argc, char** argv);

// The absolute path of `name` on $PATH, or kNotFound.
Result<std::string> FindProgram(const std::string& name);

}  // namespace fruix::bench
