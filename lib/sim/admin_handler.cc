#include "lib/sim/admin_handler.h"

#include "lib/sim/json_value.h"
#include "lib/sim/record_util.h"

namespace fruix::sim {
namespace {

HttpResponse Reply(int status, const std::string& reason, std::string body,
                   const std::string& type = "application/json") {
  HttpResponse r;
  r.status = status;
  r.reason = reason;
  r.headers = {{"content-type", type}, {"connection", "keep-alive"}};
  r.body = std::move(body);
  return r;
}

HttpResponse JsonReply(const Json& j) { return Reply(200, "OK", j.dump()); }

HttpResponse ErrorReply(int status, const std::string& reason, const std::string& message) {
  return Reply(status, reason, Json{{"error", message}}.dump());
}

}  // namespace

bool AdminHandler::Serve(const HttpRequest& req, HttpConnection& conn) {
  auto length = req.content_length().value_or(0);
  if (length > 1024 * 1024) {
    (void)conn.Send(ErrorReply(413, "Payload Too Large", "body too large"));
    return false;
  }
  auto body_or = conn.ReadExactly(length);
  if (!body_or.ok()) return false;
  const std::string& body = *body_or;
  Json in = Json::object();
  if (!body.empty()) {
    try {
      in = Json::parse(body);
    } catch (const Json::exception& e) {
      (void)conn.Send(ErrorReply(400, "Bad Request", std::string("bad JSON: ") + e.what()));
      return req.keep_alive();
    }
  }
  HttpResponse resp =
      ErrorReply(404, "Not Found", "no such admin endpoint: " + req.method + " " + req.path);
  const std::string& p = req.path;
  if (req.method == "GET" && p == "/health") {
    resp = JsonReply(Json{{"ok", true}});
  } else if (req.method == "GET" && p == "/counters") {
    AdminCounters c = counters_();
    resp = JsonReply(Json{{"sessions", c.sessions},
                          {"tasks", c.tasks},
                          {"pending_tasks", c.pending_tasks},
                          {"console_connections", c.console_connections},
                          {"imports_in_progress", c.imports_in_progress},
                          {"rpc_calls", c.rpc_calls},
                          {"http_connections", c.http_connections}});
  } else if (p == "/faults" && req.method == "GET") {
    Json rules = Json::array();
    for (const auto& r : faults_.List()) rules.push_back(Json::parse(FaultRuleToJson(r)));
    resp = JsonReply(rules);
  } else if (p == "/faults" && req.method == "POST") {
    auto rule = ParseFaultRule(body);
    resp = rule.ok() ? JsonReply(Json{{"id", faults_.Add(std::move(*rule))}})
                     : ErrorReply(400, "Bad Request", rule.error().message());
  } else if (p == "/faults" && req.method == "DELETE") {
    size_t n = faults_.List().size();
    faults_.Clear();
    resp = JsonReply(Json{{"cleared", n}});
  } else if (p == "/sessions/expire" && req.method == "POST") {
    std::string one = in.is_object() ? in.value("session", std::string()) : std::string();
    size_t n = db_.Write([&](Database::Txn& txn) {
      size_t count = 0;
      std::vector<std::string> refs;
      for (const ObjectRow* row : txn.All("session")) refs.push_back(row->ref);
      for (const auto& r : refs) {
        if (!one.empty() && r != one) continue;
        if (txn.Destroy("session", r).ok()) ++count;
      }
      return count;
    });
    resp = JsonReply(Json{{"expired", n}});
  } else if (p == "/master" && req.method == "POST") {
    std::string want = in.is_object() ? in.value("host", std::string()) : std::string();
    std::string master = db_.Write([&](Database::Txn& txn) {
      for (const ObjectRow* h : txn.All("host")) {
        if (StrField(h->record, "uuid") == want || StrField(h->record, "address") == want) {
          for (const ObjectRow* pool : txn.All("pool")) {
            (void)txn.Set("pool", pool->ref, "master", xenapi::Value(h->ref));
          }
          return h->ref;
        }
      }
      return std::string();
    });
    resp = master.empty() ? ErrorReply(404, "Not Found", "no host " + want)
                          : JsonReply(Json{{"master", master}});
  } else if (req.method == "GET" && p.rfind("/vms/", 0) == 0) {
    std::string rest = p.substr(5);
    size_t slash = rest.find('/');
    std::string uuid = rest.substr(0, slash);
    std::string what = slash == std::string::npos ? "" : rest.substr(slash + 1);
    struct VmInfo {
      std::string ref, power;
      int64_t domid = -1;
    };
    VmInfo vm = db_.Read([&](const Database::Txn& txn) {
      VmInfo info;
      auto ref = txn.RefOfUuid("VM", uuid);
      if (!ref.ok()) return info;
      const ObjectRow* row = txn.Find("VM", *ref);
      info.ref = *ref;
      info.power = StrField(row->record, "power_state");
      info.domid = IntField(row->record, "domid");
      return info;
    });
    if (vm.ref.empty()) {
      resp = ErrorReply(404, "Not Found", "no VM " + uuid);
    } else if (what == "console") {
      resp = Reply(200, "OK", hub_.Transcript(vm.ref), "text/plain");
    } else if (what == "guest") {
      const GuestScript* g = config_.GuestFor(uuid);
      resp = JsonReply(Json{{"power_state", vm.power},
                            {"domid", vm.domid},
                            {"ip", g == nullptr ? "" : g->ip},
                            {"ssh", g == nullptr ? "" : g->ssh}});
    }
  }
  return conn.Send(resp).ok() && req.keep_alive();
}

}  // namespace fruix::sim
