#include "lib/xenapi/events.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace fruix::xenapi {
namespace {

constexpr int kMaxConsecutiveRestarts = 3;
constexpr int kMaxTransportTimeoutRetries = 2;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Result<std::string> StringMember(const Struct& s, std::string_view name, std::string_view what) {
  const Value* v = s.Find(name);
  if (v == nullptr) {
    return Error::Protocol("event.from: " + std::string(what) + " has no '" + std::string(name) +
                           "'");
  }
  auto str = v->ToString();
  if (str.ok()) return str;
  auto i = v->ToInt();  // event ids may come typed
  if (i.ok()) return std::to_string(*i);
  return Error::Protocol("event.from: " + std::string(what) + " member '" + std::string(name) +
                         "' is " + v->DebugString(60));
}

}  // namespace

std::chrono::milliseconds EventFromHttpTimeout(std::chrono::milliseconds poll,
                                               const EventWatcherOptions& options) {
  return std::chrono::milliseconds(poll.count() + poll.count() / 10) + options.http_margin;
}

std::string ObjectSubscription(std::string_view xapi_class, const OpaqueRef& ref) {
  return Lower(xapi_class) + "/" + ref.str();
}

std::string ClassSubscription(std::string_view xapi_class) { return Lower(xapi_class); }

Result<EventBatch> ParseEventBatch(const Value& v) {
  if (!v.is_struct()) return Error::Protocol("event.from returned " + v.DebugString(80));
  const Struct& s = v.structure();
  EventBatch batch;
  FRUIX_ASSIGN_OR_RETURN(batch.token, StringMember(s, "token", "result"));
  const Value* events = s.Find("events");
  if (events == nullptr || !events->is_array()) {
    return Error::Protocol("event.from result has no 'events' array");
  }
  for (const Value& ev : events->array()) {
    if (!ev.is_struct()) return Error::Protocol("event.from: event is " + ev.DebugString(60));
    const Struct& e = ev.structure();
    Event out;
    if (e.Find("id") != nullptr) {
      FRUIX_ASSIGN_OR_RETURN(out.id, StringMember(e, "id", "event"));
    }
    FRUIX_ASSIGN_OR_RETURN(std::string cls, StringMember(e, "class", "event"));
    out.class_name = Lower(cls);
    FRUIX_ASSIGN_OR_RETURN(std::string op, StringMember(e, "operation", "event"));
    if (op == "add") {
      out.op = EventOp::kAdd;
    } else if (op == "mod") {
      out.op = EventOp::kMod;
    } else if (op == "del") {
      out.op = EventOp::kDel;
    } else {
      return Error::Protocol("event.from: unknown operation '" + op + "'");
    }
    FRUIX_ASSIGN_OR_RETURN(std::string ref, StringMember(e, "ref", "event"));
    out.ref = OpaqueRef(std::move(ref));
    if (const Value* snap = e.Find("snapshot"); snap != nullptr && snap->is_struct()) {
      out.snapshot = *snap;
    }
    batch.events.push_back(std::move(out));
  }
  return batch;
}

EventWatcher::EventWatcher(Session& session, std::vector<std::string> classes,
                           EventWatcherOptions options)
    : session_(session), classes_(std::move(classes)), options_(options) {}

Result<EventBatch> EventWatcher::Next(const Deadline& deadline, std::stop_token cancel) {
  int restarts = 0;
  int transport_retries = 0;
  for (;;) {
    if (cancel.stop_requested()) return Error::Cancelled("event.from: cancelled");
    auto remaining = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining());
    if (remaining.count() <= 0) return Error::Timeout("event.from: deadline passed");
    auto poll = std::min(options_.poll_timeout, remaining);
    bool restarted = token_.empty();
    CallOptions call;
    call.timeout = EventFromHttpTimeout(poll, options_);
    call.retry_on_session_invalid = false;
    call.cancel = cancel;
    auto r = session_.Call("event.from",
                           {Value::StringArray(classes_), Value(token_),
                            Value(static_cast<double>(poll.count()) / 1000.0)},
                           call);
    if (!r.ok()) {
      const Error& e = r.error();
      if (e.IsXapi("EVENTS_LOST") || e.IsXapi("SESSION_INVALID") ||
          e.IsXapi("EVENT_FROM_TOKEN_PARSE_FAILURE")) {
        if (++restarts > kMaxConsecutiveRestarts) return e;
        spdlog::info("XenAPI events: {}; restarting from scratch", e.xapi_code());
        token_.clear();
        continue;
      }
      if (e.code() == ErrorCode::kTimeout && !deadline.expired() &&
          ++transport_retries <= kMaxTransportTimeoutRetries) {
        // The HTTP deadline (1.1x the poll) passed: a dead connection; retry on a fresh one.
        spdlog::warn("XenAPI events: event.from got no answer in time; retrying");
        continue;
      }
      return e;
    }
    auto batch = ParseEventBatch(*r);
    if (!batch.ok()) return batch.error();
    batch->restarted = restarted;
    token_ = batch->token;
    return batch;
  }
}

Result<Event> WaitFor(Session& session, std::vector<std::string> classes,
                      const std::function<bool(const Event&)>& done, const Deadline& deadline,
                      std::stop_token cancel, std::string_view what, EventWatcherOptions options) {
  EventWatcher watcher(session, std::move(classes), options);
  for (;;) {
    auto batch = watcher.Next(deadline, cancel);
    if (!batch.ok()) {
      if (batch.error().code() == ErrorCode::kTimeout && deadline.expired()) {
        return Error::Timeout(std::string(what) + ": not reached before the deadline");
      }
      if (batch.error().code() == ErrorCode::kCancelled) {
        return Error::Cancelled(std::string(what) + ": wait cancelled");
      }
      return batch.error().WithContext(what);
    }
    for (const Event& e : batch->events) {
      if (done(e)) return e;
    }
  }
}

namespace internal {

Result<Value> WaitForObject(Session& session, std::string_view xapi_class, const OpaqueRef& ref,
                            const std::function<Result<bool>(const Value&)>& accept,
                            const Deadline& deadline, std::stop_token cancel,
                            const EventWatcherOptions& options) {
  std::string what = "waiting for " + std::string(xapi_class) + " " + ref.str();
  std::optional<Error> failure;
  std::optional<Value> matched;
  auto done = [&](const Event& e) {
    if (e.ref != ref) return false;
    if (e.op == EventOp::kDel) {
      failure = Error::NotFound(what + ": the object was destroyed");
      return true;
    }
    Value snapshot;
    if (e.snapshot) {
      snapshot = *e.snapshot;
    } else {
      auto rec = session.Call(std::string(xapi_class) + ".get_record", {Value(ref.str())});
      if (!rec.ok()) {
        failure = rec.error().WithContext(what);
        return true;
      }
      snapshot = std::move(rec).value();
    }
    auto ok = accept(snapshot);
    if (!ok.ok()) {
      failure = ok.error().WithContext(what);
      return true;
    }
    if (*ok) matched = std::move(snapshot);
    return *ok;
  };
  auto r = WaitFor(session, {ObjectSubscription(xapi_class, ref)}, done, deadline, cancel, what,
                   options);
  if (!r.ok()) return r.error();
  if (failure) return *failure;
  return std::move(*matched);
}

}  // namespace internal

}  // namespace fruix::xenapi
