#include "lib/sim/json_value.h"

namespace fruix::sim {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

Value JsonToValue(const Json& j) {
  switch (j.type()) {
    case Json::value_t::string:
      return Value(j.get<std::string>());
    case Json::value_t::boolean:
      return Value(j.get<bool>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return Value(j.get<int64_t>());
    case Json::value_t::number_float:
      return Value(j.get<double>());
    case Json::value_t::array: {
      Array a;
      for (const auto& e : j) a.push_back(JsonToValue(e));
      return Value(std::move(a));
    }
    case Json::value_t::object: {
      Struct s;
      for (const auto& [k, v] : j.items()) s.Set(k, JsonToValue(v));
      return Value(std::move(s));
    }
    default:
      return Value(std::string());
  }
}

Json ValueToJson(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      return v.string();
    case Value::Kind::kInt:
      return v.int64();
    case Value::Kind::kInt32:
      return v.int32();
    case Value::Kind::kBool:
      return v.boolean();
    case Value::Kind::kDouble:
      return v.dbl();
    case Value::Kind::kDateTime:
      return v.datetime().iso8601;
    case Value::Kind::kArray: {
      Json a = Json::array();
      for (const auto& e : v.array()) a.push_back(ValueToJson(e));
      return a;
    }
    case Value::Kind::kStruct: {
      Json o = Json::object();
      for (const auto& [k, m] : v.structure()) o[k] = ValueToJson(m);
      return o;
    }
  }
  return nullptr;
}

}  // namespace fruix::sim
