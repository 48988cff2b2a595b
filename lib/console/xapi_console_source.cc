#include "lib/console/xapi_console_source.h"

#include <utility>

#include "lib/http/url.h"
#include "lib/xenapi/records.h"

namespace fruix::console {
namespace {

// A ConsoleStream over an HTTP CONNECT tunnel.
class TunnelConsoleStream final : public ConsoleStream {
 public:
  explicit TunnelConsoleStream(std::unique_ptr<http::ByteStream> tunnel)
      : tunnel_(std::move(tunnel)) {}
  ~TunnelConsoleStream() override { Close(); }

  Result<size_t> Read(std::span<char> buf, std::chrono::milliseconds wait) override {
    return tunnel_->Read(buf, wait);
  }
  void Close() override { tunnel_->Close(); }

 private:
  std::unique_ptr<http::ByteStream> tunnel_;
};

// The host part of a location's authority ("h", "h:port", "[v6]", "[v6]:port", bare "v6").
std::string AuthorityHost(std::string_view authority) {
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    return std::string(
        authority.substr(1, close == std::string_view::npos ? authority.size() - 1 : close - 1));
  }
  size_t first = authority.find(':');
  if (first != std::string_view::npos && authority.find(':', first + 1) == std::string_view::npos) {
    return std::string(authority.substr(0, first));  // host:port
  }
  return std::string(authority);  // a name, IPv4, or a bare IPv6 address
}

}  // namespace

XapiConsoleSource::XapiConsoleSource(xenapi::Session& session, http::HttpClient& http, Uuid vm,
                                     XapiConsoleSourceOptions options)
    : session_(session), http_(http), vm_(std::move(vm)), options_(options) {}

std::string XapiConsoleSource::Describe() const { return "xapi vt100 console of VM " + vm_.str(); }

Result<std::string> XapiConsoleSource::ConsoleUrl(std::string_view location,
                                                  std::string_view session_url,
                                                  std::string_view fallback_host,
                                                  const OpaqueRef& session_ref) {
  std::string_view rest = location;
  size_t scheme_end = rest.find("://");
  std::string host;
  if (scheme_end != std::string_view::npos) {
    rest.remove_prefix(scheme_end + 3);
    size_t slash = rest.find('/');
    host = AuthorityHost(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  if (rest.empty() || rest.front() != '/') {
    return Error::InvalidArgument("console location '" + std::string(location) + "' has no path");
  }
  if (host.empty()) host = std::string(fallback_host);
  if (host.empty()) {
    return Error::InvalidArgument("console location '" + std::string(location) +
                                  "' names no host and the VM's host has no address");
  }
  FRUIX_ASSIGN_OR_RETURN(http::Url base, http::Url::Parse(session_url));
  FRUIX_ASSIGN_OR_RETURN(http::Url target, base.WithHost(host));
  // Url::ToString gives scheme://host[:port]<session path>; keep only scheme://host[:port].
  std::string origin = target.ToString();
  origin.resize(origin.size() - target.path().size());
  std::string url = origin + std::string(rest);
  url += rest.find('?') == std::string_view::npos ? "?" : "&";
  url += "session_id=" + session_ref.str();
  return url;
}

Result<std::unique_ptr<ConsoleStream>> XapiConsoleSource::Open(std::stop_token stop) {
  xenapi::CallOptions call;
  call.timeout = options_.call_timeout;
  call.cancel = stop;
  auto cancelled = [&]() -> Error {
    return Error::Cancelled("opening " + Describe() + " cancelled");
  };
  auto check = [&](const Error& e) -> Error {
    if (stop.stop_requested()) return cancelled();
    return e.WithContext("console of VM " + vm_.str());
  };

  auto ref = session_.Call("VM.get_by_uuid", {xenapi::Value(vm_.str())}, call);
  if (!ref.ok()) return check(ref.error());
  auto ref_text = ref->ToString();
  if (!ref_text.ok()) return check(ref_text.error());
  auto vm_value = session_.Call("VM.get_record", {xenapi::Value(*ref_text)}, call);
  if (!vm_value.ok()) return check(vm_value.error());
  auto vm = xenapi::VmRecord::Parse(*vm_value);
  if (!vm.ok()) return check(vm.error());
  const std::string who = "VM " + vm_.str() + " (" + vm->name_label + ")";
  if (vm->power_state != xenapi::VmPowerState::kRunning) {
    return Error::FailedPrecondition(who + " is " + std::string(xenapi::ToString(vm->power_state)) +
                                     ", not Running: it has no console now");
  }

  std::optional<xenapi::ConsoleRecord> text_console;
  for (const auto& c : vm->consoles) {
    auto value = session_.Call("console.get_record", {xenapi::Value(c.str())}, call);
    if (!value.ok()) {
      if (value.error().IsXapi("HANDLE_INVALID")) continue;  // destroyed meanwhile (a reboot)
      return check(value.error());
    }
    auto rec = xenapi::ConsoleRecord::Parse(*value);
    if (!rec.ok()) return check(rec.error());
    if (rec->protocol == xenapi::ConsoleProtocol::kVt100) {
      text_console = std::move(rec).value();
      break;
    }
  }
  if (!text_console) {
    return Error::FailedPrecondition(
        who + " has no text console (HVM guests have none; use console source dom0-ssh)");
  }

  std::string fallback_host;
  if (!vm->resident_on.is_null()) {
    auto host_value =
        session_.Call("host.get_record", {xenapi::Value(vm->resident_on.str())}, call);
    if (host_value.ok()) {
      auto host = xenapi::HostRecord::Parse(*host_value);
      if (host.ok()) fallback_host = host->address;
    }
  }
  auto session_ref = session_.SessionRef();
  if (!session_ref.ok()) return check(session_ref.error());
  auto url = ConsoleUrl(text_console->location, session_.url(), fallback_host, *session_ref);
  if (!url.ok()) return check(url.error());
  if (stop.stop_requested()) return cancelled();

  http::ConnectRequest request;
  request.url = *url;
  request.connect_timeout = options_.connect_timeout;
  request.cancel = stop;
  auto tunnel = http_.Connect(request);
  if (!tunnel.ok()) return check(tunnel.error());
  return std::unique_ptr<ConsoleStream>(
      std::make_unique<TunnelConsoleStream>(std::move(tunnel).value()));
}

}  // namespace fruix::console
