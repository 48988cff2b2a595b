#include "bench/bench_runner.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "bench/bench_contenders.h"
#include "bench/bench_images.h"
#include "bench/bench_process.h"
#include "bench/bench_report.h"
#include "bench/bench_sim.h"
#include "lib/http/curl_http_client.h"
#include "lib/xenapi/session.h"

#ifndef FRUIX_BENCH_DEFAULT_SIM
#define FRUIX_BENCH_DEFAULT_SIM ""
#endif

namespace fruix::bench {
namespace {

// Removes a directory tree when it goes out of scope (unless released).
class ScopedDir {
 public:
  explicit ScopedDir(std::string path) : path_(std::move(path)) {}
  ~ScopedDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedDir(const ScopedDir&) = delete;
  ScopedDir& operator=(const ScopedDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Result<std::string> MakeRunDir(const std::string& work_dir) {
  std::string tmpl = work_dir + "/fruix-upload-bench.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Error::Io("cannot create a directory in " + work_dir + ": " + std::strerror(errno));
  }
  return tmpl;
}

Result<std::string> SimPath(const BenchOptions& options) {
  if (!options.sim_path.empty()) return options.sim_path;
  const std::string built = FRUIX_BENCH_DEFAULT_SIM;
  if (!built.empty() && ::access(built.c_str(), X_OK) == 0) return built;
  return FindProgram("fruix-xapi-sim");
}

std::string LogTail(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 3000) text = "..." + text.substr(text.size() - 3000);
  return text;
}

struct CasePlan {
  GeneratedImage image;
  std::vector<Contender> contenders;
};

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

int Fail(const Error& error, const std::string& log_path) {
  if (error.code() == ErrorCode::kCancelled || Interrupted()) {
    std::cerr << "fruix-upload-bench: interrupted; cleaning up\n";
    return 130;
  }
  std::cerr << "fruix-upload-bench: " << error.ToString() << "\n";
  const std::string tail = log_path.empty() ? "" : LogTail(log_path);
  if (!tail.empty()) std::cerr << "--- simulator and child log (tail) ---\n" << tail << "\n";
  return 2;
}

}  // namespace

int RunBench(const BenchOptions& options) {
  InstallInterruptHandler();
  const int runs = options.runs;
  const uint64_t big_size =
      options.big_size != 0 ? options.big_size : (options.quick ? 10 * options.size : 20ULL << 30);
  const std::string work_dir = !options.work_dir.empty() ? options.work_dir
                               : std::getenv("TMPDIR") != nullptr && *std::getenv("TMPDIR")
                                   ? std::string(std::getenv("TMPDIR"))
                                   : std::string("/tmp");

  auto self = SelfExecutable();
  auto sim_path = SimPath(options);
  auto qemu_img = FindProgram("qemu-img");
  auto curl = FindProgram("curl");
  for (const Result<std::string>* r : {&self, &sim_path, &qemu_img, &curl}) {
    if (!r->ok()) return Fail(r->error(), "");
  }
  auto run_dir_path = MakeRunDir(work_dir);
  if (!run_dir_path.ok()) return Fail(run_dir_path.error(), "");
  ScopedDir run_dir(*run_dir_path);
  const std::string log_path = run_dir.path() + "/children.log";
  std::string image_dir = run_dir.path() + "/images";
  if (options.keep_images) image_dir = work_dir + "/fruix-upload-bench-images";
  std::error_code ec;
  std::filesystem::create_directories(image_dir, ec);
  std::filesystem::create_directories(run_dir.path() + "/sim", ec);

  // 1. Images, before anything is timed.
  Report report;
  report.config = {options.size,         runs,  options.quick, options.fraction, big_size,
                   options.big_fraction, "none"};
  const std::vector<Contender> all = {Contender::kFruixd, Contender::kQemuCurl, Contender::kCurlRaw,
                                      Contender::kFruixdRaw};
  const std::vector<Contender> three = {Contender::kFruixd, Contender::kQemuCurl,
                                        Contender::kCurlRaw};
  std::vector<CasePlan> cases;
  const std::vector<std::pair<ImageSpec, std::vector<Contender>>> specs = {
      {{"dense", ImageKind::kDense, options.size, 1.0, options.seed}, all},
      {{"sparse", ImageKind::kSparse, options.size, options.fraction, options.seed + 1}, three},
      {{"zeros", ImageKind::kZeros, options.size, options.fraction, options.seed + 1}, three},
  };
  for (const auto& [spec, contenders] : specs) {
    std::cerr << "generating " << spec.name << " image (" << spec.size << " bytes)...\n";
    auto image = GenerateImage(spec, image_dir + "/" + spec.name + ".img", options.keep_images);
    if (!image.ok()) return Fail(image.error(), "");
    cases.push_back({*image, contenders});
    report.cases.push_back(*image);
  }
  const std::string big_name = "sparse-" + std::to_string(big_size >> 30) + "g";
  ImageSpec big_spec{
      big_size % (1ULL << 30) == 0 ? big_name : "sparse-" + std::to_string(big_size >> 20) + "m",
      ImageKind::kSparse, big_size, options.big_fraction, options.seed + 2};
  std::cerr << "generating " << big_spec.name << " image...\n";
  auto big = GenerateImage(big_spec, image_dir + "/" + big_spec.name + ".img", options.keep_images);
  if (!big.ok()) return Fail(big.error(), "");
  report.big_case = *big;

  // 2. The simulator; the VDI holds the largest image.
  const uint64_t vdi_size =
      (std::max(options.size, big_size) + kVhdBlockSize - 1) / kVhdBlockSize * kVhdBlockSize;
  auto sim = SimProcess::Start(*sim_path, run_dir.path() + "/sim", vdi_size);
  if (!sim.ok()) return Fail(sim.error(), "");

  http::CurlHttpClientOptions http_options;
  auto http = http::CurlHttpClient::Create(std::move(http_options));
  if (!http.ok()) return Fail(http.error(), log_path);
  xenapi::SessionOptions session_options;
  session_options.url = (*sim)->Url();
  session_options.username = kBenchUser;
  session_options.password = kBenchPassword;
  session_options.originator = "fruix-upload-bench";
  xenapi::Session session(**http, session_options);
  if (auto login = session.Login(); !login.ok()) return Fail(login.error(), log_path);

  BenchContext context;
  context.self_exe = *self;
  context.qemu_img = *qemu_img;
  context.curl = *curl;
  context.sim_url = (*sim)->Url();
  context.sim_pid = (*sim)->pid();
  context.vdi_uuid = kBenchVdiUuid;
  context.run_dir = run_dir.path();
  context.log_path = log_path;
  context.session = &session;

  // 3. Warm-up (untimed): allocates the VDI's backing file up to --size.
  std::cerr << "warm-up import (fruixd raw, dense, not timed)...\n";
  if (auto warm = RunContender(context, Contender::kFruixdRaw, cases[0].image); !warm.ok()) {
    return Fail(warm.error(), log_path);
  }

  // 4. Interleaved runs.
  for (const CasePlan& c : cases) {
    for (Contender contender : c.contenders) {
      report.rows.push_back({c.image.spec.name, contender, c.image.file_size, {}});
    }
  }
  report.loadavg_start = LoadAverage();
  for (int run = 0; run < runs; ++run) {
    for (const CasePlan& c : cases) {
      const size_t n = c.contenders.size();
      for (size_t k = 0; k < n; ++k) {
        const Contender contender = c.contenders[(k + static_cast<size_t>(run)) % n];
        auto sample = RunContender(context, contender, c.image);
        if (!sample.ok()) {
          return Fail(sample.error().WithContext(c.image.spec.name + " / " +
                                                 std::string(ContenderName(contender))),
                      log_path);
        }
        std::cerr << "run " << run + 1 << "/" << runs << "  " << c.image.spec.name << "  "
                  << ContenderName(contender) << "  " << sample->seconds << " s  "
                  << sample->bytes_on_wire << " bytes  " << sample->peak_rss_kib << " KiB RSS\n";
        for (Row& row : report.rows) {
          if (row.case_name == c.image.spec.name && row.contender == contender) {
            row.samples.push_back(*sample);
          }
        }
      }
    }
  }

  report.loadavg_end = LoadAverage();

  // Diagnostic: what fruixd's planning pass costs by itself, with and without the digest.
  for (const CasePlan& c : cases) {
    auto times = MeasurePlanning(c.image);
    if (!times.ok()) return Fail(times.error().WithContext(c.image.spec.name), log_path);
    report.planning.push_back(*times);
  }

  // 5. The large sparse image, once.
  std::cerr << "importing " << big->spec.name << " once (fruixd)...\n";
  auto big_sample = RunContender(context, Contender::kFruixd, *big);
  if (!big_sample.ok()) return Fail(big_sample.error().WithContext(big->spec.name), log_path);
  report.big_row = Row{big->spec.name, Contender::kFruixd, big->file_size, {*big_sample}};

  // 6. Report.
  report.EvaluateTargets();
  PrintReport(report, std::cout);
  if (!options.json_path.empty()) {
    std::ofstream out(options.json_path);
    out << ReportJson(report);
    if (!out) {
      std::cerr << "fruix-upload-bench: cannot write " << options.json_path << "\n";
      return 2;
    }
  }
  return report.AllPass() ? 0 : 1;
}

}  // namespace fruix::bench
