// console::XapiConsoleSource — a VM's XenAPI `vt100` text console (xenapi-spec.md §7), reached by
// an HTTP CONNECT tunnel to the host the VM runs on. PV-style guests have one; HVM guests do not
// (use Dom0ConsoleSource for them).
//
// Each Open():
//   1. VM.get_by_uuid + VM.get_record: the VM must be Running (else kFailedPrecondition naming its
//      power state);
//   2. console.get_record of each of its consoles; the one with protocol vt100 is used (none →
//      kFailedPrecondition "VM <uuid> (<name>) has no text console (HVM guests have none; use
//      console source dom0-ssh)");
//   3. CONNECT to the console's location: host from the location (xapi writes the resident host's
//      address there; when it is empty, the address of the VM's resident_on host), scheme and port
//      from the session's URL (real xapi: https on 443; the simulator: 127.0.0.x on an ephemeral
//      port), path and query from the location, plus `session_id=<session ref>`.
// Re-reading on every Open means that after a reboot (new domain, new console object) the new
// console is used.
//
// Borrows the Session and the HttpClient (the client whose TLS policy fits the pool's hosts);
// both must outlive the source. Used by one thread at a time (see console_source.h).
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "lib/console/console_source.h"
#include "lib/core/ids.h"
#include "lib/core/result.h"
#include "lib/http/http_client.h"
#include "lib/xenapi/session.h"

namespace fruix::console {

struct XapiConsoleSourceOptions {
  std::chrono::milliseconds call_timeout{std::chrono::seconds(15)};     // each XenAPI call
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};  // TCP + TLS + reply head
};

class XapiConsoleSource final : public ConsoleSource {
 public:
  XapiConsoleSource(xenapi::Session& session, http::HttpClient& http, Uuid vm,
                    XapiConsoleSourceOptions options = {});

  std::string_view kind() const override { return kXapiVt100Kind; }
  std::string Describe() const override;
  // Errors: see the class comment; kXapi for XenAPI failures (e.g. UUID_INVALID), the
  // HttpClient::Connect errors for the tunnel (kFailedPrecondition when the host says the VM is
  // not running there, kUnavailable for 503 or a refused connection, ...), kCancelled on stop.
  Result<std::unique_ptr<ConsoleStream>> Open(std::stop_token stop) override;

  // The CONNECT URL for a console `location` ("https://<host>/console?uuid=..."): scheme and port
  // of `session_url`, host of the location (or `fallback_host` when the location has none; a bare
  // IPv6 address is bracketed), the location's path and query, and session_id appended.
  // kInvalidArgument if the location has no path or no host can be found.
  static Result<std::string> ConsoleUrl(std::string_view location, std::string_view session_url,
                                        std::string_view fallback_host,
                                        const OpaqueRef& session_ref);

 private:
  xenapi::Session& session_;
  http::HttpClient& http_;
  Uuid vm_;
  XapiConsoleSourceOptions options_;
};

}  // namespace fruix::console
