#include "lib/job/job_spec.h"

#include <algorithm>
#include <cctype>

#include "lib/console/console_source.h"
#include "lib/job/lease_file.h"

namespace fruix::job {
namespace {

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (std::isxdigit(static_cast<unsigned char>(s[i])) == 0) {
      return false;
    }
  }
  return true;
}

Result<void> CheckUuid(std::string_view field, std::string_view value) {
  if (!IsUuid(value)) {
    return Error::InvalidArgument(std::string(field) + " \"" + std::string(value) +
                                  "\" is not a uuid");
  }
  return Ok();
}

}  // namespace

milliseconds PhaseTimeouts::For(Phase p) const {
  switch (p) {
    case Phase::kPreflight:
      return preflight;
    case Phase::kPrepare:
      return prepare;
    case Phase::kUpload:
      return upload;
    case Phase::kAttach:
      return attach;
    case Phase::kStart:
      return start;
    case Phase::kBoot:
      return boot;
    case Phase::kNetwork:
      return network;
    case Phase::kSsh:
      return ssh;
    default:
      return milliseconds(0);
  }
}

std::string_view ToString(AfterRun a) {
  switch (a) {
    case AfterRun::kLeaveRunning:
      return "leave-running";
    case AfterRun::kShutdown:
      return "shutdown";
    case AfterRun::kShutdownOnSuccess:
      return "shutdown-on-success";
  }
  return "unknown";
}

std::optional<AfterRun> ParseAfterRun(std::string_view name) {
  for (AfterRun a : {AfterRun::kLeaveRunning, AfterRun::kShutdown, AfterRun::kShutdownOnSuccess}) {
    if (ToString(a) == name) return a;
  }
  return std::nullopt;
}

Result<void> Validate(const JobSpec& spec) {
  FRUIX_RETURN_IF_ERROR(CheckUuid("vm", spec.vm_uuid));
  FRUIX_RETURN_IF_ERROR(CheckUuid("vdi", spec.vdi_uuid));
  FRUIX_RETURN_IF_ERROR(CheckUuid("network", spec.network_uuid));
  if (!spec.start_on_host.empty()) {
    FRUIX_RETURN_IF_ERROR(CheckUuid("start_on host", spec.start_on_host));
  }
  if (!spec.mac.empty() && !IsMacAddress(spec.mac)) {
    return Error::InvalidArgument("mac \"" + spec.mac + "\" is not of the form aa:bb:cc:dd:ee:ff");
  }
  for (Phase p : kWorkingPhases) {
    if (spec.timeouts.For(p).count() <= 0) {
      return Error::InvalidArgument("timeout of phase " + std::string(ToString(p)) + " is " +
                                    std::to_string(spec.timeouts.For(p).count()) +
                                    " ms; it must be positive");
    }
  }
  const auto& c = spec.console;
  if (c.kind != console::kXapiVt100Kind && c.kind != console::kDom0SshKind &&
      c.kind != console::kNoneKind) {
    return Error::InvalidArgument("console source \"" + c.kind +
                                  "\" is unknown (expected xapi-vt100, dom0-ssh or none)");
  }
  if (c.kind != console::kNoneKind && spec.console_log.empty()) {
    return Error::InvalidArgument("a console log path is needed for console source " + c.kind);
  }
  if (c.kind == console::kDom0SshKind && c.dom0.private_key_file.empty()) {
    return Error::InvalidArgument("console source dom0-ssh needs a dom0 SSH key file");
  }
  const auto& a = spec.address;
  if (a.sources.empty()) {
    return Error::InvalidArgument(
        "no address source configured (guest-metrics, console, "
        "lease-file, static)");
  }
  auto has = [&](AddressSource s) {
    return std::find(a.sources.begin(), a.sources.end(), s) != a.sources.end();
  };
  if (has(AddressSource::kLeaseFile) && a.lease_file.empty()) {
    return Error::InvalidArgument("address source lease-file needs a lease file path");
  }
  if (has(AddressSource::kStatic) && !console::IsIpv4HostAddress(a.static_address)) {
    return Error::InvalidArgument("static address \"" + a.static_address +
                                  "\" is not an IPv4 address");
  }
  if (has(AddressSource::kConsole) && c.kind == console::kNoneKind) {
    return Error::InvalidArgument("address source console needs a console source (it is none)");
  }
  if (spec.ssh) {
    if (spec.ssh->endpoint.user.empty()) return Error::InvalidArgument("ssh user is empty");
    if (spec.ssh->endpoint.private_key_file.empty()) {
      return Error::InvalidArgument("ssh key file is empty");
    }
    if (spec.ssh->endpoint.port == 0) return Error::InvalidArgument("ssh port 0 is invalid");
    if (spec.ssh->marker_path.empty() || spec.ssh->marker_path.front() != '/') {
      return Error::InvalidArgument("marker path \"" + spec.ssh->marker_path +
                                    "\" must be absolute");
    }
  }
  return Ok();
}

}  // namespace fruix::job
