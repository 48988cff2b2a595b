#include "bench/bench_contenders.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/bench_process.h"
#include "bench/bench_sim.h"
#include "lib/core/clock.h"
#include "lib/http/curl_http_client.h"
#include "lib/image/image_source.h"
#include "lib/image/image_stream.h"
#include "lib/upload/importer.h"
#include "lib/xenapi/api.h"
#include "lib/xenapi/tasks.h"

namespace fruix::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Seconds on the monotonic clock, comparable between processes (CLOCK_MONOTONIC).
double MonotonicSeconds() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

constexpr std::chrono::hours kTaskBudget{2};

std::string ImportUrl(const BenchContext& context, const OpaqueRef& session, const OpaqueRef& task,
                      std::string_view format) {
  // The refs are "OpaqueRef:<uuid>": nothing in them needs escaping in a query.
  return context.sim_url + "import_raw_vdi?session_id=" + session.str() + "&task_id=" + task.str() +
         "&vdi=" + context.vdi_uuid + "&format=" + std::string(format);
}

// Runs `curl -T file url` (plus output-only flags) and checks that it sent the whole file and got
// HTTP 200. Returns the bytes curl uploaded.
Result<uint64_t> RunCurl(const BenchContext& context, const std::string& file,
                         const std::string& url, uint64_t* rss_kib) {
  RunOptions options;
  options.capture_stdout = true;
  options.stderr_path = context.log_path;
  FRUIX_ASSIGN_OR_RETURN(ProcessResult curl,
                         RunProcess({context.curl, "-sS", "-o", "/dev/null", "-w",
                                     "%{size_upload} %{http_code}", "-T", file, url},
                                    options));
  *rss_kib = std::max(*rss_kib, curl.max_rss_kib);
  if (!curl.ok()) {
    return Error::Transport("curl -T " + file + ": " + curl.Describe() + " (see " +
                            context.log_path + ")");
  }
  std::istringstream out(curl.stdout_text);
  double uploaded = 0;
  int status = 0;
  out >> uploaded >> status;
  if (status != 200) {
    return Error::Transport("curl -T " + file + ": HTTP " + std::to_string(status));
  }
  return static_cast<uint64_t>(uploaded);
}

// Waits for the task the bench created and returns its verdict (then destroys it).
Result<void> AwaitTask(xenapi::Session& session, const OpaqueRef& task) {
  xenapi::ScopedTask scoped(session, task);
  FRUIX_ASSIGN_OR_RETURN(xenapi::TaskRecord record,
                         xenapi::WaitForTask(session, task, Deadline(RealClock(), kTaskBudget)));
  auto outcome = xenapi::TaskOutcome(record);
  if (!outcome.ok()) return outcome.error().WithContext("import task");
  return Ok();
}

Result<Sample> RunFruixd(const BenchContext& context, const GeneratedImage& image,
                         std::string_view format) {
  Sample sample;
  const double sim_cpu = ProcessCpuSeconds(context.sim_pid);
  const double t0 = MonotonicSeconds();
  RunOptions options;
  options.capture_stdout = true;
  options.stderr_path = context.log_path;
  FRUIX_ASSIGN_OR_RETURN(ProcessResult child,
                         RunProcess({context.self_exe, "--child-import", context.sim_url,
                                     context.vdi_uuid, image.path, std::string(format)},
                                    options));
  sample.seconds = MonotonicSeconds() - t0;
  sample.sim_cpu_seconds = ProcessCpuSeconds(context.sim_pid) - sim_cpu;
  sample.peak_rss_kib = child.max_rss_kib;
  FRUIX_RETURN_IF_ERROR(CheckInterrupted());
  nlohmann::json result;
  try {
    result = nlohmann::json::parse(child.stdout_text);
  } catch (const std::exception&) {
    return Error::Internal("fruixd import child (" + child.Describe() +
                           ") printed no result; see " + context.log_path);
  }
  if (!child.ok() || !result.value("ok", false)) {
    return Error::Internal("fruixd import of " + image.path +
                           " failed: " + result.value("error", child.Describe()));
  }
  sample.bytes_on_wire = result.value("bytes_sent", uint64_t{0});
  sample.start_s = result.value("start", t0) - t0;
  sample.first_byte_s = result.value("first_byte", t0) - t0;
  sample.sent_s = result.value("sent", t0) - t0;
  return sample;
}

Result<Sample> RunBaseline(const BenchContext& context, const GeneratedImage& image, bool convert) {
  Sample sample;
  xenapi::Session& session = *context.session;
  xenapi::Api api(session);
  FRUIX_ASSIGN_OR_RETURN(OpaqueRef session_ref, session.SessionRef());
  const std::string tmp = context.run_dir + "/TMP.vhd";
  const double sim_cpu = ProcessCpuSeconds(context.sim_pid);
  const double t0 = MonotonicSeconds();
  FRUIX_ASSIGN_OR_RETURN(
      OpaqueRef task,
      api.TaskCreate("fruix-upload-bench", std::string(convert ? "qemu-img+curl" : "curl raw")));
  std::string file = image.path;
  if (convert) {
    RunOptions options;
    options.stderr_path = context.log_path;
    auto qemu = RunProcess({context.qemu_img, "convert", "-O", "vpc", "-o",
                            "subformat=dynamic,force_size=on", image.path, tmp},
                           options);
    if (!qemu.ok() || !qemu->ok()) {
      (void)api.TaskDestroy(task);
      ::unlink(tmp.c_str());
      return qemu.ok() ? Error::Internal("qemu-img convert: " + qemu->Describe() + " (see " +
                                         context.log_path + ")")
                       : qemu.error();
    }
    sample.peak_rss_kib = qemu->max_rss_kib;
    sample.first_byte_s = MonotonicSeconds() - t0;
    file = tmp;
  }
  auto uploaded =
      RunCurl(context, file, ImportUrl(context, session_ref, task, convert ? "vhd" : "raw"),
              &sample.peak_rss_kib);
  sample.sent_s = MonotonicSeconds() - t0;
  Result<void> verdict = uploaded.ok() ? AwaitTask(session, task) : Result<void>(uploaded.error());
  sample.seconds = MonotonicSeconds() - t0;
  sample.sim_cpu_seconds = ProcessCpuSeconds(context.sim_pid) - sim_cpu;
  if (!uploaded.ok()) (void)api.TaskDestroy(task);
  if (convert) {
    struct stat st {};
    const bool have = ::stat(tmp.c_str(), &st) == 0;
    ::unlink(tmp.c_str());
    if (uploaded.ok() && have && *uploaded != static_cast<uint64_t>(st.st_size)) {
      return Error::Internal("curl sent " + std::to_string(*uploaded) + " bytes of a " +
                             std::to_string(st.st_size) + "-byte TMP.vhd");
    }
  }
  FRUIX_RETURN_IF_ERROR(CheckInterrupted());
  FRUIX_RETURN_IF_ERROR(verdict);
  sample.bytes_on_wire = *uploaded;
  return sample;
}

}  // namespace

std::string_view ContenderName(Contender contender) {
  switch (contender) {
    case Contender::kFruixd:
      return "fruixd";
    case Contender::kFruixdRaw:
      return "fruixd raw";
    case Contender::kQemuCurl:
      return "qemu-img+curl";
    case Contender::kCurlRaw:
      return "curl -T raw";
  }
  return "?";
}

std::string_view ContenderFormat(Contender contender) {
  return contender == Contender::kFruixd || contender == Contender::kQemuCurl ? "vhd" : "raw";
}

Result<Sample> RunContender(const BenchContext& context, Contender contender,
                            const GeneratedImage& image) {
  switch (contender) {
    case Contender::kFruixd:
    case Contender::kFruixdRaw:
      return RunFruixd(context, image, ContenderFormat(contender));
    case Contender::kQemuCurl:
      return RunBaseline(context, image, /*convert=*/true);
    case Contender::kCurlRaw:
      return RunBaseline(context, image, /*convert=*/false);
  }
  return Error::Internal("unknown contender");
}

Result<PlanTimes> MeasurePlanning(const GeneratedImage& image) {
  PlanTimes times;
  FRUIX_ASSIGN_OR_RETURN(image::ImageSource source, image::ImageSource::Open(image.path));
  for (bool digest : {true, false}) {
    image::PlanOptions options;
    options.format = image::StreamFormat::kVhd;
    options.zero_fill = image::ZeroFill::kNone;
    options.digest = digest;
    const double t0 = MonotonicSeconds();
    FRUIX_ASSIGN_OR_RETURN(image::PlannedStream planned, image::PlanImageStream(source, options));
    const double seconds = MonotonicSeconds() - t0;
    (digest ? times.with_digest_s : times.zero_test_only_s) = seconds;
    (digest ? times.with_digest_bytes_read : times.zero_test_only_bytes_read) =
        planned.scan.bytes_read;
    FRUIX_RETURN_IF_ERROR(CheckInterrupted());
  }
  return times;
}

int ChildImportMain(int argc, char** argv) {
  nlohmann::json out;
  const double start = MonotonicSeconds();
  auto fail = [&](const std::string& message) {
    out = {{"ok", false}, {"error", message}};
    std::cout << out.dump() << std::endl;
    return 1;
  };
  if (argc != 6) return fail("usage: --child-import URL VDI IMAGE FORMAT");
  const std::string url = argv[2], vdi = argv[3], image = argv[4];
  auto format = image::ParseStreamFormat(argv[5]);
  if (!format.ok()) return fail(format.error().ToString());

  http::CurlHttpClientOptions http_options;
  auto http = http::CurlHttpClient::Create(std::move(http_options));
  if (!http.ok()) return fail(http.error().ToString());
  xenapi::SessionOptions session_options;
  session_options.url = url;
  session_options.username = kBenchUser;
  session_options.password = kBenchPassword;
  session_options.originator = "fruix-upload-bench";
  xenapi::Session session(**http, session_options);
  if (auto login = session.Login(); !login.ok()) return fail(login.error().ToString());

  upload::ImportOptions options;
  options.format = *format;
  options.zero_fill = image::ZeroFill::kNone;
  options.force = true;
  options.retries = 0;
  double first_byte = 0, sent = 0;
  options.progress = [&](const upload::ImportProgress& p) {
    if (p.bytes_sent > 0 && first_byte == 0) first_byte = MonotonicSeconds();
    if (p.bytes_sent == p.bytes_total && sent == 0) sent = MonotonicSeconds();
  };
  upload::Importer importer(session, **http);
  const double import_start = MonotonicSeconds();
  auto result = importer.Import(vdi, image, options);
  const double end = MonotonicSeconds();
  if (!result.ok()) return fail(result.error().ToString());
  out = {{"ok", true},
         {"bytes_sent", result->bytes_sent},
         {"data_blocks", result->data_blocks},
         {"zero_blocks", result->zero_blocks},
         {"attempts", result->attempts},
         {"process_start", start},
         {"start", import_start},
         {"first_byte", first_byte},
         {"sent", sent},
         {"end", end}};
  std::cout << out.dump() << std::endl;
  return 0;
}

Result<std::string> FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return Error::NotFound(name + " not found on PATH");
}

}  // namespace fruix::bench
