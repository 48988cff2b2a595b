// The only translation unit that includes xmlrpc-c.
#include "lib/xenapi/codec.h"

#include <xmlrpc-c/base.h>

#include <cstdio>
#include <mutex>
#include <xmlrpc-c/base.hpp>
#include <xmlrpc-c/girerr.hpp>
#include <xmlrpc-c/xml.hpp>

namespace fruix::xenapi {
namespace {

// xapi's encoder (ocaml-rpc Xmlrpc.encode): escape & < > ", drop control characters other than
// TAB, LF and CR; every byte >= 0x20 passes through unchanged.
void AppendEscaped(std::string& out, std::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '>':
        out += "&gt;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (c >= 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) out += ch;
        break;
    }
  }
}

void AppendDouble(std::string& out, double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.16g", d);
  out += buf;
}

constexpr size_t kMaxXmlSize = 256u * 1024 * 1024;  // get_all_records of a large pool

void RaiseLimitsOnce() {
  static std::once_flag once;
  std::call_once(once, [] { xmlrpc_limit_set(XMLRPC_XML_SIZE_LIMIT_ID, kMaxXmlSize); });
}

// xmlrpc-c -> Value. Throws girerr::error on values xapi never sends (nil, base64, C pointers).
Value FromXmlrpc(const xmlrpc_c::value& v, int depth) {
  if (depth > 64) throw girerr::error("XML-RPC value nested deeper than 64 levels");
  switch (v.type()) {
    case xmlrpc_c::value::TYPE_INT:
      return Value::Int32(static_cast<int32_t>(xmlrpc_c::value_int(v)));
    case xmlrpc_c::value::TYPE_I8:
      return Value(static_cast<int64_t>(xmlrpc_c::value_i8(v)));
    case xmlrpc_c::value::TYPE_BOOLEAN:
      return Value(static_cast<bool>(xmlrpc_c::value_boolean(v)));
    case xmlrpc_c::value::TYPE_DOUBLE:
      return Value(static_cast<double>(xmlrpc_c::value_double(v)));
    case xmlrpc_c::value::TYPE_STRING:
      return Value(static_cast<std::string>(xmlrpc_c::value_string(v)));
    case xmlrpc_c::value::TYPE_DATETIME: {
      xmlrpc_datetime dt = xmlrpc_c::value_datetime(v);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%04u%02u%02uT%02u:%02u:%02uZ", dt.Y, dt.M, dt.D, dt.h, dt.m,
                    dt.s);
      return Value(DateTime{buf});
    }
    case xmlrpc_c::value::TYPE_ARRAY: {
      std::vector<xmlrpc_c::value> items = xmlrpc_c::value_array(v).vectorValueValue();
      Array out;
      out.reserve(items.size());
      for (const auto& item : items) out.push_back(FromXmlrpc(item, depth + 1));
      return Value(std::move(out));
    }
    case xmlrpc_c::value::TYPE_STRUCT: {
      std::map<std::string, xmlrpc_c::value> members = xmlrpc_c::value_struct(v);
      Struct out;
      for (const auto& [k, m] : members) out.Set(k, FromXmlrpc(m, depth + 1));
      return Value(std::move(out));
    }
    case xmlrpc_c::value::TYPE_NIL:
      return Value(std::string());
    default:
      throw girerr::error("unsupported XML-RPC value type " + std::to_string(v.type()));
  }
}

}  // namespace

void AppendValue(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      out += "<value>";
      AppendEscaped(out, v.string());
      out += "</value>";
      break;
    case Value::Kind::kInt:
      out += "<value>";
      out += std::to_string(v.int64());
      out += "</value>";
      break;
    case Value::Kind::kInt32:
      out += "<value><i4>";
      out += std::to_string(v.int32());
      out += "</i4></value>";
      break;
    case Value::Kind::kBool:
      out += v.boolean() ? "<value><boolean>1</boolean></value>"
                         : "<value><boolean>0</boolean></value>";
      break;
    case Value::Kind::kDouble:
      out += "<value><double>";
      AppendDouble(out, v.dbl());
      out += "</double></value>";
      break;
    case Value::Kind::kDateTime:
      out += "<value><dateTime.iso8601>";
      out += v.datetime().iso8601;
      out += "</dateTime.iso8601></value>";
      break;
    case Value::Kind::kArray:
      out += "<value><array><data>";
      for (const auto& e : v.array()) AppendValue(out, e);
      out += "</data></array></value>";
      break;
    case Value::Kind::kStruct:
      out += "<value><struct>";
      for (const auto& [k, m] : v.structure()) {
        out += "<member><name>";
        out += k;  // ocaml-rpc does not escape member names
        out += "</name>";
        AppendValue(out, m);
        out += "</member>";
      }
      out += "</struct></value>";
      break;
  }
}

std::string EncodeValue(const Value& v) {
  std::string out;
  AppendValue(out, v);
  return out;
}

std::string EncodeCall(std::string_view method, const Array& params) {
  std::string out = "<?xml version=\"1.0\"?><methodCall><methodName>";
  AppendEscaped(out, method);
  out += "</methodName><params>";
  for (const auto& p : params) {
    out += "<param>";
    AppendValue(out, p);
    out += "</param>";
  }
  out += "</params></methodCall>";
  return out;
}

std::string EncodeResponse(const Value& v) {
  std::string out = "<?xml version=\"1.0\"?><methodResponse><params><param>";
  AppendValue(out, v);
  out += "</param></params></methodResponse>";
  return out;
}

std::string EncodeSuccess(const Value& v) {
  return EncodeResponse(Value(Struct{{"Status", Value("Success")}, {"Value", v}}));
}

std::string EncodeFailure(const std::vector<std::string>& error_description) {
  return EncodeResponse(Value(Struct{{"Status", Value("Failure")},
                                     {"ErrorDescription", Value::StringArray(error_description)}}));
}

Result<MethodCall> DecodeCall(std::string_view xml) {
  RaiseLimitsOnce();
  try {
    std::string name;
    xmlrpc_c::paramList params;
    xmlrpc_c::xml::parseCall(std::string(xml), &name, &params);
    MethodCall call{std::move(name), {}};
    call.params.reserve(params.size());
    for (size_t i = 0; i < params.size(); ++i) call.params.push_back(FromXmlrpc(params[i], 0));
    return call;
  } catch (const std::exception& e) {
    return Error::Protocol(std::string("malformed XML-RPC call: ") + e.what());
  }
}

Result<Value> DecodeResponse(std::string_view xml) {
  RaiseLimitsOnce();
  try {
    xmlrpc_c::rpcOutcome outcome;
    xmlrpc_c::xml::parseResponse(std::string(xml), &outcome);
    if (!outcome.succeeded()) {
      xmlrpc_c::fault f = outcome.getFault();
      return Error::Xapi(
          {"XMLRPC_FAULT", std::to_string(static_cast<int>(f.getCode())), f.getDescription()});
    }
    return FromXmlrpc(outcome.getResult(), 0);
  } catch (const std::exception& e) {
    return Error::Protocol(std::string("malformed XML-RPC response: ") + e.what());
  }
}

Result<Value> DecodeValue(std::string_view xml) {
  if (xml.empty()) return Value(std::string());
  std::string doc = "<?xml version=\"1.0\"?><methodResponse><params><param>";
  doc += xml;
  doc += "</param></params></methodResponse>";
  auto v = DecodeResponse(doc);
  if (!v.ok() && v.error().code() == ErrorCode::kProtocol) {
    return Error::Protocol("malformed XML-RPC value fragment: " + std::string(xml.substr(0, 120)));
  }
  return v;
}

Result<Value> UnwrapEnvelope(const Value& response) {
  if (!response.is_struct()) {
    return Error::Protocol("XenAPI response is not a Status struct: " + response.DebugString(120));
  }
  const Struct& s = response.structure();
  const Value* status = s.Find("Status");
  if (status == nullptr || !status->is_string()) {
    return Error::Protocol("XenAPI response has no Status member: " + response.DebugString(120));
  }
  if (status->string() == "Success") {
    const Value* v = s.Find("Value");
    if (v == nullptr) return Value(std::string());  // void
    return *v;
  }
  if (status->string() == "Failure") {
    const Value* d = s.Find("ErrorDescription");
    if (d == nullptr) return Error::Protocol("XenAPI failure without ErrorDescription");
    if (!d->is_array()) return Error::Xapi({d->DebugString(120)});
    std::vector<std::string> desc;
    for (const auto& e : d->array()) {
      auto str = e.ToString();
      if (str.ok()) {
        desc.push_back(std::move(str).value());
      } else if (auto i = e.ToInt(); i.ok()) {
        desc.push_back(std::to_string(*i));
      } else {
        desc.push_back(e.DebugString(120));
      }
    }
    return Error::Xapi(std::move(desc));
  }
  return Error::Protocol("XenAPI response has unknown Status '" + status->string() + "'");
}

}  // namespace fruix::xenapi
