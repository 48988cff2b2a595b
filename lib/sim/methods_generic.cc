// Generated-style methods for every simulated class (xapi's datamodel_utils.ml implicit
// messages), plus the argument helpers shared by all method files.
#include <algorithm>

#include "lib/sim/methods.h"
#include "lib/sim/record_util.h"
#include "lib/sim/schema.h"

namespace fruix::sim {
namespace {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

Error TypeError(const char* type, const Value& v) {
  return Error::Xapi("INTERNAL_ERROR", {"Failure(\"Expected " + std::string(type) + ", got '" +
                                        v.DebugString(80) + "'\")"});
}

// Power states a VM setter needs (xapi checks the matching vm_operation).
std::vector<std::string> SetterPowerStates(const std::string& field) {
  if (field == "VCPUs_max" || field == "VCPUs_at_startup" || field == "memory_static_max" ||
      field == "memory_static_min" || field == "domain_type" || field == "HVM_boot_policy") {
    return {"Halted"};
  }
  if (field == "memory_dynamic_max" || field == "memory_dynamic_min") return {"Halted", "Running"};
  return {};
}

void AddGetter(MethodTable& t, ServiceEnv& env, const ClassSpec& cls, const FieldSpec& f) {
  std::string cname = cls.name, fname = f.name;
  t.Add({cname + ".get_" + fname,
         1,
         {},
         true,
         false,
         [&env, cname, fname](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
           return env.db.Read([&](const Database::Txn& txn) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get(cname, self));
             return *row->record.Find(fname);
           });
         }});
}

void AddSetters(MethodTable& t, ServiceEnv& env, const ClassSpec& cls, const FieldSpec& f) {
  std::string cname = cls.name, fname = f.name;
  FieldSpec field = f;
  t.Add({cname + ".set_" + fname,
         2,
         {},
         true,
         false,
         [&env, cname, fname, field](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
           FRUIX_ASSIGN_OR_RETURN(Value v, CoerceToField(field, args[1]));
           return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get(cname, self));
             if (cname == "VM") {
               std::vector<std::string> states = SetterPowerStates(fname);
               const std::string& power = StrField(row->record, "power_state");
               if (!states.empty() &&
                   std::find(states.begin(), states.end(), power) == states.end()) {
                 std::string expected;
                 for (const auto& s : states)
                   expected += (expected.empty() ? "" : ", ") + AsciiLower(s);
                 return Error::Xapi("VM_BAD_POWER_STATE", {self, expected, AsciiLower(power)});
               }
             }
             FRUIX_RETURN_IF_ERROR(txn.Set(cname, self, fname, std::move(v)));
             return Value(std::string());
           });
         }});
  if (f.type == FieldType::kMap) {
    t.Add({cname + ".add_to_" + fname,
           3,
           {},
           true,
           false,
           [&env, cname, fname, field](CallContext&, const Array& args) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
             FRUIX_ASSIGN_OR_RETURN(std::string key, ArgString(args, 1));
             FRUIX_ASSIGN_OR_RETURN(Value v, CoerceScalar(field.elem, field.enum_type, args[2]));
             return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
               FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get(cname, self));
               Struct m = MapField(row->record, fname);
               if (m.Find(key) != nullptr) {
                 return Error::Xapi("MAP_DUPLICATE_KEY",
                                    {cname, fname, StrField(row->record, "uuid"), key});
               }
               m.Set(key, std::move(v));
               FRUIX_RETURN_IF_ERROR(txn.Set(cname, self, fname, Value(std::move(m))));
               return Value(std::string());
             });
           }});
    t.Add({cname + ".remove_from_" + fname,
           2,
           {},
           true,
           false,
           [&env, cname, fname](CallContext&, const Array& args) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
             FRUIX_ASSIGN_OR_RETURN(std::string key, ArgString(args, 1));
             return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
               FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get(cname, self));
               Struct m = MapField(row->record, fname);
               m.Erase(key);
               FRUIX_RETURN_IF_ERROR(txn.Set(cname, self, fname, Value(std::move(m))));
               return Value(std::string());
             });
           }});
  }
  if (f.type == FieldType::kSet) {
    t.Add({cname + ".add_" + fname,
           2,
           {},
           true,
           false,
           [&env, cname, fname, field](CallContext&, const Array& args) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
             FRUIX_ASSIGN_OR_RETURN(Value v, CoerceScalar(field.elem, field.enum_type, args[1]));
             return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
               FRUIX_RETURN_IF_ERROR(txn.Get(cname, self));
               FRUIX_RETURN_IF_ERROR(txn.AddToSet(cname, self, fname, v));
               return Value(std::string());
             });
           }});
    t.Add({cname + ".remove_" + fname,
           2,
           {},
           true,
           false,
           [&env, cname, fname, field](CallContext&, const Array& args) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
             FRUIX_ASSIGN_OR_RETURN(Value v, CoerceScalar(field.elem, field.enum_type, args[1]));
             return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
               FRUIX_RETURN_IF_ERROR(txn.Get(cname, self));
               FRUIX_RETURN_IF_ERROR(txn.RemoveFromSet(cname, self, fname, v));
               return Value(std::string());
             });
           }});
  }
}

}  // namespace

Result<std::string> ArgString(const Array& args, size_t i) {
  if (i >= args.size() || !args[i].is_string()) {
    return TypeError("string", i < args.size() ? args[i] : Value());
  }
  return args[i].string();
}

Result<bool> ArgBool(const Array& args, size_t i) {
  if (i >= args.size() || args[i].kind() != Value::Kind::kBool) {
    return TypeError("bool", i < args.size() ? args[i] : Value());
  }
  return args[i].boolean();
}

Result<int64_t> ArgInt(const Array& args, size_t i) {
  if (i < args.size() && args[i].kind() != Value::Kind::kDouble) {
    auto v = args[i].ToInt();
    if (v.ok()) return *v;
  }
  return TypeError("int64", i < args.size() ? args[i] : Value());
}

Result<double> ArgFloat(const Array& args, size_t i) {
  if (i < args.size()) {
    if (args[i].kind() == Value::Kind::kDouble) return args[i].dbl();
    if (args[i].kind() == Value::Kind::kInt) return static_cast<double>(args[i].int64());
    if (args[i].kind() == Value::Kind::kInt32) return static_cast<double>(args[i].int32());
    if (args[i].is_string()) {
      auto d = args[i].ToDouble();
      if (d.ok()) return *d;
    }
  }
  return TypeError("float", i < args.size() ? args[i] : Value());
}

Result<std::vector<std::string>> ArgStringSet(const Array& args, size_t i) {
  if (i >= args.size() || !args[i].is_array()) {
    return TypeError("string set", i < args.size() ? args[i] : Value());
  }
  std::vector<std::string> out;
  for (const auto& e : args[i].array()) {
    if (!e.is_string()) return TypeError("string", e);
    out.push_back(e.string());
  }
  return out;
}

Result<Struct> ArgStruct(const Array& args, size_t i) {
  if (i >= args.size() || !args[i].is_struct()) {
    return TypeError("struct", i < args.size() ? args[i] : Value());
  }
  return args[i].structure();
}

std::string PoolMaster(const Database::Txn& txn) {
  for (const ObjectRow* pool : txn.All("pool")) return StrField(pool->record, "master");
  return "";
}

Result<Value> CtorMember(const Struct& args, const std::string& name) {
  const Value* v = args.Find(name);
  if (v == nullptr) {
    return Error::Xapi("INTERNAL_ERROR",
                       {"Server_helpers.Dispatcher_FieldNotFound(\"" + name + "\")"});
  }
  return *v;
}

Value CtorOptional(const Struct& args, const std::string& name, Value fallback) {
  const Value* v = args.Find(name);
  return v == nullptr ? std::move(fallback) : *v;
}

void RegisterGenericMethods(MethodTable& t, ServiceEnv& env) {
  for (const ClassSpec& cls : AllClasses()) {
    std::string cname = cls.name;
    if (cname != "session") {
      t.Add({cname + ".get_all",
             0,
             {},
             true,
             false,
             [&env, cname](CallContext&, const Array&) -> Result<Value> {
               return env.db.Read([&](const Database::Txn& txn) {
                 Array refs;
                 for (const ObjectRow* row : txn.All(cname)) refs.emplace_back(row->ref);
                 return Value(std::move(refs));
               });
             }});
      t.Add({cname + ".get_all_records",
             0,
             {},
             true,
             false,
             [&env, cname](CallContext&, const Array&) -> Result<Value> {
               return env.db.Read([&](const Database::Txn& txn) {
                 Struct all;
                 for (const ObjectRow* row : txn.All(cname)) all.Set(row->ref, Value(row->record));
                 return Value(std::move(all));
               });
             }});
    }
    t.Add({cname + ".get_record",
           1,
           {},
           true,
           false,
           [&env, cname](CallContext&, const Array& args) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
             return env.db.Read([&](const Database::Txn& txn) -> Result<Value> {
               FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get(cname, self));
               return Value(row->record);
             });
           }});
    t.Add({cname + ".get_by_uuid",
           1,
           {},
           true,
           false,
           [&env, cname](CallContext&, const Array& args) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(std::string uuid, ArgString(args, 0));
             return env.db.Read([&](const Database::Txn& txn) -> Result<Value> {
               FRUIX_ASSIGN_OR_RETURN(std::string ref, txn.RefOfUuid(cname, uuid));
               return Value(ref);
             });
           }});
    if (cls.has_name_label()) {
      t.Add({cname + ".get_by_name_label",
             1,
             {},
             true,
             false,
             [&env, cname](CallContext&, const Array& args) -> Result<Value> {
               FRUIX_ASSIGN_OR_RETURN(std::string label, ArgString(args, 0));
               return env.db.Read([&](const Database::Txn& txn) {
                 Array refs;
                 for (const ObjectRow* row : txn.All(cname)) {
                   if (StrField(row->record, "name_label") == label) refs.emplace_back(row->ref);
                 }
                 return Value(std::move(refs));
               });
             }});
    }
    for (const FieldSpec& f : cls.fields) {
      AddGetter(t, env, cls, f);
      if (f.qualifier == Qualifier::kRW) AddSetters(t, env, cls, f);
    }
  }
}

}  // namespace fruix::sim
