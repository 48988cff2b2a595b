// proto::jsonrpc — the control socket's envelope: JSON-RPC 2.0, one JSON object per line
// ("\n"-terminated, UTF-8, at most kMaxMessageBytes including the newline), so a human can talk to
// fruixd with `socat - UNIX-CONNECT:/run/fruixd/fruixd.sock`.
//
// Requests carry an id (number or string); a request without an id is a notification and gets no
// answer. The daemon sends notifications ("job.event") to clients that asked to watch a job.
// Batches are not supported (answered with kInvalidRequest). Pure functions and a value-type line
// buffer; any thread.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "lib/core/error.h"
#include "lib/core/result.h"

namespace fruix::proto {

inline constexpr size_t kMaxMessageBytes = size_t{1} << 20;  // 1 MiB, newline included
inline constexpr int kProtocolVersion = 1;

// JSON-RPC 2.0 error codes, and fruixd's own in the implementation-defined range.
enum class RpcCode : int {
  kParseError = -32700,      // not JSON, or not UTF-8
  kInvalidRequest = -32600,  // JSON but not a request (or a batch, or a line over 1 MiB)
  kMethodNotFound = -32601,
  kInvalidParams = -32602,  // message names the parameter and the bad value
  kInternalError = -32603,
  kNotFound = -32001,            // job or target unknown; data.job_id / data.target
  kBusy = -32002,                // the VM has a job; data.job_id names it
  kPermissionDenied = -32003,    // peer may not call this method; data.uid
  kLeaseHeld = -32004,           // another fruixd holds the VM's lease; data.owner, data.expires
  kQueueFull = -32005,           // max_queued_jobs reached
  kShuttingDown = -32006,        // SIGTERM received; no new jobs
  kFailedPrecondition = -32007,  // e.g. cancelling a finished job, image not passed
  kUnavailable = -32008,         // backend (pool, store) unavailable; may be retried
};

struct RpcError {
  int code = static_cast<int>(RpcCode::kInternalError);
  std::string message;
  nlohmann::json data;  // null when absent

  static RpcError Of(RpcCode c, std::string message, nlohmann::json data = nullptr) {
    return {static_cast<int>(c), std::move(message), std::move(data)};
  }
};

// The RpcCode a fruix::Error maps to (kInvalidArgument → kInvalidParams, kNotFound → kNotFound,
// kPermissionDenied → kPermissionDenied, kFailedPrecondition → kFailedPrecondition,
// kUnavailable/kTimeout/kTransport/kTls/kXapi → kUnavailable, the rest → kInternalError).
RpcError ToRpcError(const Error& e);
// The reverse, for clients that report an RPC error as a fruix::Error.
Error FromRpcError(const RpcError& e);
std::string_view RpcCodeName(int code);  // "invalid params", "busy", ...

// A request or notification as the daemon receives it.
struct Request {
  nlohmann::json id;  // number or string; null for a notification
  std::string method;
  nlohmann::json params;  // object (absent params become {})
  bool notification = false;
};

// What the daemon makes of one line: a request, or the error to answer with (id null unless the
// line was an object with a usable id).
struct BadRequest {
  nlohmann::json id;
  RpcError error;
};
std::variant<Request, BadRequest> DecodeRequest(std::string_view line);

// What a client receives: a response to one of its ids, or a notification.
struct Response {
  nlohmann::json id;
  std::optional<nlohmann::json> result;  // exactly one of result / error
  std::optional<RpcError> error;
};
struct Notification {
  std::string method;
  nlohmann::json params;
};
Result<std::variant<Response, Notification>> DecodeIncoming(std::string_view line);

// Encoders: one compact line each, newline included. Invalid UTF-8 in strings (console bytes) is
// replaced by U+FFFD rather than failing.
std::string EncodeRequest(const nlohmann::json& id, std::string_view method,
                          const nlohmann::json& params);
std::string EncodeResult(const nlohmann::json& id, const nlohmann::json& result);
std::string EncodeError(const nlohmann::json& id, const RpcError& error);
// EncodeResult for a result already encoded as compact JSON (e.g. cached), without re-parsing it:
// the same bytes as EncodeResult(id, nlohmann::json::parse(result_json)) when result_json is a
// compact nlohmann dump. REQUIRES: result_json is valid compact JSON.
std::string EncodeResultRaw(const nlohmann::json& id, std::string_view result_json);
std::string EncodeNotification(std::string_view method, const nlohmann::json& params);

// Splits a byte stream into lines of at most kMaxMessageBytes. A line over the limit is reported
// once as kTooLong and its bytes are discarded up to the next newline; the stream continues after.
class LineBuffer {
 public:
  explicit LineBuffer(size_t max_bytes = kMaxMessageBytes) : max_(max_bytes) {}
  void Append(std::string_view bytes);
  enum class Status { kLine, kTooLong, kNeedMore };
  // The next complete line (without "\n"; a trailing "\r" is dropped) into *line.
  Status Next(std::string* line);
  size_t buffered() const { return buf_.size() - start_; }

 private:
  size_t max_;
  std::string buf_;
  size_t start_ = 0;    // first byte of the current line
  size_t scanned_ = 0;  // bytes before this index hold no newline
  bool discarding_ = false;
};

}  // namespace fruix::proto
