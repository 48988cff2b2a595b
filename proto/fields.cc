#include "proto/fields.h"

#include <algorithm>

namespace fruix::proto {

using nlohmann::json;

namespace {

std::string Show(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

}  // namespace

Fields::Fields(const json& object, std::string path) : obj_(object), path_(std::move(path)) {
  if (!obj_.is_object() && !obj_.is_null()) {
    error_ = Error::InvalidArgument(path_ + ": expected an object, got " + Show(obj_));
  }
}

std::string Fields::Child(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const json* Fields::Find(std::string_view key, bool required) {
  if (error_) return nullptr;
  seen_.emplace_back(key);
  if (obj_.is_object()) {
    auto it = obj_.find(key);
    if (it != obj_.end() && !it->is_null()) return &*it;
  }
  if (required) error_ = Error::InvalidArgument(Child(key) + ": missing (required)");
  return nullptr;
}

void Fields::Bad(std::string_view key, const std::string& expected) {
  if (error_) return;
  const json* v = obj_.is_object() && obj_.contains(key) ? &obj_[std::string(key)] : nullptr;
  error_ = Error::InvalidArgument(Child(key) + ": expected " + expected + ", got " +
                                  (v ? Show(*v) : std::string("nothing")));
}

void Fields::Fail(const Error& e) {
  if (!error_) error_ = e;
}

void Fields::String(std::string_view key, std::string* out, size_t max_bytes, bool required) {
  const json* v = Find(key, required);
  if (!v) return;
  if (!v->is_string() || v->get_ref<const std::string&>().size() > max_bytes) {
    return Bad(key, "a string of at most " + std::to_string(max_bytes) + " bytes");
  }
  *out = v->get<std::string>();
}

void Fields::OptString(std::string_view key, std::optional<std::string>* out, size_t max_bytes) {
  std::string s;
  const bool present = obj_.is_object() && obj_.contains(key) && !obj_[std::string(key)].is_null();
  String(key, &s, max_bytes);
  if (present && ok()) *out = std::move(s);
}

void Fields::Bool(std::string_view key, bool* out, bool required) {
  const json* v = Find(key, required);
  if (!v) return;
  if (!v->is_boolean()) return Bad(key, "true or false");
  *out = v->get<bool>();
}

void Fields::OptBool(std::string_view key, std::optional<bool>* out) {
  const json* v = Find(key, false);
  if (!v) return;
  if (!v->is_boolean()) return Bad(key, "true or false");
  *out = v->get<bool>();
}

void Fields::Uint(std::string_view key, uint64_t* out, uint64_t max, bool required) {
  const json* v = Find(key, required);
  if (!v) return;
  if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
    return Bad(key, "a non-negative integer");
  }
  const uint64_t n = v->get<uint64_t>();
  if (n > max) return Bad(key, "an integer of at most " + std::to_string(max));
  *out = n;
}

void Fields::OptUint(std::string_view key, std::optional<uint64_t>* out, uint64_t max) {
  uint64_t n = 0;
  const bool present = obj_.is_object() && obj_.contains(key) && !obj_[std::string(key)].is_null();
  Uint(key, &n, max);
  if (present && ok()) *out = n;
}

void Fields::Int(std::string_view key, int64_t* out, int64_t min, int64_t max, bool required) {
  const json* v = Find(key, required);
  if (!v) return;
  if (!v->is_number_integer()) return Bad(key, "an integer");
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(max)) {
    return Bad(key, "an integer of at most " + std::to_string(max));
  }
  const int64_t n = v->get<int64_t>();
  if (n < min || n > max) {
    return Bad(key, "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  *out = n;
}

void Fields::Double(std::string_view key, double* out) {
  const json* v = Find(key, false);
  if (!v) return;
  if (!v->is_number()) return Bad(key, "a number");
  *out = v->get<double>();
}

void Fields::Time(std::string_view key, std::optional<WallTime>* out) {
  const json* v = Find(key, false);
  if (!v) return;
  if (!v->is_string() || v->get_ref<const std::string&>().size() > 64) {
    return Bad(key, "an RFC 3339 time string");
  }
  auto t = ParseRfc3339(v->get_ref<const std::string&>());
  if (!t.ok()) return Fail(Error::InvalidArgument(Child(key) + ": " + t.error().message()));
  *out = *t;
}

void Fields::StringList(std::string_view key, std::vector<std::string>* out, size_t max_items,
                        size_t max_bytes) {
  const json* v = Find(key, false);
  if (!v) return;
  const std::string expected = "a list of at most " + std::to_string(max_items) +
                               " strings of at most " + std::to_string(max_bytes) + " bytes";
  if (!v->is_array() || v->size() > max_items) return Bad(key, expected);
  std::vector<std::string> items;
  for (const auto& item : *v) {
    if (!item.is_string() || item.get_ref<const std::string&>().size() > max_bytes) {
      return Bad(key, expected);
    }
    items.push_back(item.get<std::string>());
  }
  *out = std::move(items);
}

void Fields::Object(std::string_view key, json* out, size_t max_bytes) {
  const json* v = Find(key, false);
  if (!v) return;
  if (!v->is_object()) return Bad(key, "an object");
  if (v->dump(-1, ' ', false, json::error_handler_t::replace).size() > max_bytes) {
    return Bad(key, "an object of at most " + std::to_string(max_bytes) + " bytes");
  }
  *out = *v;
}

void Fields::NoOthers() {
  if (error_ || !obj_.is_object()) return;
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    if (std::find(seen_.begin(), seen_.end(), it.key()) == seen_.end()) {
      error_ = Error::InvalidArgument(Child(it.key()) + ": unknown parameter");
      return;
    }
  }
}

Result<void> Fields::Finish() const {
  if (error_) return *error_;
  return {};
}

void PutTime(json& obj, const char* key, const std::optional<WallTime>& t) {
  if (t) obj[key] = FormatRfc3339(*t);
}

}  // namespace fruix::proto
