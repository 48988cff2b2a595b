// sim::events — event.from as xapi computes it (xen-api ocaml/xapi/xapi_event.ml), over the
// generation stamps kept by sim::Database:
//   - subscriptions: "*", a class name (lower-cased by the server), or "class/ref"; names that
//     match no class are accepted and simply select nothing (xapi's parser cannot fail);
//   - token "" = generation 0 (every live object comes back as `add`); otherwise
//     "%020d,%020d" (object generation, message generation); anything else is
//     EVENT_FROM_TOKEN_PARSE_FAILURE [token];
//   - an object created after the token is `add`, one only modified is `mod` (with the record as
//     snapshot), one deleted is `del` (no snapshot) unless it was also created after the token,
//     in which case nothing is reported;
//   - blocks until at least one event matches or `timeout` seconds pass; an empty batch only
//     comes back on timeout, with the token unchanged;
//   - SESSION_INVALID [session] if the calling session disappears while waiting.
// Result struct: {events: [{id, timestamp "0.0", class, operation, ref, snapshot?}],
// valid_ref_counts: {table: <i4>}, token}.
// Thread-safe: blocks only the calling thread, inside Database::WaitLoop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"
#include "lib/sim/database.h"
#include "lib/xenapi/value.h"

namespace fruix::sim {

struct EventToken {
  uint64_t generation = 0;
  uint64_t message_generation = 0;
};

Result<EventToken> ParseEventToken(std::string_view token);
std::string FormatEventToken(const EventToken& token);

// event.from(classes, token, timeout). `session_ref` is watched while waiting.
Result<xenapi::Value> EventFrom(Database& db, const std::vector<std::string>& classes,
                                std::string_view token, double timeout_seconds,
                                std::string_view session_ref);

}  // namespace fruix::sim
