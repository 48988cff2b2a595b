// `fruixctl deploy` and `fruixctl watch`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "client/daemon_commands.h"
#include "client/format.h"
#include "client/job_follow.h"

namespace fruix::client {

namespace {

// The image, opened with the user's own rights (the daemon never opens a client's path).
class ImageFile {
 public:
  static Result<std::unique_ptr<ImageFile>> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error::Io("cannot open image " + path + ": " + std::strerror(errno));
    auto file = std::unique_ptr<ImageFile>(new ImageFile(fd));
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Error::Io("cannot stat image " + path);
    if (S_ISDIR(st.st_mode)) return Error::InvalidArgument("image " + path + " is a directory");
    return file;
  }
  ~ImageFile() { ::close(fd_); }
  int fd() const { return fd_; }

 private:
  explicit ImageFile(int fd) : fd_(fd) {}
  int fd_;
};

struct WaitFlags {
  bool wait = false;
  bool follow = false;
  bool console = false;
  std::string timeout_total;
};

void AddWaitFlags(CLI::App& app, WaitFlags& w, bool with_wait) {
  if (with_wait) {
    app.add_flag("--wait", w.wait, "Wait for the job's end and print its summary");
    app.add_flag("--follow", w.follow,
                 "Show the job's phases and upload progress live, then its summary");
  }
  app.add_flag("--console", w.console, "Also show the guest's console lines (implies --follow)");
  app.add_option("--timeout-total", w.timeout_total,
                 "Stop waiting after DURATION (90s, 5m, 1h30m) with exit 5; the job keeps "
                 "running");
}

// FollowOptions from the flags; a usage error message when --timeout-total is not a duration.
Result<FollowOptions> ToFollowOptions(const WaitFlags& w) {
  FollowOptions o;
  o.live = w.follow || w.console;
  o.console = w.console;
  if (!w.timeout_total.empty()) {
    auto d = ParseDuration(w.timeout_total);
    if (!d.ok()) return Error::InvalidArgument("--timeout-total: " + d.error().message());
    o.limit.emplace(RealClock(), *d);
    o.limit_text = w.timeout_total;
  }
  return o;
}

struct DeployState {
  std::vector<std::string> args;
  proto::ExplicitTarget explicit_target;
  proto::DeployOptions options;
  bool force = false;
  bool no_ssh = false;
  std::vector<std::string> timeouts;
  WaitFlags wait;
};

// The deploy.start params without the image; the message of a usage error otherwise.
Result<proto::DeployStartParams> DeployParams(DeployState& s) {
  proto::DeployStartParams p;
  const auto& e = s.explicit_target;
  const bool explicit_target = !e.vm_uuid.empty() || !e.vdi_uuid.empty() ||
                               !e.network_uuid.empty() || !e.pool.empty() || !e.mac.empty();
  if (explicit_target) {
    if (e.vm_uuid.empty() || e.vdi_uuid.empty() || e.network_uuid.empty() || e.pool.empty()) {
      return Error::InvalidArgument(
          "an explicit target needs all of --vm, --vdi, --network and "
          "--pool");
    }
    if (s.args.size() != 1) {
      return Error::InvalidArgument("with --vm/--vdi/--network/--pool, name only the IMAGE");
    }
    p.explicit_target = e;
  } else if (s.args.size() != 2) {
    return Error::InvalidArgument(
        "name a TARGET and an IMAGE (or only IMAGE with --vm, --vdi, "
        "--network and --pool)");
  } else {
    p.target = s.args[0];
  }
  p.options = s.options;
  if (s.force) p.options.force = true;
  if (s.no_ssh) p.options.ssh = false;
  for (const auto& t : s.timeouts) {
    const auto eq = t.find('=');
    auto d = ParseDuration(eq == std::string::npos ? "" : t.substr(eq + 1));  // "" is refused
    if (eq == 0 || !d.ok()) {
      return Error::InvalidArgument("--timeout " + t + ": expected PHASE=DURATION, e.g. boot=5m");
    }
    p.options.timeouts_ms[t.substr(0, eq)] = static_cast<uint64_t>(d->count());
  }
  return p;
}

}  // namespace

Handler SetupDeploy(CLI::App& app) {
  auto s = std::make_shared<DeployState>();
  app.add_option("ARGS", s->args, "TARGET IMAGE, or IMAGE with --vm/--vdi/--network/--pool")
      ->type_name("[TARGET] IMAGE")
      ->expected(1, 2)
      ->required();
  app.add_option("--vm", s->explicit_target.vm_uuid, "Explicit target: the VM's UUID");
  app.add_option("--vdi", s->explicit_target.vdi_uuid, "Explicit target: the VDI's UUID");
  app.add_option("--network", s->explicit_target.network_uuid, "Explicit target: network UUID");
  app.add_option("--pool", s->explicit_target.pool, "Explicit target: a configured pool");
  app.add_option("--mac", s->explicit_target.mac, "Explicit target: the VIF's MAC address");
  app.add_option("--format", s->options.format, "Upload format: vhd, raw, raw-chunked")
      ->check(CLI::IsMember({"vhd", "raw", "raw-chunked"}));
  app.add_option("--zero-fill", s->options.zero_fill, "previous, full or none")
      ->check(CLI::IsMember({"previous", "full", "none"}));
  app.add_flag("--force", s->force, "Upload even if the VDI already holds this content");
  app.add_option("--after-run", s->options.after_run,
                 "leave-running, shutdown or shutdown-on-success")
      ->check(CLI::IsMember({"leave-running", "shutdown", "shutdown-on-success"}));
  app.add_option("--marker-content", s->options.expected_marker,
                 "The readiness marker must contain this (e.g. the build id)");
  app.add_option("--marker-path", s->options.marker_path, "Path of the readiness marker file");
  app.add_flag("--no-ssh", s->no_ssh, "Skip the SSH readiness check");
  app.add_option("--timeout", s->timeouts, "PHASE=DURATION, e.g. boot=5m (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--queue", s->options.queue, "Queue behind a job running on the same VM");
  AddWaitFlags(app, s->wait, /*with_wait=*/true);
  return [s](const Context& ctx) {
    auto params = DeployParams(*s);
    if (!params.ok()) return ReportUsage(ctx, params.error().message());
    auto follow = ToFollowOptions(s->wait);
    if (!follow.ok()) return ReportUsage(ctx, follow.error().message());
    const std::string& path = s->args.back();
    auto image = ImageFile::Open(path);
    if (!image.ok()) return ReportError(ctx, image.error());
    params->image.passed_fd = true;
    std::error_code ec;  // for display only: a path that cannot be made absolute stays as it is
    const auto absolute = std::filesystem::absolute(path, ec);
    params->image.path = ec ? path : absolute.lexically_normal().string();
    ControlClient client(ctx.socket_path);
    auto started = client.Call(proto::kDeployStart, *params, (*image)->fd());
    if (!started.ok()) return ReportCallError(ctx, client, started.error());
    image->reset();  // fruixd has its own descriptor now
    if (!s->wait.wait && !follow->live) {
      if (ctx.json) {
        ctx.out << proto::ToJson(*started).dump(2) << "\n";
      } else {
        ctx.out << started->job_id << std::endl;
        if (started->state == "queued") {
          ctx.err << "queued at position " << started->queue_position << "\n";
        }
      }
      return kExitOk;
    }
    return FollowJob(ctx, client, started->job_id, *follow);
  };
}

Handler SetupWatch(CLI::App& app) {
  struct State {
    std::string job;
    WaitFlags wait;
  };
  auto s = std::make_shared<State>();
  app.add_option("JOB", s->job, "Job id")->required();
  AddWaitFlags(app, s->wait, /*with_wait=*/false);
  return [s](const Context& ctx) {
    s->wait.follow = true;
    auto follow = ToFollowOptions(s->wait);
    if (!follow.ok()) return ReportUsage(ctx, follow.error().message());
    ControlClient client(ctx.socket_path);
    return FollowJob(ctx, client, s->job, *follow);
  };
}

}  // namespace fruix::client
