// console::ConsoleSource / ConsoleStream — the seam between a job and a guest's text console.
// A ConsoleSource knows how to reach one VM's console (XenAPI vt100 over CONNECT, `xl console` in
// dom0 over SSH, or nothing) and opens a fresh ConsoleStream on every Open(); a ConsoleStream is
// one connected byte pipe from the guest's console. The recorder (console_recorder.h) is the usual
// caller: it opens, reads until the stream drops, and opens again.
//
// Implementations: XapiConsoleSource (xapi_console_source.h), Dom0ConsoleSource
// (dom0_console_source.h), NoneConsoleSource (none_console_source.h); tests use fakes.
//
// Threads: a ConsoleSource may be used by one thread at a time (the recorder's reader thread);
// kind() and Describe() are const, cheap and safe from any thread. A ConsoleStream belongs to the
// thread that reads it; Close() is called from that same thread (the destructor closes too).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>

#include "lib/core/result.h"

namespace fruix::console {

// Source kinds as reports and configuration spell them.
inline constexpr std::string_view kXapiVt100Kind = "xapi-vt100";
inline constexpr std::string_view kDom0SshKind = "dom0-ssh";
inline constexpr std::string_view kNoneKind = "none";

class ConsoleStream {
 public:
  virtual ~ConsoleStream() = default;

  // Waits at most `wait` for console bytes and copies up to buf.size() of them into `buf`.
  // Returns the count (> 0), or 0 when nothing arrived within `wait` (the stream is still up).
  // Errors: kUnavailable when the peer closed the console or the connection dropped (the usual
  // end of a stream; open a new one), other codes for local failures. After an error, every
  // further Read fails.
  virtual Result<size_t> Read(std::span<char> buf, std::chrono::milliseconds wait) = 0;

  // Releases the connection. Idempotent; Read after Close fails with kUnavailable.
  virtual void Close() = 0;
};

class ConsoleSource {
 public:
  virtual ~ConsoleSource() = default;

  // One of kXapiVt100Kind, kDom0SshKind, kNoneKind.
  virtual std::string_view kind() const = 0;

  // A one-line human description for reports and logs, e.g. "xapi vt100 console of VM <uuid>"
  // (never contains a session id or other secret).
  virtual std::string Describe() const = 0;

  // Connects to the console as it is now (each call re-resolves: after a guest reboot the new
  // console is used). Blocks for at most the source's connect timeout; returns kCancelled soon
  // after `stop` is requested. Errors:
  //   kFailedPrecondition  no console can exist in the current state (VM not running, no text
  //                        console for this guest type, no source configured) — the message says
  //                        why and what to do
  //   kUnavailable         a transient failure (connection refused/dropped, 503 limit, SSH down)
  //   kCancelled           `stop` was requested
  //   others as the transport reports them (kTls, kPermissionDenied, kNotFound, kXapi, ...)
  virtual Result<std::unique_ptr<ConsoleStream>> Open(std::stop_token stop) = 0;
};

}  // namespace fruix::console
