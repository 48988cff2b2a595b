// proto::Fields — reads one JSON object's members into typed values with the bounds the protocol
// documents (string lengths, list sizes, integer ranges). The first problem wins and names the
// member's path and the bad value, e.g. `params.job_id: expected a string of at most 64 bytes`.
// A value type used on one thread while decoding one message.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"
#include "lib/core/wall_time.h"

namespace fruix::proto {

// Documented maxima (bytes for strings, items for lists).
inline constexpr size_t kMaxId = 64;  // job ids, names of targets and pools
inline constexpr size_t kMaxUuid = 36;
inline constexpr size_t kMaxPath = 4096;
inline constexpr size_t kMaxText = 8192;  // messages, details, console lines
inline constexpr size_t kMaxList = 1000;  // list members
inline constexpr size_t kMaxLogChunk = 512 * 1024;

class Fields {
 public:
  // `object` must outlive the reader. If it is not an object, the first getter reports it.
  Fields(const nlohmann::json& object, std::string path);

  // Each getter leaves *out untouched when the member is absent (or null) and not required.
  void String(std::string_view key, std::string* out, size_t max_bytes, bool required = false);
  void OptString(std::string_view key, std::optional<std::string>* out, size_t max_bytes);
  void Bool(std::string_view key, bool* out, bool required = false);
  void OptBool(std::string_view key, std::optional<bool>* out);
  void Uint(std::string_view key, uint64_t* out, uint64_t max, bool required = false);
  void OptUint(std::string_view key, std::optional<uint64_t>* out, uint64_t max);
  void Int(std::string_view key, int64_t* out, int64_t min, int64_t max, bool required = false);
  void Double(std::string_view key, double* out);
  void Time(std::string_view key, std::optional<WallTime>* out);  // RFC 3339 string
  void StringList(std::string_view key, std::vector<std::string>* out, size_t max_items,
                  size_t max_bytes);
  // Any JSON object (opaque to the protocol, e.g. the job report); bounded by its dump size.
  void Object(std::string_view key, nlohmann::json* out, size_t max_bytes);
  // A nested object decoded by `decode(json, path)`.
  template <typename T, typename Decode>
  void Nested(std::string_view key, T* out, Decode decode, bool required = false) {
    const nlohmann::json* v = Find(key, required);
    if (!v) return;
    auto r = decode(*v, Child(key));
    if (!r.ok()) return Fail(r.error());
    *out = std::move(*r);
  }
  template <typename T, typename Decode>
  void NestedList(std::string_view key, std::vector<T>* out, size_t max_items, Decode decode) {
    const nlohmann::json* v = Find(key, false);
    if (!v) return;
    if (!v->is_array() || v->size() > max_items) {
      return Bad(key, "a list of at most " + std::to_string(max_items) + " items");
    }
    std::vector<T> items;
    for (size_t i = 0; i < v->size(); ++i) {
      auto r = decode((*v)[i], Child(key) + "[" + std::to_string(i) + "]");
      if (!r.ok()) return Fail(r.error());
      items.push_back(std::move(*r));
    }
    *out = std::move(items);
  }
  // Refuses members this reader was not asked about (for requests: a typo is an error).
  void NoOthers();

  // kInvalidArgument with the first problem, or ok.
  Result<void> Finish() const;
  bool ok() const { return !error_.has_value(); }
  std::string Child(std::string_view key) const;

 private:
  const nlohmann::json* Find(std::string_view key, bool required);
  void Bad(std::string_view key, const std::string& expected);
  void Fail(const Error& e);

  const nlohmann::json& obj_;
  std::string path_;
  std::vector<std::string> seen_;
  std::optional<Error> error_;
};

// Adds the RFC 3339 form of `t` as obj[key] (nothing when nullopt).
void PutTime(nlohmann::json& obj, const char* key, const std::optional<WallTime>& t);

}  // namespace fruix::proto
