#include "lib/core/error.h"

namespace fruix {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kTransport:
      return "transport";
    case ErrorCode::kTls:
      return "tls";
    case ErrorCode::kProtocol:
      return "protocol";
    case ErrorCode::kXapi:
      return "xapi";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Error Error::Xapi(std::vector<std::string> description) {
  if (description.empty()) description.emplace_back("UNKNOWN_ERROR");
  std::string msg = description[0];
  if (description.size() > 1) {
    msg += " [";
    for (size_t i = 1; i < description.size(); ++i) {
      if (i > 1) msg += ", ";
      msg += description[i];
    }
    msg += "]";
  }
  Error e(ErrorCode::kXapi, std::move(msg));
  e.xapi_ = std::move(description);
  return e;
}

Error Error::Xapi(std::string code, std::vector<std::string> params) {
  params.insert(params.begin(), std::move(code));
  return Xapi(std::move(params));
}

std::string_view Error::xapi_code() const {
  if (xapi_.empty()) return {};
  return xapi_.front();
}

std::vector<std::string> Error::xapi_params() const {
  if (xapi_.size() <= 1) return {};
  return {xapi_.begin() + 1, xapi_.end()};
}

Error Error::WithContext(std::string_view context) const {
  Error e = *this;
  e.message_ = std::string(context) + ": " + message_;
  return e;
}

std::string Error::ToString() const { return std::string(ErrorCodeName(code_)) + ": " + message_; }

}  // namespace fruix
