#include "lib/sim/faults.h"

#include <nlohmann/json.hpp>

namespace fruix::sim {
namespace {

bool Matches(std::string_view pattern, std::string_view call) {
  if (!pattern.empty() && pattern.back() == '*') {
    return call.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  }
  return pattern == call;
}

}  // namespace

Result<FaultRule> ParseFaultRule(std::string_view text) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) return Error::InvalidArgument("fault rule must be a JSON object");
    FaultRule r;
    if (!j.contains("method") || !j["method"].is_string() ||
        j["method"].get<std::string>().empty()) {
      return Error::InvalidArgument("fault rule needs a non-empty \"method\"");
    }
    r.method = j["method"].get<std::string>();
    if (j.contains("nth")) {
      if (!j["nth"].is_number_unsigned() || j["nth"].get<uint64_t>() == 0) {
        return Error::InvalidArgument("\"nth\" must be a positive integer");
      }
      r.nth = j["nth"].get<uint64_t>();
    }
    if (j.contains("repeat")) r.repeat = j["repeat"].get<bool>();
    int actions = 0;
    if (j.contains("error")) {
      ++actions;
      r.action = FaultRule::Action::kError;
      r.error = j["error"].get<std::vector<std::string>>();
      if (r.error.empty()) return Error::InvalidArgument("\"error\" needs at least a code");
    }
    if (j.contains("delay_ms")) {
      ++actions;
      r.action = FaultRule::Action::kDelay;
      r.delay_ms = j["delay_ms"].get<int64_t>();
      if (r.delay_ms < 0) return Error::InvalidArgument("\"delay_ms\" must be >= 0");
    }
    if (j.contains("expire_session")) {
      ++actions;
      r.action = FaultRule::Action::kExpireSession;
    }
    if (j.contains("cut_after_bytes")) {
      ++actions;
      r.action = FaultRule::Action::kCutImport;
      r.cut_after_bytes = j["cut_after_bytes"].get<uint64_t>();
    }
    if (j.contains("limit_console_sessions")) {
      ++actions;
      r.action = FaultRule::Action::kConsoleLimit;
    }
    if (j.contains("task_pending_ms")) {
      ++actions;
      r.action = FaultRule::Action::kTaskPending;
      r.task_pending_ms = j["task_pending_ms"].get<int64_t>();
      if (r.task_pending_ms < 0) return Error::InvalidArgument("\"task_pending_ms\" must be >= 0");
    }
    if (j.contains("device_error")) {
      ++actions;
      r.action = FaultRule::Action::kDeviceError;
    }
    if (j.contains("corrupt_block")) {
      ++actions;
      r.action = FaultRule::Action::kCorruptBlock;
      r.corrupt_block = j["corrupt_block"].get<uint64_t>();
    }
    if (actions != 1) {
      return Error::InvalidArgument(
          "fault rule needs exactly one of error, delay_ms, expire_session, cut_after_bytes, "
          "limit_console_sessions, task_pending_ms, device_error, corrupt_block");
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return Error::InvalidArgument(std::string("bad fault rule JSON: ") + e.what());
  }
}

std::string FaultRuleToJson(const FaultRule& r) {
  nlohmann::json j;
  j["id"] = r.id;
  j["method"] = r.method;
  j["nth"] = r.nth;
  j["repeat"] = r.repeat;
  switch (r.action) {
    case FaultRule::Action::kError:
      j["error"] = r.error;
      break;
    case FaultRule::Action::kDelay:
      j["delay_ms"] = r.delay_ms;
      break;
    case FaultRule::Action::kExpireSession:
      j["expire_session"] = true;
      break;
    case FaultRule::Action::kCutImport:
      j["cut_after_bytes"] = r.cut_after_bytes;
      break;
    case FaultRule::Action::kConsoleLimit:
      j["limit_console_sessions"] = true;
      break;
    case FaultRule::Action::kTaskPending:
      j["task_pending_ms"] = r.task_pending_ms;
      break;
    case FaultRule::Action::kDeviceError:
      j["device_error"] = true;
      break;
    case FaultRule::Action::kCorruptBlock:
      j["corrupt_block"] = r.corrupt_block;
      break;
  }
  j["seen"] = r.seen;
  j["fired"] = r.fired;
  return j.dump();
}

uint64_t FaultInjector::Add(FaultRule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rule.id = next_id_++;
  rule.seen = rule.fired = 0;
  rules_.push_back(std::move(rule));
  return rules_.back().id;
}

void FaultInjector::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

std::vector<FaultRule> FaultInjector::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rules_;
}

FaultInjector::Hit FaultInjector::OnCall(std::string_view call) {
  std::lock_guard<std::mutex> lock(mu_);
  Hit hit;
  for (auto& r : rules_) {
    if (!Matches(r.method, call)) continue;
    ++r.seen;
    bool fires = r.repeat ? r.seen >= r.nth : r.seen == r.nth;
    if (!fires) continue;
    ++r.fired;
    switch (r.action) {
      case FaultRule::Action::kError:
        if (!hit.error) hit.error = r.error;
        break;
      case FaultRule::Action::kDelay:
        hit.delay_ms += r.delay_ms;
        break;
      case FaultRule::Action::kExpireSession:
        hit.expire_session = true;
        break;
      case FaultRule::Action::kCutImport:
        hit.cut_after_bytes = r.cut_after_bytes;
        break;
      case FaultRule::Action::kConsoleLimit:
        hit.limit_console_sessions = true;
        break;
      case FaultRule::Action::kTaskPending:
        hit.task_pending_ms += r.task_pending_ms;
        break;
      case FaultRule::Action::kDeviceError:
        hit.device_error = true;
        break;
      case FaultRule::Action::kCorruptBlock:
        hit.corrupt_block = r.corrupt_block;
        break;
    }
  }
  return hit;
}

}  // namespace fruix::sim
