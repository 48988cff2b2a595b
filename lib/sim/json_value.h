// sim::json_value — conversions between nlohmann JSON and xenapi::Value, as xapi's JSON-RPC
// encodes values (ocaml-rpc jsonrpc.ml): ints and floats are numbers, datetimes and strings are
// strings, sets are arrays, maps and records objects. Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include "lib/xenapi/value.h"

namespace fruix::sim {

using Json = nlohmann::ordered_json;

// JSON null becomes "" (ocaml-rpc's Null on a string position).
xenapi::Value JsonToValue(const Json& j);
Json ValueToJson(const xenapi::Value& v);

}  // namespace fruix::sim
