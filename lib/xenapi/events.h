// XenAPI event watching over event.from (xenapi-spec.md §5, §8.11), and the event-driven wait
// primitives built on it. Waiting for a condition never polls on a timer: it blocks in
// event.from until xapi reports a change, then re-evaluates.
//
// EventWatcher: one caller thread at a time (not thread-safe); create one per waiting activity.
// It borrows the Session (thread-safe, must outlive it). WaitFor / WaitForRecord are free functions
// safe from any thread; each runs its own watcher (and so its own HTTP connection).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "lib/core/clock.h"
#include "lib/core/ids.h"
#include "lib/core/result.h"
#include "lib/xenapi/records.h"
#include "lib/xenapi/session.h"
#include "lib/xenapi/value.h"

namespace fruix::xenapi {

enum class EventOp { kAdd, kMod, kDel };

struct Event {
  std::string id;          // xapi's event id (DB generation), informational
  std::string class_name;  // lower-case table name: "vm", "task", "vm_guest_metrics"
  EventOp op = EventOp::kMod;
  OpaqueRef ref;
  std::optional<Value> snapshot;  // the full record after the change; absent for kDel
};

struct EventBatch {
  std::vector<Event> events;  // empty when the poll timed out with no change
  std::string token;          // token to continue from
  // The watcher started from scratch (first call, or after EVENTS_LOST / SESSION_INVALID): the
  // events are an "add" for every current object of the subscribed classes.
  bool restarted = false;
};

struct EventWatcherOptions {
  // The timeout given to event.from (sent as <double>). xapi answers after this long if nothing
  // changed. The HTTP request's own deadline is 1.1x this plus http_margin, so a half-open
  // connection cannot hang the watcher.
  std::chrono::milliseconds poll_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds http_margin{std::chrono::seconds(2)};
};

// The HTTP deadline used for an event.from call with timeout `poll`.
std::chrono::milliseconds EventFromHttpTimeout(std::chrono::milliseconds poll,
                                               const EventWatcherOptions& options);

// The subscription string for one object: "<lower-case class>/<ref>" (e.g. "vm/OpaqueRef:x").
std::string ObjectSubscription(std::string_view xapi_class, const OpaqueRef& ref);
// The subscription string for a whole class: "vm", "task", ...
std::string ClassSubscription(std::string_view xapi_class);

class EventWatcher {
 public:
  // `classes`: subscriptions as event.from takes them ("*", "vm", "task/OpaqueRef:x").
  EventWatcher(Session& session, std::vector<std::string> classes,
               EventWatcherOptions options = {});

  // One event.from round. Blocks until xapi reports changes, or returns an empty batch once the
  // poll timeout (capped by `deadline`) passes. On EVENTS_LOST, SESSION_INVALID (the session is
  // renewed) or an unparsable token it restarts from scratch and the batch is marked restarted.
  // Errors: kTimeout if `deadline` has already passed, kCancelled, transport errors, other
  // XenAPI failures (e.g. EVENT_SUBSCRIPTION_PARSE_FAILURE).
  Result<EventBatch> Next(const Deadline& deadline, std::stop_token cancel = {});

  const std::string& token() const { return token_; }
  // Forgets the token: the next batch is a full snapshot.
  void Restart() { token_.clear(); }

 private:
  Session& session_;
  std::vector<std::string> classes_;
  EventWatcherOptions options_;
  std::string token_;
};

// Parses event.from's result struct {events, valid_ref_counts, token}. kProtocol when malformed.
Result<EventBatch> ParseEventBatch(const Value& v);

// Waits until `done(event)` returns true for an event of `classes`, and returns that event. The
// first round delivers the current state of every subscribed object, so a condition that already
// holds is seen at once. kTimeout when `deadline` passes (message starts with `what`), kCancelled
// on `cancel`, or a watcher error.
Result<Event> WaitFor(Session& session, std::vector<std::string> classes,
                      const std::function<bool(const Event&)>& done, const Deadline& deadline,
                      std::stop_token cancel = {}, std::string_view what = "event",
                      EventWatcherOptions options = {});

// Waits until the object `ref` of record type R (records.h) satisfies `pred`, and returns its
// record at that moment. Subscribes to that object only. kNotFound if it is destroyed while
// waiting (or does not exist), kProtocol if a snapshot does not parse, else as WaitFor.
template <typename R>
Result<R> WaitForRecord(Session& session, const OpaqueRef& ref,
                        const std::function<bool(const R&)>& pred, const Deadline& deadline,
                        std::stop_token cancel = {}, EventWatcherOptions options = {});

// ---- implementation of the template ----
namespace internal {
// Waits for an event on object `ref` of `xapi_class` for which `accept(snapshot)` returns true;
// returns the snapshot. kNotFound on deletion.
Result<Value> WaitForObject(Session& session, std::string_view xapi_class, const OpaqueRef& ref,
                            const std::function<Result<bool>(const Value&)>& accept,
                            const Deadline& deadline, std::stop_token cancel,
                            const EventWatcherOptions& options);
}  // namespace internal

template <typename R>
Result<R> WaitForRecord(Session& session, const OpaqueRef& ref,
                        const std::function<bool(const R&)>& pred, const Deadline& deadline,
                        std::stop_token cancel, EventWatcherOptions options) {
  std::optional<R> matched;
  auto accept = [&](const Value& snapshot) -> Result<bool> {
    FRUIX_ASSIGN_OR_RETURN(R rec, R::Parse(snapshot));
    if (!pred(rec)) return false;
    matched = std::move(rec);
    return true;
  };
  FRUIX_RETURN_IF_ERROR(
      internal::WaitForObject(session, R::kClass, ref, accept, deadline, cancel, options));
  return std::move(*matched);
}

}  // namespace fruix::xenapi
