// daemon::Dispatcher — the dispatch layer of the control socket: turns one request line into a
// call of the handler registered for its method, after checking the caller's access, and turns
// the handler's typed answer back into a response line. Below it the transport (ControlServer)
// frames bytes and collects peer credentials and passed descriptors; above it the service layer
// registers one handler per method of proto::kMethods.
//
// The vocabulary handlers see is defined here too:
//   CallContext — everything one request brings (peer, passed descriptors, the connection).
//   Outbox      — the connection's outgoing side, for notifications after the reply (job.watch).
//   Reply<R>    — a one-shot, thread-safe handle that answers the request.
//
// Threads: Register before serving, from the thread that owns the Dispatcher. Dispatch runs on
// the io thread, and so do handlers, which must not block; a handler may keep its Reply and
// complete it later from any thread. SetPolicy and policy() may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/peer.h"
#include "daemon/unique_fd.h"
#include "lib/core/result.h"
#include "proto/jsonrpc.h"
#include "proto/methods.h"

namespace fruix::daemon {

// The outgoing side of one control connection. Thread-safe: every member may be called from any
// thread. The transport implements it; tests use a recording fake.
class Outbox {
 public:
  virtual ~Outbox() = default;

  // Queues one encoded line ("\n"-terminated) for the peer. Returns false, dropping the line, once
  // the connection is closed or closing; a peer that stops reading until the queue exceeds the
  // server's max_outbox_bytes is disconnected (and this returns false).
  virtual bool SendLine(std::string line) = 0;
  // Queues a JSON-RPC notification (e.g. "job.event"); as SendLine.
  bool SendNotification(std::string_view method, const nlohmann::json& params) {
    return SendLine(proto::EncodeNotification(method, params));
  }
  // True once the connection has ended or is ending: further lines are dropped.
  virtual bool closed() const = 0;
  // Runs `callback` once on the io thread when the connection ends (at once, posted, when it has
  // already ended). Callbacks must not block.
  virtual void OnClose(std::function<void()> callback) = 0;
  // Stops reading and ends the connection once the lines already queued are written.
  virtual void Close() = 0;
};

// Everything a handler gets for one request. It lives until the handler has returned and every
// copy of the request's Reply is gone; descriptors still in `fds` then are closed, so a handler
// that keeps a descriptor moves it out.
struct CallContext {
  Peer peer;
  std::vector<UniqueFd> fds;       // descriptors passed with this request (SCM_RIGHTS), ≤ 4
  std::shared_ptr<Outbox> outbox;  // the connection (null only in tests without one)
};

namespace internal {

// The shared state behind Reply<R>: the request's id, its context and the transport's send
// function. The first completion wins; a call whose last handle goes away uncompleted is answered
// with kInternalError ("... was dropped without an answer"). Thread-safe.
class PendingCall {
 public:
  PendingCall(nlohmann::json id, bool notification, std::string method, CallContext context,
              std::function<void(std::string)> send);
  ~PendingCall();
  PendingCall(const PendingCall&) = delete;
  PendingCall& operator=(const PendingCall&) = delete;

  // Answers with `result` (the method's result as JSON). False when already completed.
  bool Succeed(const nlohmann::json& result);
  // Answers with a result already encoded as compact JSON (see proto::EncodeResultRaw).
  bool SucceedRaw(std::string_view result_json);
  // Answers with `error`. False when already completed.
  bool Fail(const proto::RpcError& error);
  bool completed() const { return done_.load(std::memory_order_acquire); }

  CallContext& context() { return context_; }
  const std::string& method() const { return method_; }
  const nlohmann::json& id() const { return id_; }

 private:
  // Sends `line` (empty: nothing) if this is the first completion, then drops the send function.
  bool Complete(std::string line);

  const nlohmann::json id_;
  const bool notification_;
  const std::string method_;
  CallContext context_;
  std::function<void(std::string)> send_;
  std::atomic<bool> done_{false};
};

}  // namespace internal

// A one-shot answer to one request. A copyable handle (copies share the call); thread-safe;
// exactly one Ok/Fail takes effect, later ones are ignored and return false. Answers to
// notifications (requests without id) are not sent.
template <typename R>
class Reply {
 public:
  explicit Reply(std::shared_ptr<internal::PendingCall> call) : call_(std::move(call)) {}

  bool Ok(const R& result) const { return call_->Succeed(proto::ToJson(result)); }
  // Ok() for a result already encoded: `result_json` must be proto::ToJson(R) dumped compactly
  // (e.g. cached for an object that no longer changes).
  bool OkEncoded(std::string_view result_json) const { return call_->SucceedRaw(result_json); }
  bool Fail(const proto::RpcError& error) const { return call_->Fail(error); }
  // Through proto::ToRpcError (kInvalidArgument → invalid params, kNotFound → not found, ...).
  bool Fail(const Error& error) const { return call_->Fail(proto::ToRpcError(error)); }
  bool completed() const { return call_->completed(); }

 private:
  std::shared_ptr<internal::PendingCall> call_;
};

class Dispatcher {
 public:
  template <typename M>
  using Handler = std::function<void(typename M::Params, CallContext&, Reply<typename M::Result>)>;

  explicit Dispatcher(AccessPolicy policy);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Registers the handler of `method` (a constant of proto/methods.h), replacing an earlier one.
  // The handler gets decoded, bounded params (a decoding error is answered with kInvalidParams
  // and the decoder's message without calling it), the call's context, and its Reply.
  template <typename M>
  void Register(const M& method, Handler<M> handler);

  // OK when every method of proto::kMethods has a handler and nothing else was registered;
  // kFailedPrecondition listing the problems otherwise. The transport checks this at Start.
  Result<void> CheckComplete() const;

  // Replaces the access policy (config reload); calls dispatched afterwards use the new one.
  void SetPolicy(AccessPolicy policy);
  AccessPolicy policy() const;

  // Handles one complete line (without its newline) from a connection. Blank lines are ignored.
  // `send` is called at most once, with the encoded response line, on whichever thread completes
  // the call; never for a notification. Errors are answered per JSON-RPC 2.0: -32700 for a line
  // that is not JSON, -32600 for a malformed request, -32601 for an unknown method, -32003 when
  // the peer may not call the method, -32602 for bad params, -32603 when a handler throws.
  void Dispatch(std::string_view line, CallContext context, std::function<void(std::string)> send);

 private:
  using Invoker = std::function<void(const nlohmann::json& params,
                                     const std::shared_ptr<internal::PendingCall>& call)>;
  struct Entry {
    proto::Access access;
    Invoker invoke;
  };
  void Add(std::string_view name, proto::Access access, Invoker invoke);

  std::map<std::string, Entry, std::less<>> handlers_;
  std::vector<std::string> problems_;
  mutable std::mutex policy_mu_;
  AccessPolicy policy_;
};

template <typename M>
void Dispatcher::Register(const M& method, Handler<M> handler) {
  Add(method.name, method.access,
      [handler = std::move(handler)](const nlohmann::json& params,
                                     const std::shared_ptr<internal::PendingCall>& call) {
        auto decoded = proto::Decode<typename M::Params>(params, "params");
        if (!decoded.ok()) {
          call->Fail(
              proto::RpcError::Of(proto::RpcCode::kInvalidParams, decoded.error().message()));
          return;
        }
        handler(std::move(*decoded), call->context(), Reply<typename M::Result>(call));
      });
}

}  // namespace fruix::daemon
