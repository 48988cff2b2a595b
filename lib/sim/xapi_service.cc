#include "lib/sim/xapi_service.h"

#include "lib/sim/json_value.h"
#include "lib/sim/methods.h"
#include "lib/sim/record_util.h"
#include "lib/xenapi/codec.h"

namespace fruix::sim {
namespace {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

std::vector<std::string> Description(const Error& e) {
  if (e.is_xapi()) return e.xapi_description();
  return {"INTERNAL_ERROR", e.message()};
}

HttpResponse RpcReply(std::string content_type, std::string body) {
  HttpResponse r;
  r.headers = {{"connection", "keep-alive"},
               {"cache-control", "no-cache, no-store"},
               {"content-type", std::move(content_type)},
               {"Access-Control-Allow-Origin", "*"},
               {"Access-Control-Allow-Headers", "X-Requested-With"}};
  r.body = std::move(body);
  return r;
}

}  // namespace

XapiService::XapiService(ServiceEnv env) : env_(env) {
  RegisterGenericMethods(table_, env_);
  RegisterSessionMethods(table_, env_);
  RegisterTaskMethods(table_, env_);
  RegisterEventMethods(table_, env_);
  RegisterVmMethods(table_, env_);
  RegisterDeviceMethods(table_, env_);
}

HttpResponse XapiService::HandleXmlRpc(std::string_view body, const RequestContext& request) {
  auto call = xenapi::DecodeCall(body);
  if (!call.ok()) return HttpResponse::InternalError(EscapeHtml(call.error().message()));
  Result<Value> r = Call(call->method, call->params, request);
  std::string xml;
  if (call->method == "system.listMethods" && r.ok()) {
    xml = xenapi::EncodeResponse(*r);
  } else if (r.ok()) {
    xml = xenapi::EncodeSuccess(*r);
  } else {
    xml = xenapi::EncodeFailure(Description(r.error()));
  }
  return RpcReply("text/xml", std::move(xml));
}

HttpResponse XapiService::HandleJsonRpc(std::string_view body, const RequestContext& request) {
  Json req;
  try {
    req = Json::parse(body);
  } catch (const Json::exception& e) {
    return HttpResponse::InternalError(EscapeHtml(e.what()));
  }
  if (!req.is_object() || !req.contains("method") || !req["method"].is_string() ||
      !req.contains("id") || req["id"].is_null() ||
      (req.contains("params") && !req["params"].is_array())) {
    return HttpResponse::InternalError(EscapeHtml("Jsonrpc.Malformed_method_request"));
  }
  bool v2 = req.contains("jsonrpc") && req["jsonrpc"] == "2.0";
  std::string method = req["method"].get<std::string>();
  Array params;
  if (req.contains("params")) {
    for (const auto& p : req["params"]) params.push_back(JsonToValue(p));
  }
  Result<Value> r = Call(method, params, request);
  Json out = Json::object();
  if (v2) out["jsonrpc"] = "2.0";
  if (r.ok()) {
    out["result"] = ValueToJson(*r);
    if (!v2) out["error"] = nullptr;
  } else {
    std::vector<std::string> desc = Description(r.error());
    if (v2) {
      Json data = Json::array();
      for (size_t i = 1; i < desc.size(); ++i) data.push_back(desc[i]);
      out["error"] = Json{{"code", 1}, {"message", desc.front()}, {"data", data}};
    } else {
      out["result"] = nullptr;
      out["error"] = desc;
    }
  }
  out["id"] = req["id"];
  return RpcReply("application/json", out.dump());
}

Result<Value> XapiService::Call(std::string_view method, const Array& params,
                                const RequestContext& request) {
  calls_.fetch_add(1);
  return Dispatch(method, params, request);
}

Result<void> XapiService::CheckSession(const std::string& session,
                                       const RequestContext& request) const {
  return env_.db.Read([&](const Database::Txn& txn) -> Result<void> {
    const ObjectRow* row = txn.Find("session", session);
    if (row == nullptr) return Error::Xapi("SESSION_INVALID", {session});
    std::string master = PoolMaster(txn);
    if (!BoolField(row->record, "pool") && !master.empty() && request.host_ref != master) {
      const ObjectRow* m = txn.Find("host", master);
      return Error::Xapi("HOST_IS_SLAVE", {m == nullptr ? "" : StrField(m->record, "address")});
    }
    return Ok();
  });
}

Result<void> XapiService::CheckHttpSession(const std::string& session) const {
  return env_.db.Read([&](const Database::Txn& txn) -> Result<void> {
    if (txn.Find("session", session) == nullptr) return Error::Xapi("SESSION_INVALID", {session});
    return Ok();
  });
}

Result<Value> XapiService::Dispatch(std::string_view method, const Array& params,
                                    const RequestContext& request) {
  std::string name(method);
  if (name == "system.listMethods") return Value::StringArray(table_.Names());
  bool async = name.rfind("Async.", 0) == 0;
  if (async) name = name.substr(6);
  const MethodSpec* spec = table_.Find(name, !async);
  if (spec == nullptr) {
    if (!params.empty()) {
      if (!params[0].is_string()) return Error::Xapi("SESSION_INVALID", {params[0].DebugString()});
      FRUIX_RETURN_IF_ERROR(CheckSession(params[0].string(), request));
    }
    return Error::Xapi("MESSAGE_METHOD_UNKNOWN", {name});
  }
  size_t first = spec->session ? 1 : 0;
  int64_t received = static_cast<int64_t>(params.size()) - static_cast<int64_t>(first);
  if (received < static_cast<int64_t>(spec->required) ||
      received > static_cast<int64_t>(spec->required + spec->defaults.size())) {
    return Error::Xapi("MESSAGE_PARAMETER_COUNT_MISMATCH",
                       {name, std::to_string(spec->required), std::to_string(received)});
  }
  CallContext ctx{request, "", "", name};
  if (spec->session) {
    if (!params[0].is_string()) return Error::Xapi("SESSION_INVALID", {params[0].DebugString()});
    ctx.session = params[0].string();
    FRUIX_RETURN_IF_ERROR(CheckSession(ctx.session, request));
  }
  if (async && !spec->async) {
    return Error::Xapi("Fault", {"No async mode for this operation (rpc: " + name + ")"});
  }
  FaultInjector::Hit hit = env_.faults.OnCall((async ? "Async." : "") + spec->name);
  if (hit.expire_session && !ctx.session.empty()) {
    env_.db.Write([&](Database::Txn& txn) { (void)txn.Destroy("session", ctx.session); });
    return Error::Xapi("SESSION_INVALID", {ctx.session});
  }
  if (hit.error) return Error::Xapi(*hit.error);

  Array args(params.begin() + static_cast<std::ptrdiff_t>(first), params.end());
  for (size_t i = args.size() - spec->required; i < spec->defaults.size(); ++i) {
    args.push_back(spec->defaults[i]);
  }
  Result<Value> result = Value(std::string());
  if (async) {
    std::string label = "Async." + spec->name;
    std::string task = env_.db.Write([&](Database::Txn& txn) {
      return CreateTask(txn, label, "", ctx.session, request.host_ref);
    });
    const MethodSpec* s = spec;
    RequestContext req_copy = request;
    std::string session = ctx.session;
    Database& db = env_.db;
    env_.tasks.Spawn([s, req_copy, session, task, args, name, &db] {
      CallContext worker_ctx{req_copy, session, task, name};
      Result<Value> r = s->fn(worker_ctx, args);
      if (r.ok()) {
        CompleteTask(db, task, *r);
      } else {
        FailTask(db, task, r.error());
      }
    });
    result = Value(task);
  } else {
    result = spec->fn(ctx, args);
  }
  if (hit.delay_ms > 0) (void)env_.tasks.Sleep("", std::chrono::milliseconds(hit.delay_ms));
  return result;
}

}  // namespace fruix::sim
