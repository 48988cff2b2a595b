#include "daemon/dispatcher.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <variant>

namespace fruix::daemon {

using nlohmann::json;
using proto::RpcCode;
using proto::RpcError;

namespace {

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// A method name as error messages quote it: bounded, so a huge name cannot bloat the answer.
std::string Quoted(std::string_view name) {
  constexpr size_t kMax = 100;
  std::string s = "\"" + std::string(name.substr(0, kMax));
  if (name.size() > kMax) s += "...";
  return s + "\"";
}

std::string KnownMethods() {
  std::string s;
  for (const auto& m : proto::kMethods) {
    if (!s.empty()) s += ", ";
    s += m.name;
  }
  return s;
}

}  // namespace

namespace internal {

PendingCall::PendingCall(json id, bool notification, std::string method, CallContext context,
                         std::function<void(std::string)> send)
    : id_(std::move(id)),
      notification_(notification),
      method_(std::move(method)),
      context_(std::move(context)),
      send_(std::move(send)) {}

PendingCall::~PendingCall() {
  if (!completed()) {
    spdlog::error("control: {} from {} was dropped by its handler without an answer", method_,
                  PeerName(context_.peer));
    Fail(RpcError::Of(RpcCode::kInternalError,
                      method_ + ": the request was dropped without an answer (a fruixd bug)"));
  }
}

bool PendingCall::Complete(std::string line) {
  if (done_.exchange(true, std::memory_order_acq_rel)) return false;
  // Only the first completer gets here, so send_ is touched by one thread.
  auto send = std::move(send_);
  send_ = nullptr;
  if (!notification_ && send) send(std::move(line));
  return true;
}

bool PendingCall::Succeed(const json& result) {
  if (completed()) return false;
  return Complete(notification_ ? std::string() : proto::EncodeResult(id_, result));
}

bool PendingCall::SucceedRaw(std::string_view result_json) {
  if (completed()) return false;
  return Complete(notification_ ? std::string() : proto::EncodeResultRaw(id_, result_json));
}

bool PendingCall::Fail(const RpcError& error) {
  if (completed()) return false;
  if (notification_) {
    spdlog::debug("control: notification {} from {} failed: {}", method_, PeerName(context_.peer),
                  error.message);
  }
  return Complete(notification_ ? std::string() : proto::EncodeError(id_, error));
}

}  // namespace internal

Dispatcher::Dispatcher(AccessPolicy policy) : policy_(std::move(policy)) {}

void Dispatcher::Add(std::string_view name, proto::Access access, Invoker invoke) {
  const proto::MethodInfo* info = proto::FindMethod(name);
  if (info == nullptr) {
    problems_.push_back("handler registered for " + Quoted(name) +
                        ", which is not in proto::kMethods");
    return;
  }
  if (info->access != access) {
    problems_.push_back("handler for " + Quoted(name) +
                        " registered with an access level that differs from proto::kMethods");
    return;
  }
  handlers_[std::string(name)] = Entry{access, std::move(invoke)};
}

Result<void> Dispatcher::CheckComplete() const {
  std::vector<std::string> problems = problems_;
  for (const auto& m : proto::kMethods) {
    if (handlers_.find(m.name) == handlers_.end()) {
      problems.push_back("no handler for " + Quoted(m.name));
    }
  }
  if (problems.empty()) return Ok();
  std::string message = "the control dispatcher is incomplete: ";
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i) message += "; ";
    message += problems[i];
  }
  return Error::FailedPrecondition(message);
}

void Dispatcher::SetPolicy(AccessPolicy policy) {
  std::lock_guard lock(policy_mu_);
  policy_ = std::move(policy);
}

AccessPolicy Dispatcher::policy() const {
  std::lock_guard lock(policy_mu_);
  return policy_;
}

void Dispatcher::Dispatch(std::string_view line, CallContext context,
                          std::function<void(std::string)> send) {
  if (IsBlank(line)) return;
  auto decoded = proto::DecodeRequest(line);
  if (auto* bad = std::get_if<proto::BadRequest>(&decoded)) {
    spdlog::debug("control: bad request from {}: {}", PeerName(context.peer), bad->error.message);
    send(proto::EncodeError(bad->id, bad->error));
    return;
  }
  auto& request = std::get<proto::Request>(decoded);
  auto call = std::make_shared<internal::PendingCall>(
      request.id, request.notification, request.method, std::move(context), std::move(send));
  const Peer& peer = call->context().peer;

  auto it = handlers_.find(request.method);
  if (it == handlers_.end()) {
    call->Fail(RpcError::Of(
        RpcCode::kMethodNotFound,
        "unknown method " + Quoted(request.method) + " (fruixd knows: " + KnownMethods() + ")",
        json{{"method", request.method.substr(0, 100)}}));
    return;
  }
  const Entry& entry = it->second;
  bool allowed = false;
  {
    std::lock_guard lock(policy_mu_);
    allowed = policy_.Allows(peer, entry.access);
  }
  if (!allowed) {
    spdlog::warn("control: {} (pid {}) refused {}: not allowed to call mutating methods",
                 PeerName(peer), peer.pid, request.method);
    call->Fail(RpcError::Of(
        RpcCode::kPermissionDenied,
        PeerName(peer) + " may not call " + request.method +
            ", a mutating method; it is open to root, fruixd's own user and the users and "
            "groups in daemon.mutating_users / daemon.mutating_groups",
        json{{"uid", peer.uid}, {"user", peer.user}, {"method", request.method}}));
    return;
  }
  spdlog::debug("control: {} (pid {}) calls {}", PeerName(peer), peer.pid, request.method);
  try {
    entry.invoke(request.params, call);
  } catch (const std::exception& e) {
    spdlog::error("control: the handler of {} threw: {}", request.method, e.what());
    call->Fail(RpcError::Of(RpcCode::kInternalError,
                            request.method + " failed inside fruixd: " + e.what()));
  } catch (...) {
    spdlog::error("control: the handler of {} threw a non-standard exception", request.method);
    call->Fail(RpcError::Of(RpcCode::kInternalError,
                            request.method + " failed inside fruixd (unknown exception)"));
  }
}

}  // namespace fruix::daemon
