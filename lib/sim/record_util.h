// sim::record_util — typed reads of stored records (xenapi::Struct in schema form) and the
// simulator's wall-clock timestamps. Pure functions; no state, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/xenapi/value.h"

namespace fruix::sim {

inline constexpr std::string_view kNullRef = "OpaqueRef:NULL";

// Field readers: return the zero value ("", 0, false, {}) when the field is absent or of another
// kind (records created from the schema always have every field).
const std::string& StrField(const xenapi::Struct& rec, std::string_view field);
int64_t IntField(const xenapi::Struct& rec, std::string_view field);
bool BoolField(const xenapi::Struct& rec, std::string_view field);
double FloatField(const xenapi::Struct& rec, std::string_view field);
std::vector<std::string> StrSetField(const xenapi::Struct& rec, std::string_view field);
const xenapi::Struct& MapField(const xenapi::Struct& rec, std::string_view field);
// A (string -> string) map member, or "" when absent.
std::string MapGet(const xenapi::Struct& rec, std::string_view field, std::string_view key);

// "Now" as xapi stamps records: dateTime.iso8601 "YYYYMMDDTHH:MM:SSZ" in UTC.
xenapi::DateTime NowDateTime();

// "OpaqueRef:<random uuid>".
std::string NewRef();

// Lower-cases ASCII.
std::string AsciiLower(std::string_view s);

}  // namespace fruix::sim
