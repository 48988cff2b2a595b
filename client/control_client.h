// client::ControlClient — fruixctl's one connection to fruixd's control socket (AF_UNIX stream,
// JSON-RPC 2.0, one object per line; proto/jsonrpc.h). Calls go through the method table
// (proto/methods.h), so no method name or field is spelled here. A file descriptor can ride along
// with a request as SCM_RIGHTS on the same sendmsg as the request's first byte (how `deploy` hands
// over the image). Notifications ("job.event") that arrive while a call waits for its answer are
// kept, in order, and handed to Listen()'s callback.
//
// Every failure is a fruix::Error, and last_failure() says what kind it was, so commands can pick
// the exit code: kUnreachable (connect failed: "cannot reach fruixd at PATH: <strerror>; is the
// service running?"), kConnectionLost (fruixd closed or reset the connection), kNoAnswer (no
// answer within the call timeout), kLimit (the wait limit set with set_limit passed: Error code
// kTimeout), kRpc (fruixd answered with a JSON-RPC error: the code is mapped with
// proto::FromRpcError and the original is in last_rpc_error()), kProtocol (fruixd sent something
// that is not the protocol), kLocal (the request itself could not be built).
//
// Created by a command handler and used by it alone: one thread, blocking, no retries. The
// connection is opened on the first call and closed by the destructor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "lib/core/clock.h"
#include "lib/core/error.h"
#include "lib/core/result.h"
#include "proto/jsonrpc.h"
#include "proto/methods.h"

namespace fruix::client {

// Sends `bytes` on the connected Unix stream socket `sock` with the descriptor `fd` attached
// (SCM_RIGHTS) to them, in one sendmsg (MSG_NOSIGNAL): what fruixd expects of a request that
// carries a descriptor. Returns sendmsg's result (bytes sent, or -1 with errno set).
ssize_t SendWithDescriptor(int sock, std::string_view bytes, int fd);

inline constexpr std::string_view kDefaultSocketPath = "/run/fruixd/fruixd.sock";
inline constexpr std::string_view kSocketEnv = "FRUIX_SOCKET";
// How long a call waits for its answer (fruixd answers every method at once; job.watch's events
// are waited for with Listen, which has no such limit).
inline constexpr std::chrono::seconds kDefaultCallTimeout{60};

// The socket path: `flag` (--socket) if set, else $FRUIX_SOCKET if set, else kDefaultSocketPath.
std::string ResolveSocketPath(const std::string& flag);

class ControlClient {
 public:
  enum class Failure {
    kNone,
    kUnreachable,
    kConnectionLost,
    kNoAnswer,
    kLimit,
    kRpc,
    kProtocol,
    kLocal
  };
  // Returns true to keep listening, false to stop.
  using NotificationHandler = std::function<bool(const proto::Notification&)>;

  explicit ControlClient(std::string socket_path, const Clock& clock = RealClock(),
                         Clock::Duration call_timeout = kDefaultCallTimeout);
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  const std::string& socket_path() const { return path_; }

  // Opens the connection if it is not open yet. Failure: kUnreachable.
  Result<void> Connect();

  // Sends `params` as a request for method `m` (with `pass_fd` as SCM_RIGHTS when >= 0; the
  // caller keeps its descriptor) and waits for the answer with the request's id.
  template <typename M>
  Result<typename M::Result> Call(const M& m, const typename M::Params& params, int pass_fd = -1) {
    auto result = CallRaw(m.name, proto::ToJson(params), pass_fd);
    if (!result.ok()) return std::move(result).error();
    auto decoded = proto::DecodeResult(m, *result);
    if (!decoded.ok()) {
      return ProtocolError("fruixd's answer to " + std::string(m.name) +
                           " does not fit the "
                           "protocol: " +
                           decoded.error().message());
    }
    return decoded;
  }

  // Hands every notification (first those kept while calls waited, then new ones) to `handler`
  // until it returns false (ok), the wait limit passes (kLimit), or the connection ends
  // (kConnectionLost). Responses to no pending call are ignored.
  Result<void> Listen(const NotificationHandler& handler);

  // No call or Listen waits past `limit` (nullopt: no limit beyond the call timeout).
  void set_limit(std::optional<Deadline> limit) { limit_ = limit; }

  // What the last failure was (kNone before any), and for kRpc the error fruixd sent.
  Failure last_failure() const { return failure_; }
  const std::optional<proto::RpcError>& last_rpc_error() const { return rpc_error_; }

 private:
  // One decoded line from fruixd.
  using Incoming = std::variant<proto::Response, proto::Notification>;

  Result<nlohmann::json> CallRaw(std::string_view method, const nlohmann::json& params,
                                 int pass_fd);
  Result<void> Send(const std::string& line, int pass_fd, std::string_view method);
  // The next message, waiting until `deadline` (or the limit, whichever is first).
  Result<Incoming> Read(std::optional<Deadline> deadline, std::string_view what);
  // Waits for `events` on the socket until the deadline (or the limit): kNoAnswer / kLimit.
  Result<void> Await(short events, std::optional<Deadline> deadline, std::string_view what);
  Error Fail(Failure kind, Error e);
  Error ProtocolError(std::string message);
  Error Lost(std::string_view what, int err);

  std::string path_;
  const Clock& clock_;
  Clock::Duration call_timeout_;
  std::optional<Deadline> limit_;
  int fd_ = -1;
  int64_t next_id_ = 1;
  proto::LineBuffer in_;
  std::deque<proto::Notification> kept_;
  Failure failure_ = Failure::kNone;
  std::optional<proto::RpcError> rpc_error_;
};

}  // namespace fruix::client
