#include "daemon/target_spec.h"

#include <algorithm>
#include <cctype>

#include "lib/console/console_source.h"
#include "lib/core/ids.h"
#include "lib/job/address_book.h"
#include "lib/job/lease_file.h"

namespace fruix::daemon {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

Result<std::string> CheckUuid(std::string_view field, std::string_view value) {
  if (!IsUuidString(value)) {
    return Error::InvalidArgument(std::string(field) + " \"" + std::string(value) +
                                  "\" is not a uuid (8-4-4-4-12 hex digits)");
  }
  return Lower(value);
}

Result<std::string> CheckMac(std::string_view field, std::string_view mac) {
  if (mac.empty()) return std::string();
  if (!job::IsMacAddress(mac)) {
    return Error::InvalidArgument(std::string(field) + " \"" + std::string(mac) +
                                  "\" is not a MAC address (aa:bb:cc:dd:ee:ff)");
  }
  return job::NormalizeMac(mac);
}

std::string Describe(const TargetConfig& t) {
  return t.name.empty() ? "the explicit target" : "target " + t.name;
}

}  // namespace

Result<TargetConfig> ExplicitTarget(const Config& config, std::string_view pool,
                                    std::string_view vm, std::string_view vdi,
                                    std::string_view network, std::string_view mac) {
  TargetConfig t;
  if (pool.empty() && config.pools.size() == 1) {
    t.pool = config.pools.begin()->first;
  } else if (config.FindPool(pool) != nullptr) {
    t.pool = std::string(pool);
  } else {
    std::string names;
    for (const auto& [name, p] : config.pools) {
      (void)p;
      names += (names.empty() ? "" : ", ") + name;
    }
    return Error::NotFound((pool.empty() ? std::string("no pool given")
                                         : "pool \"" + std::string(pool) + "\" is not configured") +
                           " (configured: " + (names.empty() ? "none" : names) + ")");
  }
  FRUIX_ASSIGN_OR_RETURN(t.vm_uuid, CheckUuid("vm", vm));
  FRUIX_ASSIGN_OR_RETURN(t.vdi_uuid, CheckUuid("vdi", vdi));
  FRUIX_ASSIGN_OR_RETURN(t.network_uuid, CheckUuid("network", network));
  FRUIX_ASSIGN_OR_RETURN(t.mac, CheckMac("mac", mac));
  t.settings = config.defaults;
  return t;
}

Result<job::JobSpec> BuildJobSpec(const TargetConfig& target, const DeployOverrides& overrides,
                                  std::filesystem::path console_log) {
  const DeploySettings& s = target.settings;
  job::JobSpec spec;
  spec.target = target.name;
  spec.vm_uuid = target.vm_uuid;
  spec.vdi_uuid = target.vdi_uuid;
  spec.network_uuid = target.network_uuid;
  spec.mac = target.mac;
  if (overrides.mac) {
    FRUIX_ASSIGN_OR_RETURN(spec.mac, CheckMac("mac override", *overrides.mac));
  }
  spec.start_on_host = s.start_on_host;

  spec.image_path = overrides.image_path.value_or("");
  spec.image_file = overrides.image_file;
  spec.import.format = overrides.format.value_or(s.format);
  spec.import.zero_fill = overrides.zero_fill.value_or(s.zero_fill);
  spec.import.force = overrides.force.value_or(false);

  spec.shutdown = s.shutdown;
  spec.clean_shutdown_timeout = s.clean_shutdown_timeout;
  spec.after_run = overrides.after_run.value_or(s.after_run);

  spec.console = s.console;
  spec.address = s.address;
  if (overrides.console_kind) {
    const std::string& kind = *overrides.console_kind;
    if (kind != console::kXapiVt100Kind && kind != console::kDom0SshKind &&
        kind != console::kNoneKind) {
      return Error::InvalidArgument("console kind override \"" + kind +
                                    "\" is unknown (expected xapi-vt100, dom0-ssh or none)");
    }
    spec.console.kind = kind;
    auto& sources = spec.address.sources;
    if (kind == console::kNoneKind && sources.size() > 1) {
      std::erase(sources, job::AddressSource::kConsole);
    }
  }

  spec.ssh = s.ssh;
  if (overrides.marker_path || overrides.expected_marker) {
    if (!spec.ssh) {
      return Error::InvalidArgument(
          "a readiness marker override needs the ssh check, which is disabled for " +
          Describe(target));
    }
    if (overrides.marker_path) {
      if (overrides.marker_path->empty() || overrides.marker_path->front() != '/') {
        return Error::InvalidArgument("marker path override \"" + *overrides.marker_path +
                                      "\" must be absolute");
      }
      spec.ssh->marker_path = *overrides.marker_path;
    }
    if (overrides.expected_marker) {
      if (overrides.expected_marker->empty()) {
        spec.ssh->expected_marker.reset();
      } else {
        spec.ssh->expected_marker = *overrides.expected_marker;
      }
    }
  }

  spec.timeouts = s.timeouts;
  for (const auto& [phase, timeout] : overrides.timeouts) {
    milliseconds* slot = nullptr;
    switch (phase) {
      case job::Phase::kPreflight:
        slot = &spec.timeouts.preflight;
        break;
      case job::Phase::kPrepare:
        slot = &spec.timeouts.prepare;
        break;
      case job::Phase::kUpload:
        slot = &spec.timeouts.upload;
        break;
      case job::Phase::kAttach:
        slot = &spec.timeouts.attach;
        break;
      case job::Phase::kStart:
        slot = &spec.timeouts.start;
        break;
      case job::Phase::kBoot:
        slot = &spec.timeouts.boot;
        break;
      case job::Phase::kNetwork:
        slot = &spec.timeouts.network;
        break;
      case job::Phase::kSsh:
        slot = &spec.timeouts.ssh;
        break;
      case job::Phase::kReady:
      case job::Phase::kFailed:
      case job::Phase::kCancelled:
        return Error::InvalidArgument("timeout override for phase " +
                                      std::string(job::ToString(phase)) +
                                      ", which is not a working phase");
    }
    if (timeout.count() <= 0) {
      return Error::InvalidArgument("timeout override for phase " +
                                    std::string(job::ToString(phase)) + " is " +
                                    std::to_string(timeout.count()) + " ms; it must be positive");
    }
    *slot = timeout;
  }

  spec.console_log = std::move(console_log);
  auto valid = job::Validate(spec);
  // Validate's messages name the value; a configured target's name tells where it came from.
  if (!valid.ok()) {
    return target.name.empty() ? valid.error() : valid.error().WithContext(Describe(target));
  }
  return spec;
}

}  // namespace fruix::daemon
