// event.from / event.get_current_id / event.inject (xen-api ocaml/xapi/xapi_event.ml).
#include "lib/sim/events.h"
#include "lib/sim/methods.h"

namespace fruix::sim {

using xenapi::Array;
using xenapi::Value;

void RegisterEventMethods(MethodTable& t, ServiceEnv& env) {
  t.Add({"event.from",
         3,
         {},
         true,
         false,
         [&env](CallContext& ctx, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::vector<std::string> classes, ArgStringSet(args, 0));
           FRUIX_ASSIGN_OR_RETURN(std::string token, ArgString(args, 1));
           FRUIX_ASSIGN_OR_RETURN(double timeout, ArgFloat(args, 2));
           return EventFrom(env.db, classes, token, timeout, ctx.session);
         }});
  t.Add({"event.get_current_id",
         0,
         {},
         true,
         false,
         [&env](CallContext&, const Array&) -> Result<Value> {
           return env.db.Read([](const Database::Txn& txn) {
             return Value(static_cast<int64_t>(txn.generation()));
           });
         }});
  // (class, ref) -> token just before the touch, so event.from(token) reports the object.
  t.Add({"event.inject",
         2,
         {},
         true,
         false,
         [&env](CallContext&, const Array& args) -> Result<Value> {
           FRUIX_ASSIGN_OR_RETURN(std::string cls, ArgString(args, 0));
           FRUIX_ASSIGN_OR_RETURN(std::string ref, ArgString(args, 1));
           return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
             if (txn.ClassOf(ref) != cls) return Error::Xapi("HANDLE_INVALID", {cls, ref});
             uint64_t before = txn.generation();
             FRUIX_RETURN_IF_ERROR(txn.Touch(cls, ref));
             return Value(FormatEventToken({before, 0}));
           });
         }});
}

}  // namespace fruix::sim
