// task.* custom messages (xen-api ocaml/xapi/xapi_task.ml).
#include "lib/sim/methods.h"
#include "lib/sim/record_util.h"
#include "lib/sim/schema.h"

namespace fruix::sim {
namespace {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

bool Completed(const std::string& status) {
  return status == "success" || status == "failure" || status == "cancelled";
}

// task.set_<field>(self, value): a plain field write, as xapi's Db.Task.set_*.
void AddTaskSetter(MethodTable& t, ServiceEnv& env, const std::string& field) {
  const FieldSpec* spec = FindClass("task")->Find(field);
  FieldSpec f = *spec;
  t.Add({"task.set_" + field,
         2,
         {},
         true,
         false,
         [&env, f](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
           FRUIX_ASSIGN_OR_RETURN(Value v, CoerceToField(f, args[1]));
           return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
             FRUIX_RETURN_IF_ERROR(txn.Set("task", self, f.name, std::move(v)));
             return Value(std::string());
           });
         }});
}

}  // namespace

void RegisterTaskMethods(MethodTable& t, ServiceEnv& env) {
  t.Add({"task.create",
         2,
         {},
         true,
         false,
         [&env](CallContext& ctx, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string label, ArgString(args, 0));
           FRUIX_ASSIGN_OR_RETURN(std::string description, ArgString(args, 1));
           return env.db.Write([&](Database::Txn& txn) {
             return Value(CreateTask(txn, label, description, ctx.session, ctx.request.host_ref));
           });
         }});
  t.Add({"task.destroy",
         1,
         {},
         true,
         false,
         [&env](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
           return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
             FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("task", self));
             if (Completed(StrField(row->record, "status"))) {
               FRUIX_RETURN_IF_ERROR(txn.Destroy("task", self));
             } else {
               Struct ops = MapField(row->record, "current_operations");
               ops.Set("task", Value("destroy"));
               FRUIX_RETURN_IF_ERROR(txn.Set("task", self, "current_operations", Value(ops)));
             }
             return Value(std::string());
           });
         }});
  t.Add(
      {"task.cancel", 1, {}, true, false, [&env](CallContext&, const Array& args) -> Result<Value> {
         FRUIX_ASSIGN_OR_RETURN(std::string self, ArgString(args, 0));
         auto r = env.db.Write([&](Database::Txn& txn) -> Result<Value> {
           FRUIX_RETURN_IF_ERROR(txn.Get("task", self));
           Struct ops;
           ops.Set(NewRef(), Value("cancel"));
           FRUIX_RETURN_IF_ERROR(txn.Set("task", self, "current_operations", Value(ops)));
           return Value(std::string());
         });
         env.tasks.NotifyCancel();
         return r;
       }});
  for (const char* field : {"status", "progress", "result", "error_info", "resident_on"}) {
    AddTaskSetter(t, env, field);
  }
}

}  // namespace fruix::sim
