#include "daemon/daemon.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <asio.hpp>
#include <thread>

#include "daemon/config.h"
#include "daemon/control_server.h"
#include "daemon/dispatcher.h"
#include "daemon/handlers.h"
#include "daemon/job_service.h"
#include "daemon/pool_registry.h"
#include "lib/ssh/ssh_client.h"
#include "lib/store/sqlite_job_store.h"

namespace fruix::daemon {

namespace {

spdlog::level::level_enum SpdLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

Result<void> SetUpLogging(const DaemonConfig& d) {
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (d.log_file.empty()) {
      logger = spdlog::stderr_color_mt("fruixd");
      // journald adds its own timestamps; keep level and message.
      if (std::getenv("JOURNAL_STREAM") != nullptr) logger->set_pattern("<%l> %v");
    } else {
      logger = spdlog::basic_logger_mt("fruixd", d.log_file.string());
    }
  } catch (const spdlog::spdlog_ex& e) {
    return Error::Io("cannot open the log " + d.log_file.string() + ": " + e.what());
  }
  logger->set_level(SpdLevel(d.log_level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Ok();
}

}  // namespace

struct Daemon::Impl {
  std::filesystem::path config_path;
  std::shared_ptr<const Config> config;
  asio::io_context io;
  std::unique_ptr<store::JobStore> store;
  std::unique_ptr<PoolRegistry> pools;
  std::unique_ptr<ssh::SshClient> ssh;
  std::unique_ptr<JobService> service;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<ControlServer> server;
  std::unique_ptr<asio::signal_set> signals;
  std::thread drain;
  bool stopping = false;

  void WaitForSignal() {
    signals->async_wait([this](const std::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        Reload();
        WaitForSignal();
        return;
      }
      BeginShutdown(signo);
    });
  }

  void Reload() {
    auto loaded = LoadConfig(config_path);
    if (!loaded.ok()) {
      spdlog::error("SIGHUP: keeping the running configuration; {} has errors:\n{}",
                    config_path.string(), loaded.error().message());
      return;
    }
    auto policy = MakeAccessPolicy(loaded->daemon.mutating_users, loaded->daemon.mutating_groups);
    if (!policy.ok()) {
      spdlog::error("SIGHUP: keeping the running configuration: {}", policy.error().message());
      return;
    }
    for (const auto& w : loaded->warnings) spdlog::warn("{}", w);
    config = std::make_shared<const Config>(std::move(loaded).value());
    dispatcher->SetPolicy(*policy);
    service->SetConfig(config);
    spdlog::default_logger()->set_level(SpdLevel(config->daemon.log_level));
    spdlog::info(
        "SIGHUP: configuration reloaded from {} ({} pools, {} targets); running jobs "
        "keep theirs",
        config_path.string(), config->pools.size(), config->targets.size());
  }

  void BeginShutdown(int signo) {
    if (stopping) return;
    stopping = true;
    sd_notify(0, "STOPPING=1");
    spdlog::info("{}: stopping; {} running and {} queued jobs", strsignal(signo),
                 service->running(), service->queued());
    server->Stop();
    service->StopAccepting();
    const auto grace = config->daemon.shutdown_grace;
    drain = std::thread([this, grace] {
      service->Shutdown(grace);
      asio::post(io, [this] {
        server->CloseAll();
        signals->cancel();
        io.stop();
      });
    });
  }
};

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() {
  if (impl_->drain.joinable()) impl_->drain.join();
  if (impl_->service) impl_->service->Shutdown(std::chrono::milliseconds(0));
  impl_->server.reset();
  impl_->service.reset();
  if (impl_->pools) impl_->pools->Clear();
}

Result<std::unique_ptr<Daemon>> Daemon::Start(const std::filesystem::path& config_path) {
  auto impl = std::make_unique<Impl>();
  impl->config_path = config_path;
  FRUIX_ASSIGN_OR_RETURN(Config loaded, LoadConfig(config_path));
  impl->config = std::make_shared<const Config>(std::move(loaded));
  const DaemonConfig& d = impl->config->daemon;
  FRUIX_RETURN_IF_ERROR(SetUpLogging(d));
  for (const auto& w : impl->config->warnings) spdlog::warn("{}", w);

  std::error_code ec;
  std::filesystem::create_directories(d.state_dir, ec);
  if (ec) return Error::Io("cannot create state_dir " + d.state_dir.string() + ": " + ec.message());
  ::chmod(d.state_dir.c_str(), 0750);
  FRUIX_ASSIGN_OR_RETURN(impl->store, store::OpenSqliteJobStore(d.state_dir / "fruixd.db"));
  FRUIX_ASSIGN_OR_RETURN(AccessPolicy policy,
                         MakeAccessPolicy(d.mutating_users, d.mutating_groups));

  impl->pools = std::make_unique<PoolRegistry>();
  impl->ssh = ssh::NewLibsshClient();
  JobServiceOptions options;
  options.log_dir = d.state_dir / "logs";
  options.max_concurrent_jobs = d.max_concurrent_jobs;
  options.max_queued_jobs = d.max_queued_jobs;
  options.owner = OwnerName(d);
  options.lease_ttl = d.lease_ttl;
  options.version = std::string(kVersion);
  impl->service =
      std::make_unique<JobService>(*impl->store, *impl->pools, *impl->ssh, impl->config, options);
  auto interrupted = impl->service->Recover("fruixd stopped while the job ran");
  if (!interrupted.ok()) return interrupted.error().WithContext("recovering the job history");

  impl->dispatcher = std::make_unique<Dispatcher>(policy);
  RegisterHandlers(*impl->dispatcher, *impl->service, {std::string(kVersion)});
  ServerOptions server;
  server.socket = d.socket;
  server.mode = static_cast<mode_t>(d.socket_mode);
  server.group = d.socket_group;
  impl->server = std::make_unique<ControlServer>(impl->io, *impl->dispatcher, server);
  FRUIX_RETURN_IF_ERROR(impl->server->Start());

  impl->signals = std::make_unique<asio::signal_set>(impl->io, SIGTERM, SIGINT, SIGHUP);
  impl->WaitForSignal();
  spdlog::info(
      "fruixd {} ready on {} (state {}, owner {}, {} pools, {} targets, {} jobs "
      "interrupted)",
      kVersion, d.socket.string(), d.state_dir.string(), options.owner, impl->config->pools.size(),
      impl->config->targets.size(), interrupted->size());
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

int Daemon::Run() {
  sd_notify(0, "READY=1");
  try {
    impl_->io.run();
  } catch (const std::exception& e) {
    spdlog::critical("event loop failed: {}", e.what());
    return 1;
  }
  if (impl_->drain.joinable()) impl_->drain.join();
  spdlog::info("fruixd stopped");
  return 0;
}

}  // namespace fruix::daemon
