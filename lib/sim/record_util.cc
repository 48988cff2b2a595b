#include "lib/sim/record_util.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "lib/core/ids.h"

namespace fruix::sim {

const std::string& StrField(const xenapi::Struct& rec, std::string_view field) {
  static const std::string kEmpty;
  const xenapi::Value* v = rec.Find(field);
  return v != nullptr && v->is_string() ? v->string() : kEmpty;
}

int64_t IntField(const xenapi::Struct& rec, std::string_view field) {
  const xenapi::Value* v = rec.Find(field);
  if (v == nullptr) return 0;
  auto i = v->ToInt();
  return i.ok() ? *i : 0;
}

bool BoolField(const xenapi::Struct& rec, std::string_view field) {
  const xenapi::Value* v = rec.Find(field);
  return v != nullptr && v->kind() == xenapi::Value::Kind::kBool && v->boolean();
}

double FloatField(const xenapi::Struct& rec, std::string_view field) {
  const xenapi::Value* v = rec.Find(field);
  if (v == nullptr) return 0;
  auto d = v->ToDouble();
  return d.ok() ? *d : 0;
}

std::vector<std::string> StrSetField(const xenapi::Struct& rec, std::string_view field) {
  std::vector<std::string> out;
  const xenapi::Value* v = rec.Find(field);
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& e : v->array()) {
    if (e.is_string()) out.push_back(e.string());
  }
  return out;
}

const xenapi::Struct& MapField(const xenapi::Struct& rec, std::string_view field) {
  static const xenapi::Struct kEmpty;
  const xenapi::Value* v = rec.Find(field);
  return v != nullptr && v->is_struct() ? v->structure() : kEmpty;
}

std::string MapGet(const xenapi::Struct& rec, std::string_view field, std::string_view key) {
  const xenapi::Value* v = MapField(rec, field).Find(key);
  return v != nullptr && v->is_string() ? v->string() : std::string();
}

xenapi::DateTime NowDateTime() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return xenapi::DateTime{buf};
}

std::string NewRef() { return "OpaqueRef:" + NewUuidString(); }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace fruix::sim
