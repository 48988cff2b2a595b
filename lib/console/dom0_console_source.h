// console::Dom0ConsoleSource — a guest's console read in dom0 of the host it runs on: an SSH
// session to dom0 runs `xl console -t <pv|serial> <domid>` with a pseudo-terminal, and its output
// is the console stream. This is how HVM guests (which have no XenAPI text console) are captured:
// `-t serial` for the emulated serial port (the guest's `console=ttyS0` / FreeBSD comconsole),
// `-t pv` for the PV console of PV/PVH guests.
//
// Where to connect changes with every boot (resident host, domid), so each Open() first asks the
// caller's resolver (typically: read the VM's resident_on and domid through XenAPI and map the host
// to its dom0 SSH endpoint from configuration). Then, on that endpoint:
//   1. connect (ssh::SshClient::Connect, the endpoint's host-key policy);
//   2. unless disabled, `xl list <domid>` must exit 0 — so a wrong domid, a missing `xl` or a
//      non-root user fails Open with xl's own message instead of filling the console log;
//   3. `xl console -t <type> <domid>` on a pty.
// Failures of 1-3 are kUnavailable naming the endpoint, the command and the reason (kCancelled
// stays kCancelled). The stream ends (kUnavailable) when `xl console` exits, e.g. when the domain
// is destroyed; the recorder then reconnects and the resolver gives the new domid.
//
// Borrows the SshClient (must outlive the source). Used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "lib/console/console_source.h"
#include "lib/core/result.h"
#include "lib/ssh/ssh_client.h"

namespace fruix::console {

enum class XlConsoleType { kPv, kSerial };

// "pv", "serial" (the spelling of `xl console -t`).
std::string_view XlConsoleTypeName(XlConsoleType type);
// Inverse of XlConsoleTypeName; kInvalidArgument otherwise.
Result<XlConsoleType> ParseXlConsoleType(std::string_view text);

// Where a guest's console is right now.
struct Dom0ConsoleTarget {
  ssh::Endpoint dom0;  // SSH endpoint of dom0 on the host the VM is resident on
  int64_t domid = -1;  // the running domain; negative = not running
  XlConsoleType type = XlConsoleType::kSerial;
};

// Resolves the current target. Its errors are returned by Open() unchanged (use
// kFailedPrecondition for "the VM is not running", so the recorder reports `unavailable`).
using Dom0Resolver = std::function<Result<Dom0ConsoleTarget>(std::stop_token stop)>;

struct Dom0ConsoleSourceOptions {
  std::string xl_path = "xl";  // the xl binary on dom0 (shell-quoted into the command)
  bool check_domain = true;    // run `xl list <domid>` before attaching
  std::chrono::milliseconds check_timeout{std::chrono::seconds(10)};
};

class Dom0ConsoleSource final : public ConsoleSource {
 public:
  // `what` names the guest for Describe(), e.g. "VM <uuid>".
  Dom0ConsoleSource(ssh::SshClient& ssh, Dom0Resolver resolver, std::string what,
                    Dom0ConsoleSourceOptions options = {});

  std::string_view kind() const override { return kDom0SshKind; }
  std::string Describe() const override;
  Result<std::unique_ptr<ConsoleStream>> Open(std::stop_token stop) override;

  // The command run on dom0: `<xl> console -t <type> <domid>` (xl shell-quoted).
  static std::string ConsoleCommand(std::string_view xl_path, XlConsoleType type, int64_t domid);

 private:
  ssh::SshClient& ssh_;
  Dom0Resolver resolver_;
  std::string what_;
  Dom0ConsoleSourceOptions options_;
};

}  // namespace fruix::console
