// Strong identifier types: a VM uuid is not a VDI uuid is not an opaque reference.
// Plain value types; no validation beyond what each factory documents.
#pragma once

#include <compare>
#include <functional>
#include <string>
#include <string_view>

namespace fruix {

template <typename Tag>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(std::string v) : v_(std::move(v)) {}
  const std::string& str() const { return v_; }
  bool empty() const { return v_.empty(); }
  auto operator<=>(const StrongId&) const = default;

 private:
  std::string v_;
};

struct OpaqueRefTag {};
struct UuidTag {};
struct JobIdTag {};

// A xapi object reference, "OpaqueRef:<uuid>"; "OpaqueRef:NULL" is the null reference.
class OpaqueRef : public StrongId<OpaqueRefTag> {
 public:
  using StrongId::StrongId;
  static OpaqueRef Null() { return OpaqueRef("OpaqueRef:NULL"); }
  bool is_null() const { return str().empty() || str() == "OpaqueRef:NULL"; }
};

// A xapi object uuid (any class).
using Uuid = StrongId<UuidTag>;
using JobId = StrongId<JobIdTag>;

// True for the canonical 8-4-4-4-12 lower- or upper-case hex form.
bool IsUuidString(std::string_view s);
// A random (version 4) uuid in canonical lower-case form.
std::string NewUuidString();

}  // namespace fruix

template <typename Tag>
struct std::hash<fruix::StrongId<Tag>> {
  size_t operator()(const fruix::StrongId<Tag>& id) const noexcept {
    return std::hash<std::string>()(id.str());
  }
};
template <>
struct std::hash<fruix::OpaqueRef> {
  size_t operator()(const fruix::OpaqueRef& id) const noexcept {
    return std::hash<std::string>()(id.str());
  }
};
