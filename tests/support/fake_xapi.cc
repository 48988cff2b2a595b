#include "tests/support/fake_xapi.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

namespace fruix::testing {
namespace {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Token(uint64_t generation) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%020llu,%020llu", static_cast<unsigned long long>(generation),
                0ULL);
  return buf;
}

bool Matches(const std::vector<std::string>& subs, const std::string& cls, const std::string& ref) {
  for (const auto& s : subs) {
    if (s == "*") return true;
    size_t slash = s.find('/');
    if (slash == std::string::npos) {
      if (Lower(s) == cls) return true;
    } else if (Lower(s.substr(0, slash)) == cls && s.substr(slash + 1) == ref) {
      return true;
    }
  }
  return false;
}

}  // namespace

void FakeXapi::Install(FakeHttpClient& http) {
  http.SetXapiHandler(FakeHttpClient::CancellableXapiHandler(
      [this](const xenapi::MethodCall& call, const std::stop_token& cancel) {
        return Dispatch(call, cancel);
      }));
}

void FakeXapi::Put(const std::string& cls, const std::string& ref, Struct record) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& table = objects_[cls];
  std::string op = table.count(ref) != 0 ? "mod" : "add";
  table[ref] = record;
  RecordChange(cls, op, ref, std::move(record));
}

void FakeXapi::Delete(const std::string& cls, const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  if (objects_[cls].erase(ref) != 0) RecordChange(cls, "del", ref, std::nullopt);
}

std::optional<Struct> FakeXapi::Get(const std::string& cls, const std::string& ref) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto t = objects_.find(cls);
  if (t == objects_.end()) return std::nullopt;
  auto o = t->second.find(ref);
  if (o == t->second.end()) return std::nullopt;
  return o->second;
}

void FakeXapi::On(const std::string& method, MethodHandler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handlers_[method] = std::move(handler);
}

void FakeXapi::FailNextEventFrom(std::vector<std::string> description) {
  std::lock_guard<std::mutex> lock(mu_);
  event_from_failures_.push_back(std::move(description));
}

void FakeXapi::ExpireSessions() {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.clear();
  changed_.notify_all();
}

int FakeXapi::logins() const {
  std::lock_guard<std::mutex> lock(mu_);
  return logins_;
}

std::vector<std::string> FakeXapi::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

bool FakeXapi::WaitForCalls(const std::string& method, int n,
                            std::chrono::milliseconds limit) const {
  std::unique_lock<std::mutex> lock(mu_);
  return called_.wait_for(lock, limit,
                          [&] { return std::count(calls_.begin(), calls_.end(), method) >= n; });
}

int FakeXapi::CountCalls(const std::string& method) const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count(calls_.begin(), calls_.end(), method));
}

Struct FakeXapi::TaskRecord(const std::string& uuid, const std::string& status,
                            const std::string& result, std::vector<std::string> error_info) {
  return Struct{{"uuid", Value(uuid)},
                {"name_label", Value("Async.VM.start")},
                {"name_description", Value("")},
                {"status", Value(status)},
                {"progress", Value(status == "pending" ? 0.0 : 1.0)},
                {"result", Value(result)},
                {"error_info", Value::StringArray(error_info)},
                {"other_config", Value(Struct{})}};
}

void FakeXapi::RecordChange(const std::string& cls, const std::string& op, const std::string& ref,
                            std::optional<Struct> snapshot) {
  changes_.push_back({++generation_, Lower(cls), op, ref, std::move(snapshot)});
  changed_.notify_all();
}

Result<Value> FakeXapi::Dispatch(const xenapi::MethodCall& call, const std::stop_token& cancel) {
  MethodHandler handler;
  Array params = call.params;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(call.method);
    called_.notify_all();
    if (call.method == "session.login_with_password") {
      if (params.size() < 2 || params[1].ToString().value_or("") != password_) {
        return Error::Xapi(
            "SESSION_AUTHENTICATION_FAILED",
            {params.empty() ? "" : params[0].ToString().value_or(""), "Authentication failure"});
      }
      ++logins_;
      std::string ref = "OpaqueRef:session-" + std::to_string(logins_);
      sessions_.push_back(ref);
      return Value(ref);
    }
    if (params.empty()) return Error::Xapi("MESSAGE_PARAMETER_COUNT_MISMATCH", {call.method});
    std::string session = params[0].ToString().value_or("");
    if (std::find(sessions_.begin(), sessions_.end(), session) == sessions_.end()) {
      return Error::Xapi("SESSION_INVALID", {session});
    }
    params.erase(params.begin());
    if (call.method == "session.logout") {
      sessions_.erase(std::find(sessions_.begin(), sessions_.end(), session));
      return Value("");
    }
    auto h = handlers_.find(call.method);
    if (h != handlers_.end()) {
      handler = h->second;
    } else if (call.method == "event.from") {
      // handled below, outside the lock
    } else if (call.method.ends_with(".get_record") && params.size() == 1) {
      std::string cls = call.method.substr(0, call.method.find('.'));
      std::string ref = params[0].ToString().value_or("");
      auto& table = objects_[cls];
      auto o = table.find(ref);
      if (o == table.end()) return Error::Xapi("HANDLE_INVALID", {cls, ref});
      return Value(o->second);
    } else if (call.method == "task.destroy" && params.size() == 1) {
      std::string ref = params[0].ToString().value_or("");
      if (objects_["task"].erase(ref) == 0) return Error::Xapi("HANDLE_INVALID", {"task", ref});
      RecordChange("task", "del", ref, std::nullopt);
      return Value("");
    } else if (call.method == "task.cancel" && params.size() == 1) {
      return Value("");
    } else {
      return Error::Xapi("MESSAGE_METHOD_UNKNOWN", {call.method});
    }
  }
  if (handler) return handler(params);
  return EventFrom(params, cancel);
}

Result<Value> FakeXapi::EventFrom(const Array& params, const std::stop_token& cancel) {
  if (params.size() != 3) return Error::Xapi("MESSAGE_PARAMETER_COUNT_MISMATCH", {"event.from"});
  auto subs = params[0].ToStringArray();
  auto token = params[1].ToString();
  if (!subs.ok() || !token.ok() || params[2].kind() != Value::Kind::kDouble) {
    return Error::Xapi("FIELD_TYPE_ERROR", {"event.from"});
  }
  double timeout = params[2].dbl();
  std::unique_lock<std::mutex> lock(mu_);
  if (!event_from_failures_.empty()) {
    auto d = event_from_failures_.front();
    event_from_failures_.erase(event_from_failures_.begin());
    return Error::Xapi(d);
  }
  Array events;
  auto add_event = [&](const std::string& cls, const std::string& op, const std::string& ref,
                       const std::optional<Struct>& snapshot) {
    Struct e{{"id", Value(std::to_string(generation_))},
             {"timestamp", Value("0.0")},
             {"class", Value(cls)},
             {"operation", Value(op)},
             {"ref", Value(ref)}};
    if (snapshot) e.Set("snapshot", Value(*snapshot));
    events.emplace_back(std::move(e));
  };
  uint64_t from = generation_;
  if (token->empty()) {
    for (const auto& [cls, table] : objects_) {
      for (const auto& [ref, rec] : table) {
        if (Matches(*subs, Lower(cls), ref)) add_event(Lower(cls), "add", ref, rec);
      }
    }
  } else {
    from = std::stoull(token->substr(0, token->find(',')));
  }
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::microseconds(static_cast<int64_t>(timeout * 1e6));
  bool timed_out = false;
  while (events.empty()) {
    for (const Change& c : changes_) {
      if (c.generation > from && Matches(*subs, c.cls, c.ref)) {
        add_event(c.cls, c.op, c.ref, c.snapshot);
      }
    }
    if (!events.empty() || timed_out) break;
    from = generation_;
    uint64_t seen = generation_;
    timed_out = !changed_.wait_until(lock, cancel, deadline, [&] { return generation_ != seen; });
    if (cancel.stop_requested()) return Error::Cancelled("HTTP request to the fake xapi cancelled");
  }
  return Value(Struct{{"events", Value(std::move(events))},
                      {"valid_ref_counts", Value(Struct{})},
                      {"token", Value(Token(generation_))}});
}

}  // namespace fruix::testing
