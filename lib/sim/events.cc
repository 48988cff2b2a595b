#include "lib/sim/events.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>

#include "lib/sim/record_util.h"

namespace fruix::sim {
namespace {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

struct Subscription {
  enum class Kind { kAll, kClass, kObject };
  Kind kind = Kind::kAll;
  std::string cls;  // lower-case
  std::string ref;
};

std::vector<Subscription> ParseSubscriptions(const std::vector<std::string>& classes) {
  std::vector<Subscription> subs;
  for (const auto& c : classes) {
    if (c == "*") {
      subs.push_back({Subscription::Kind::kAll, "", ""});
      continue;
    }
    size_t slash = c.find('/');
    if (slash == std::string::npos) {
      subs.push_back({Subscription::Kind::kClass, AsciiLower(c), ""});
    } else {
      subs.push_back(
          {Subscription::Kind::kObject, AsciiLower(c.substr(0, slash)), c.substr(slash + 1)});
    }
  }
  return subs;
}

bool TableMatches(const std::vector<Subscription>& subs, const std::string& table) {
  for (const auto& s : subs) {
    if (s.kind == Subscription::Kind::kAll || s.cls == table) return true;
  }
  return false;
}

bool ObjectMatches(const std::vector<Subscription>& subs, const std::string& table,
                   const std::string& ref) {
  for (const auto& s : subs) {
    switch (s.kind) {
      case Subscription::Kind::kAll:
        return true;
      case Subscription::Kind::kClass:
        if (s.cls == table) return true;
        break;
      case Subscription::Kind::kObject:
        if (s.cls == table && s.ref == ref) return true;
        break;
    }
  }
  return false;
}

bool ParseU64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

struct Batch {
  std::vector<std::pair<uint64_t, Value>> events;  // (id, event struct)
  uint64_t last = 0;
};

Batch Collect(const Database::Txn& txn, const std::vector<Subscription>& subs, uint64_t since) {
  Batch b;
  b.last = since;
  auto make_event = [](uint64_t id, const std::string& table, const char* op,
                       const std::string& ref, const Struct* snapshot) {
    Struct ev;
    ev.Set("id", Value(std::to_string(id)));
    ev.Set("timestamp", Value("0.0"));
    ev.Set("class", Value(table));
    ev.Set("operation", Value(op));
    ev.Set("ref", Value(ref));
    if (snapshot != nullptr) ev.Set("snapshot", Value(*snapshot));
    return Value(std::move(ev));
  };
  for (const auto& cls : AllClasses()) {
    std::string table = EventClassName(cls.name);
    if (!TableMatches(subs, table)) continue;
    for (const ObjectRow* row : txn.All(cls.name)) {
      if (row->modified <= since || !ObjectMatches(subs, table, row->ref)) continue;
      b.last = std::max(b.last, row->modified);
      if (row->created > since) {
        b.events.emplace_back(row->created,
                              make_event(row->created, table, "add", row->ref, &row->record));
      } else {
        b.events.emplace_back(row->modified,
                              make_event(row->modified, table, "mod", row->ref, &row->record));
      }
    }
    for (const DeletedRow& d : txn.deleted()) {
      if (d.deleted <= since || d.cls != cls.name || !ObjectMatches(subs, table, d.ref)) continue;
      b.last = std::max(b.last, d.deleted);
      if (d.created <= since) {
        b.events.emplace_back(d.deleted, make_event(d.deleted, table, "del", d.ref, nullptr));
      }
    }
  }
  std::sort(b.events.begin(), b.events.end(),
            [](const auto& a, const auto& c) { return a.first < c.first; });
  return b;
}

Value RefCounts(const Database::Txn& txn) {
  Struct counts;
  for (const auto& cls : AllClasses()) {
    counts.Set(EventClassName(cls.name), Value::Int32(static_cast<int32_t>(txn.Count(cls.name))));
  }
  return Value(std::move(counts));
}

}  // namespace

Result<EventToken> ParseEventToken(std::string_view token) {
  if (token.empty()) return EventToken{};
  size_t comma = token.find(',');
  EventToken t;
  if (comma == std::string_view::npos || token.find(',', comma + 1) != std::string_view::npos ||
      !ParseU64(token.substr(0, comma), t.generation) ||
      !ParseU64(token.substr(comma + 1), t.message_generation)) {
    return Error::Xapi("EVENT_FROM_TOKEN_PARSE_FAILURE", {std::string(token)});
  }
  return t;
}

std::string FormatEventToken(const EventToken& token) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%020llu,%020llu",
                static_cast<unsigned long long>(token.generation),
                static_cast<unsigned long long>(token.message_generation));
  return buf;
}

Result<Value> EventFrom(Database& db, const std::vector<std::string>& classes,
                        std::string_view token, double timeout_seconds,
                        std::string_view session_ref) {
  FRUIX_ASSIGN_OR_RETURN(EventToken from, ParseEventToken(token));
  std::vector<Subscription> subs = ParseSubscriptions(classes);
  constexpr double kMaxTimeout = 24 * 3600.0;
  double timeout = timeout_seconds > 0 ? std::min(timeout_seconds, kMaxTimeout) : 0.0;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(timeout));
  std::string session(session_ref);
  auto result = db.WaitLoop<Result<Value>>(
      deadline, [&](const Database::Txn& txn, bool last_chance) -> std::optional<Result<Value>> {
        if (txn.Find("session", session) == nullptr) {
          return Result<Value>(Error::Xapi("SESSION_INVALID", {session}));
        }
        Batch b = Collect(txn, subs, from.generation);
        if (b.events.empty() && !last_chance) return std::nullopt;
        Array events;
        events.reserve(b.events.size());
        for (auto& [id, ev] : b.events) events.push_back(std::move(ev));
        Struct out;
        out.Set("events", Value(std::move(events)));
        out.Set("valid_ref_counts", RefCounts(txn));
        out.Set("token", Value(FormatEventToken({b.last, from.message_generation})));
        return Result<Value>(Value(std::move(out)));
      });
  return std::move(*result);
}

}  // namespace fruix::sim
