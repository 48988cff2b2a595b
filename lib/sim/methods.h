// sim::methods — the XenAPI methods of the simulator, registered into a MethodTable by class
// family. Each Register* function documents the methods it adds; all of them act through the
// ServiceEnv and are thread-safe. Argument helpers convert RPC parameters the way xapi's
// unmarshaller does (type errors are INTERNAL_ERROR).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lib/core/result.h"
#include "lib/sim/method_table.h"
#include "lib/sim/xapi_service.h"
#include "lib/xenapi/value.h"

namespace fruix::sim {

// For every class: get_all, get_all_records (not session), get_record, get_by_uuid,
// get_by_name_label (classes with name_label), get_<field>, set_<field> for RW fields,
// add_to_<map>/remove_from_<map> for RW maps (MAP_DUPLICATE_KEY on an existing key),
// add_<set>/remove_<set> for RW sets.
void RegisterGenericMethods(MethodTable& table, ServiceEnv& env);
// session.login_with_password (2-4 params), session.logout, session.get_uuid etc. come from the
// generic set.
void RegisterSessionMethods(MethodTable& table, ServiceEnv& env);
// task.create/destroy/cancel/set_status/set_progress/set_result/set_error_info/set_resident_on.
void RegisterTaskMethods(MethodTable& table, ServiceEnv& env);
// event.from, event.get_current_id, event.inject.
void RegisterEventMethods(MethodTable& table, ServiceEnv& env);
// VM lifecycle (Async-capable), VM.get_allowed_VBD_devices / get_allowed_VIF_devices.
void RegisterVmMethods(MethodTable& table, ServiceEnv& env);
// VBD/VIF/VDI constructors and destructors, VBD/VIF plug and unplug.
void RegisterDeviceMethods(MethodTable& table, ServiceEnv& env);

// Argument readers.
Result<std::string> ArgString(const xenapi::Array& args, size_t i);
Result<bool> ArgBool(const xenapi::Array& args, size_t i);
Result<int64_t> ArgInt(const xenapi::Array& args, size_t i);
Result<double> ArgFloat(const xenapi::Array& args, size_t i);
Result<std::vector<std::string>> ArgStringSet(const xenapi::Array& args, size_t i);
Result<xenapi::Struct> ArgStruct(const xenapi::Array& args, size_t i);

// The master host of the pool ("" if there is no pool).
std::string PoolMaster(const Database::Txn& txn);

// Constructor-record member access, as xapi's my_assoc: a missing member is
// INTERNAL_ERROR ["Server_helpers.Dispatcher_FieldNotFound(\"<name>\")"].
Result<xenapi::Value> CtorMember(const xenapi::Struct& args, const std::string& name);
// The member, or `fallback` when absent (constructor fields that have defaults).
xenapi::Value CtorOptional(const xenapi::Struct& args, const std::string& name,
                           xenapi::Value fallback);

}  // namespace fruix::sim
