// fruix::Error — the error value every module boundary returns (inside Result<T>).
// An Error is a plain value: copyable, no ownership, safe to pass between threads.
// XenAPI failures keep xapi's code and parameters verbatim (see Error::Xapi).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fruix {

enum class ErrorCode {
  kInvalidArgument,     // the caller's input is wrong; the message names the bad value
  kNotFound,            // a named object does not exist
  kAlreadyExists,       // creating something that is already there
  kFailedPrecondition,  // the system is not in a state that allows the operation
  kPermissionDenied,    // the peer is not allowed to do this
  kTimeout,             // a deadline passed
  kCancelled,           // the operation was cancelled on request
  kUnavailable,         // a transient failure (connection refused/reset, busy); may be retried
  kTransport,           // network or HTTP failure that is not transient
  kTls,                 // TLS handshake, certificate verification or pin mismatch
  kProtocol,            // the peer sent something malformed
  kXapi,                // xapi answered Status=Failure; see xapi_code()/xapi_params()
  kIo,                  // local file-system or device error
  kInternal,            // a bug or an impossible state
};

std::string_view ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Error InvalidArgument(std::string m) {
    return {ErrorCode::kInvalidArgument, std::move(m)};
  }
  static Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error AlreadyExists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
  static Error FailedPrecondition(std::string m) {
    return {ErrorCode::kFailedPrecondition, std::move(m)};
  }
  static Error PermissionDenied(std::string m) {
    return {ErrorCode::kPermissionDenied, std::move(m)};
  }
  static Error Timeout(std::string m) { return {ErrorCode::kTimeout, std::move(m)}; }
  static Error Cancelled(std::string m) { return {ErrorCode::kCancelled, std::move(m)}; }
  static Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
  static Error Transport(std::string m) { return {ErrorCode::kTransport, std::move(m)}; }
  static Error Tls(std::string m) { return {ErrorCode::kTls, std::move(m)}; }
  static Error Protocol(std::string m) { return {ErrorCode::kProtocol, std::move(m)}; }
  static Error Io(std::string m) { return {ErrorCode::kIo, std::move(m)}; }
  static Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
  // A XenAPI failure: `description` is xapi's ErrorDescription, [code, param1, ...].
  // An empty description becomes code "UNKNOWN_ERROR".
  static Error Xapi(std::vector<std::string> description);
  static Error Xapi(std::string code, std::vector<std::string> params);

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  bool is_xapi() const { return code_ == ErrorCode::kXapi; }
  // For kXapi: xapi's error code (e.g. "SESSION_INVALID"); empty otherwise.
  std::string_view xapi_code() const;
  // For kXapi: the parameters after the code; empty otherwise.
  std::vector<std::string> xapi_params() const;
  // For kXapi: the full ErrorDescription as xapi sent it.
  const std::vector<std::string>& xapi_description() const { return xapi_; }
  bool IsXapi(std::string_view xapi_code) const {
    return is_xapi() && this->xapi_code() == xapi_code;
  }

  // Adds context in front of the message ("uploading disk.img: " + message), keeping code/params.
  Error WithContext(std::string_view context) const;

  // "<code name>: <message>", for logs and CLI output.
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::vector<std::string> xapi_;
};

}  // namespace fruix
