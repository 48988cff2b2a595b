#include "proto/jsonrpc.h"

namespace fruix::proto {

using nlohmann::json;

RpcError ToRpcError(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
      return RpcError::Of(RpcCode::kInvalidParams, e.message());
    case ErrorCode::kNotFound:
      return RpcError::Of(RpcCode::kNotFound, e.message());
    case ErrorCode::kPermissionDenied:
      return RpcError::Of(RpcCode::kPermissionDenied, e.message());
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kAlreadyExists:
      return RpcError::Of(RpcCode::kFailedPrecondition, e.message());
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
    case ErrorCode::kTransport:
    case ErrorCode::kTls:
    case ErrorCode::kXapi:
      return RpcError::Of(RpcCode::kUnavailable, e.ToString());
    default:
      return RpcError::Of(RpcCode::kInternalError, e.ToString());
  }
}

Error FromRpcError(const RpcError& e) {
  std::string msg = e.message;
  switch (static_cast<RpcCode>(e.code)) {
    case RpcCode::kInvalidParams:
    case RpcCode::kInvalidRequest:
    case RpcCode::kMethodNotFound:
      return Error::InvalidArgument(msg);
    case RpcCode::kNotFound:
      return Error::NotFound(msg);
    case RpcCode::kPermissionDenied:
      return Error::PermissionDenied(msg);
    case RpcCode::kBusy:
    case RpcCode::kLeaseHeld:
    case RpcCode::kQueueFull:
    case RpcCode::kFailedPrecondition:
    case RpcCode::kShuttingDown:
      return Error::FailedPrecondition(msg);
    case RpcCode::kUnavailable:
      return Error::Unavailable(msg);
    case RpcCode::kParseError:
      return Error::Protocol(msg);
    default:
      return Error::Internal(msg);
  }
}

std::string_view RpcCodeName(int code) {
  switch (static_cast<RpcCode>(code)) {
    case RpcCode::kParseError:
      return "parse error";
    case RpcCode::kInvalidRequest:
      return "invalid request";
    case RpcCode::kMethodNotFound:
      return "method not found";
    case RpcCode::kInvalidParams:
      return "invalid params";
    case RpcCode::kInternalError:
      return "internal error";
    case RpcCode::kNotFound:
      return "not found";
    case RpcCode::kBusy:
      return "busy";
    case RpcCode::kPermissionDenied:
      return "permission denied";
    case RpcCode::kLeaseHeld:
      return "lease held";
    case RpcCode::kQueueFull:
      return "queue full";
    case RpcCode::kShuttingDown:
      return "shutting down";
    case RpcCode::kFailedPrecondition:
      return "failed precondition";
    case RpcCode::kUnavailable:
      return "unavailable";
  }
  return "error";
}

namespace {

std::string Line(const json& j) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

bool UsableId(const json& id) {
  return id.is_string() || id.is_number_integer() || id.is_number_unsigned();
}

std::optional<json> Parse(std::string_view line) {
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

}  // namespace

std::variant<Request, BadRequest> DecodeRequest(std::string_view line) {
  auto parsed = Parse(line);
  if (!parsed) {
    return BadRequest{nullptr, RpcError::Of(RpcCode::kParseError,
                                            "the message is not valid JSON (one JSON-RPC 2.0 "
                                            "request object per line is expected)")};
  }
  json& j = *parsed;
  if (j.is_array()) {
    return BadRequest{nullptr, RpcError::Of(RpcCode::kInvalidRequest,
                                            "batch requests are not supported; send one "
                                            "request object per line")};
  }
  if (!j.is_object()) {
    return BadRequest{
        nullptr, RpcError::Of(RpcCode::kInvalidRequest, "a request must be a JSON object, got " +
                                                            std::string(j.type_name()))};
  }
  json id = nullptr;
  bool has_id = j.contains("id");
  if (has_id) {
    if (UsableId(j["id"])) {
      id = j["id"];
    } else if (!j["id"].is_null()) {
      return BadRequest{
          nullptr, RpcError::Of(RpcCode::kInvalidRequest, "\"id\" must be a string or an integer")};
    }
  }
  auto jsonrpc = j.find("jsonrpc");
  if (jsonrpc == j.end() || *jsonrpc != "2.0") {
    return BadRequest{id, RpcError::Of(RpcCode::kInvalidRequest, "\"jsonrpc\" must be \"2.0\"")};
  }
  auto method = j.find("method");
  if (method == j.end() || !method->is_string() || method->get_ref<const std::string&>().empty()) {
    return BadRequest{
        id, RpcError::Of(RpcCode::kInvalidRequest, "\"method\" must be a non-empty string")};
  }
  Request r;
  r.id = id;
  r.notification = !has_id;
  r.method = method->get<std::string>();
  auto params = j.find("params");
  if (params == j.end() || params->is_null()) {
    r.params = json::object();
  } else if (params->is_object()) {
    r.params = std::move(*params);
  } else {
    return BadRequest{id, RpcError::Of(RpcCode::kInvalidParams,
                                       "\"params\" must be an object (named parameters), got " +
                                           std::string(params->type_name()))};
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "jsonrpc" && it.key() != "id" && it.key() != "method" && it.key() != "params") {
      return BadRequest{id, RpcError::Of(RpcCode::kInvalidRequest,
                                         "unknown member \"" + it.key() + "\" in the request")};
    }
  }
  return r;
}

Result<std::variant<Response, Notification>> DecodeIncoming(std::string_view line) {
  auto parsed = Parse(line);
  if (!parsed || !parsed->is_object()) {
    return Error::Protocol("fruixd sent a line that is not a JSON object: " +
                           std::string(line.substr(0, 200)));
  }
  json& j = *parsed;
  if (j.value("jsonrpc", "") != "2.0") return Error::Protocol("fruixd sent a non-2.0 message");
  if (j.contains("method")) {
    if (!j["method"].is_string()) return Error::Protocol("notification method is not a string");
    Notification n{j["method"].get<std::string>(), j.value("params", json::object())};
    return std::variant<Response, Notification>(std::move(n));
  }
  Response r;
  r.id = j.value("id", json(nullptr));
  if (j.contains("error")) {
    const json& e = j["error"];
    if (!e.is_object() || !e.contains("code") || !e["code"].is_number_integer()) {
      return Error::Protocol("fruixd sent a malformed error object");
    }
    RpcError err;
    err.code = e["code"].get<int>();
    err.message = e.value("message", "");
    err.data = e.value("data", json(nullptr));
    r.error = std::move(err);
  } else if (j.contains("result")) {
    r.result = std::move(j["result"]);
  } else {
    return Error::Protocol("fruixd sent a response with neither result nor error");
  }
  return std::variant<Response, Notification>(std::move(r));
}

std::string EncodeRequest(const json& id, std::string_view method, const json& params) {
  json j = {{"jsonrpc", "2.0"}, {"method", method}, {"params", params}};
  if (!id.is_null()) j["id"] = id;
  return Line(j);
}

std::string EncodeResult(const json& id, const json& result) {
  return Line(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}});
}

std::string EncodeResultRaw(const json& id, std::string_view result_json) {
  std::string line = "{\"id\":";
  line += id.dump(-1, ' ', false, json::error_handler_t::replace);
  line += ",\"jsonrpc\":\"2.0\",\"result\":";
  line += result_json;
  line += "}\n";
  return line;
}

std::string EncodeError(const json& id, const RpcError& error) {
  json e = {{"code", error.code}, {"message", error.message}};
  if (!error.data.is_null()) e["data"] = error.data;
  return Line(json{{"jsonrpc", "2.0"}, {"id", id}, {"error", e}});
}

std::string EncodeNotification(std::string_view method, const json& params) {
  return Line(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", params}});
}

void LineBuffer::Append(std::string_view bytes) {
  if (start_ > 0 && start_ >= buf_.size() / 2) {
    buf_.erase(0, start_);
    scanned_ -= start_;
    start_ = 0;
  }
  buf_.append(bytes);
}

LineBuffer::Status LineBuffer::Next(std::string* line) {
  for (;;) {
    const size_t nl = buf_.find('\n', scanned_);
    if (nl == std::string::npos) {
      scanned_ = buf_.size();
      if (buf_.size() - start_ >= max_) {
        // Over the limit without a newline: drop what we have and discard to the next newline.
        buf_.clear();
        start_ = scanned_ = 0;
        if (!discarding_) {
          discarding_ = true;
          return Status::kTooLong;
        }
      }
      return Status::kNeedMore;
    }
    const size_t len = nl - start_;
    const size_t begin = start_;
    start_ = scanned_ = nl + 1;
    if (discarding_) {
      discarding_ = false;  // the tail of a line already reported
      continue;
    }
    if (len + 1 > max_) return Status::kTooLong;
    line->assign(buf_, begin, len);
    if (!line->empty() && line->back() == '\r') line->pop_back();
    return Status::kLine;
  }
}

}  // namespace fruix::proto
