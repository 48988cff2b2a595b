// xenapi::Value — one XML-RPC value as xapi sends and receives it. A plain, copyable value type
// (no thread affinity). Structs keep member order, because xapi's envelope puts Status first and
// records follow the IDL order.
//
// Kinds and their wire form (see ../shared/docs/xenapi-spec.md §1.3):
//   kString   <value>text</value>                       (xapi emits strings untyped)
//   kInt      <value>123</value>                        (xapi int = int64, emitted untyped)
//   kInt32    <value><i4>12</i4></value>                (only valid_ref_counts in event.from)
//   kBool     <value><boolean>1</boolean></value>
//   kDouble   <value><double>0.5</double></value>
//   kDateTime <value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value>
//   kArray    <value><array><data>...</data></array></value>
//   kStruct   <value><struct><member><name>k</name>...</member></struct></value>
// Because xapi sends ints as untyped strings, readers use ToInt()/ToBool()/ToDouble(), which accept
// both the typed form and its string spelling.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lib/core/result.h"

namespace fruix::xenapi {

struct DateTime {
  std::string iso8601;  // as on the wire, e.g. "20250319T04:16:24Z"
  auto operator<=>(const DateTime&) const = default;
};

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;

// An insertion-ordered string-keyed map. Lookups are linear; xapi structs are small.
class Struct {
 public:
  Struct() = default;
  Struct(std::initializer_list<Member> members);
  // Replaces an existing member or appends a new one.
  void Set(std::string key, Value v);
  const Value* Find(std::string_view key) const;
  Value* Find(std::string_view key);
  bool Erase(std::string_view key);
  size_t size() const { return members_.size(); }
  bool empty() const { return members_.empty(); }
  auto begin() const { return members_.begin(); }
  auto end() const { return members_.end(); }
  auto begin() { return members_.begin(); }
  auto end() { return members_.end(); }
  bool operator==(const Struct&) const;

 private:
  std::vector<Member> members_;
};

class Value {
 public:
  enum class Kind { kString, kInt, kInt32, kBool, kDouble, kDateTime, kArray, kStruct };

  Value() : v_(std::string()) {}
  Value(std::string s) : v_(std::move(s)) {}         // NOLINT: implicit
  Value(const char* s) : v_(std::string(s)) {}       // NOLINT: implicit
  Value(std::string_view s) : v_(std::string(s)) {}  // NOLINT: implicit
  Value(int64_t i) : v_(i) {}                        // NOLINT: implicit
  Value(int i) : v_(static_cast<int64_t>(i)) {}      // NOLINT: implicit
  Value(bool b) : v_(b) {}                           // NOLINT: implicit
  Value(double d) : v_(d) {}                         // NOLINT: implicit
  Value(DateTime d) : v_(std::move(d)) {}            // NOLINT: implicit
  Value(Array a) : v_(std::move(a)) {}               // NOLINT: implicit
  Value(Struct s) : v_(std::move(s)) {}              // NOLINT: implicit
  static Value Int32(int32_t i);
  // A string map (xapi's (string -> string) map), in the map's order.
  static Value StringMap(const std::map<std::string, std::string>& m);
  static Value StringArray(const std::vector<std::string>& v);

  Kind kind() const;
  bool is_string() const { return kind() == Kind::kString; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_struct() const { return kind() == Kind::kStruct; }

  // Exact accessors: abort if the kind differs (check kind() first).
  const std::string& string() const { return std::get<std::string>(v_); }
  const Array& array() const { return std::get<Array>(v_); }
  Array& array() { return std::get<Array>(v_); }
  const Struct& structure() const { return std::get<Struct>(v_); }
  Struct& structure() { return std::get<Struct>(v_); }

  // Lenient readers for xapi's untyped encoding; errors name the expected type and the value.
  Result<std::string> ToString() const;  // kString or kDateTime text
  Result<int64_t> ToInt() const;         // kInt, kInt32, or a decimal string
  Result<bool> ToBool() const;           // kBool, or "true"/"false"/"1"/"0"
  Result<double> ToDouble() const;       // kDouble, kInt*, or a numeric string
  Result<std::vector<std::string>> ToStringArray() const;
  Result<std::map<std::string, std::string>> ToStringMap() const;

  // For diagnostics: a short, single-line rendering (strings quoted, long values truncated).
  std::string DebugString(size_t max_len = 200) const;

  bool operator==(const Value& o) const { return v_ == o.v_; }

 private:
  struct Int32Box {
    int32_t v;
    bool operator==(const Int32Box&) const = default;
  };
  friend class Struct;
  std::variant<std::string, int64_t, Int32Box, bool, double, DateTime, Array, Struct> v_;

 public:
  // kInt32 payload (abort if another kind).
  int32_t int32() const { return std::get<Int32Box>(v_).v; }
  int64_t int64() const { return std::get<int64_t>(v_); }
  bool boolean() const { return std::get<bool>(v_); }
  double dbl() const { return std::get<double>(v_); }
  const DateTime& datetime() const { return std::get<DateTime>(v_); }
};

}  // namespace fruix::xenapi
