// sim::schema — the simulator's copy of the xapi data model: for each simulated class, its wire
// name and its public fields in IDL order, with type, qualifier and the value a new object gets.
// Field lists follow xapi's IDL (ocaml/idl/datamodel*.ml) for XCP-ng 8.2/8.3; internal-only
// fields are left out, as xapi leaves them out of records.
//
// Immutable static tables: safe to read from any thread. Nothing here touches a database.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"
#include "lib/xenapi/value.h"

namespace fruix::sim {

enum class FieldType { kString, kInt, kFloat, kBool, kDateTime, kEnum, kRef, kSet, kMap };

// RW fields get generated setters (set_<f>, add_to_/remove_from_ for maps, add_/remove_ for sets).
// The simulator also marks RW the fields xapi sets through custom messages of the same name
// (VM.set_memory_static_max, VM.set_VCPUs_max, pool.set_limit_console_sessions, ...).
enum class Qualifier { kRW, kStaticRO, kDynamicRO };

struct FieldSpec {
  std::string name;  // wire name, namespaces joined with '_' (memory_static_max)
  FieldType type = FieldType::kString;
  Qualifier qualifier = Qualifier::kStaticRO;
  xenapi::Value default_value;          // stored (canonical) form
  std::string enum_type;                // kEnum, or a kSet/kMap whose elements are enums
  FieldType elem = FieldType::kString;  // element type of a kSet / value type of a kMap
  std::string ref_class;                // kRef, or elements of a kSet/kMap that are refs
};

struct ClassSpec {
  std::string name;  // wire name: "VM", "VM_guest_metrics", "host", ...
  std::vector<FieldSpec> fields;
  const FieldSpec* Find(std::string_view field) const;
  bool has_name_label() const { return Find("name_label") != nullptr; }
};

// Every simulated class, in a stable order.
const std::vector<ClassSpec>& AllClasses();
// nullptr if `wire_name` is not a simulated class (case-sensitive, as xapi).
const ClassSpec* FindClass(std::string_view wire_name);
// xapi's event/table name of a class: lower-case ("VM" -> "vm").
std::string EventClassName(std::string_view wire_name);

// Enum values are case-insensitive on input and canonical on output. Returns the canonical
// spelling, or INTERNAL_ERROR naming the enum and the bad value.
Result<std::string> CanonicalEnum(std::string_view enum_type, std::string_view value);

// Converts an RPC argument to the stored form of a field (ints accepted as <i4>/<i8>/decimal
// strings, bools only as <boolean>, enums case-insensitively, sets and maps element-wise).
// Type errors are INTERNAL_ERROR, as xapi's unmarshaller reports them.
Result<xenapi::Value> CoerceToField(const FieldSpec& field, const xenapi::Value& v);
// Same, for a scalar of type `type` (the element of a set or map).
Result<xenapi::Value> CoerceScalar(FieldType type, std::string_view enum_type,
                                   const xenapi::Value& v);

}  // namespace fruix::sim
