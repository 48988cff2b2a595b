#include "lib/xenapi/value.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace fruix::xenapi {

Struct::Struct(std::initializer_list<Member> members) {
  for (const auto& m : members) Set(m.first, m.second);
}

void Struct::Set(std::string key, Value v) {
  if (Value* existing = Find(key)) {
    *existing = std::move(v);
    return;
  }
  members_.emplace_back(std::move(key), std::move(v));
}

const Value* Struct::Find(std::string_view key) const {
  for (const auto& m : members_)
    if (m.first == key) return &m.second;
  return nullptr;
}

Value* Struct::Find(std::string_view key) {
  for (auto& m : members_)
    if (m.first == key) return &m.second;
  return nullptr;
}

bool Struct::Erase(std::string_view key) {
  for (auto it = members_.begin(); it != members_.end(); ++it) {
    if (it->first == key) {
      members_.erase(it);
      return true;
    }
  }
  return false;
}

bool Struct::operator==(const Struct& o) const { return members_ == o.members_; }

Value Value::Int32(int32_t i) {
  Value v;
  v.v_ = Int32Box{i};
  return v;
}

Value Value::StringMap(const std::map<std::string, std::string>& m) {
  Struct s;
  for (const auto& [k, v] : m) s.Set(k, Value(v));
  return Value(std::move(s));
}

Value Value::StringArray(const std::vector<std::string>& v) {
  Array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(s);
  return Value(std::move(a));
}

Value::Kind Value::kind() const {
  switch (v_.index()) {
    case 0:
      return Kind::kString;
    case 1:
      return Kind::kInt;
    case 2:
      return Kind::kInt32;
    case 3:
      return Kind::kBool;
    case 4:
      return Kind::kDouble;
    case 5:
      return Kind::kDateTime;
    case 6:
      return Kind::kArray;
    default:
      return Kind::kStruct;
  }
}

namespace {
Error TypeError(std::string_view want, const Value& v) {
  return Error::Protocol("expected " + std::string(want) + ", got " + v.DebugString(80));
}
}  // namespace

Result<std::string> Value::ToString() const {
  if (kind() == Kind::kString) return string();
  if (kind() == Kind::kDateTime) return datetime().iso8601;
  return TypeError("a string", *this);
}

Result<int64_t> Value::ToInt() const {
  switch (kind()) {
    case Kind::kInt:
      return int64();
    case Kind::kInt32:
      return static_cast<int64_t>(int32());
    case Kind::kString: {
      const std::string& s = string();
      int64_t out = 0;
      const char* b = s.data();
      const char* e = s.data() + s.size();
      if (b != e && *b == '+') ++b;
      auto [p, ec] = std::from_chars(b, e, out);
      if (ec == std::errc() && p == e && b != e) return out;
      return TypeError("an integer", *this);
    }
    default:
      return TypeError("an integer", *this);
  }
}

Result<bool> Value::ToBool() const {
  if (kind() == Kind::kBool) return boolean();
  if (kind() == Kind::kString) {
    const std::string& s = string();
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
  }
  return TypeError("a boolean", *this);
}

Result<double> Value::ToDouble() const {
  switch (kind()) {
    case Kind::kDouble:
      return dbl();
    case Kind::kInt:
      return static_cast<double>(int64());
    case Kind::kInt32:
      return static_cast<double>(int32());
    case Kind::kString: {
      const std::string& s = string();
      if (s.empty()) return TypeError("a number", *this);
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (end == s.c_str() + s.size() && std::isfinite(d)) return d;
      return TypeError("a number", *this);
    }
    default:
      return TypeError("a number", *this);
  }
}

Result<std::vector<std::string>> Value::ToStringArray() const {
  if (!is_array()) return TypeError("an array", *this);
  std::vector<std::string> out;
  out.reserve(array().size());
  for (const auto& e : array()) {
    auto s = e.ToString();
    if (!s.ok()) return s.error();
    out.push_back(std::move(s).value());
  }
  return out;
}

Result<std::map<std::string, std::string>> Value::ToStringMap() const {
  if (!is_struct()) return TypeError("a struct", *this);
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : structure()) {
    auto s = v.ToString();
    if (!s.ok()) return s.error().WithContext("member '" + k + "'");
    out[k] = std::move(s).value();
  }
  return out;
}

std::string Value::DebugString(size_t max_len) const {
  std::string out;
  switch (kind()) {
    case Kind::kString:
      out = "\"" + string() + "\"";
      break;
    case Kind::kInt:
      out = std::to_string(int64());
      break;
    case Kind::kInt32:
      out = "i4:" + std::to_string(int32());
      break;
    case Kind::kBool:
      out = boolean() ? "true" : "false";
      break;
    case Kind::kDouble:
      out = std::to_string(dbl());
      break;
    case Kind::kDateTime:
      out = "dateTime:" + datetime().iso8601;
      break;
    case Kind::kArray: {
      out = "[";
      bool first = true;
      for (const auto& e : array()) {
        if (!first) out += ", ";
        first = false;
        out += e.DebugString(max_len);
        if (out.size() > max_len) break;
      }
      out += "]";
      break;
    }
    case Kind::kStruct: {
      out = "{";
      bool first = true;
      for (const auto& [k, v] : structure()) {
        if (!first) out += ", ";
        first = false;
        out += k + ": " + v.DebugString(max_len);
        if (out.size() > max_len) break;
      }
      out += "}";
      break;
    }
  }
  if (out.size() > max_len) out = out.substr(0, max_len) + "...";
  return out;
}

}  // namespace fruix::xenapi
