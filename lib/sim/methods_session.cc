// session.login_with_password / session.logout (xen-api ocaml/xapi/xapi_session.ml).
#include "lib/sim/methods.h"
#include "lib/sim/record_util.h"

namespace fruix::sim {

using xenapi::Array;
using xenapi::Struct;
using xenapi::Value;

void RegisterSessionMethods(MethodTable& t, ServiceEnv& env) {
  // (uname, pwd, version = "1.1", originator = "") -> session ref.
  t.Add(
      {"session.login_with_password",
       2,
       {Value("1.1"), Value("")},
       false,
       false,
       [&env](CallContext& ctx, const Array& args) -> Result<Value> {
         FRUIX_ASSIGN_OR_RETURN(std::string uname, ArgString(args, 0));
         FRUIX_ASSIGN_OR_RETURN(std::string pwd, ArgString(args, 1));
         FRUIX_ASSIGN_OR_RETURN(std::string version, ArgString(args, 2));
         FRUIX_ASSIGN_OR_RETURN(std::string originator, ArgString(args, 3));
         (void)version;
         return env.db.Write([&](Database::Txn& txn) -> Result<Value> {
           std::string master = PoolMaster(txn);
           if (!master.empty() && ctx.request.host_ref != master) {
             const ObjectRow* m = txn.Find("host", master);
             return Error::Xapi("HOST_IS_SLAVE",
                                {m == nullptr ? "" : StrField(m->record, "address")});
           }
           if (uname != env.config.credentials.username || pwd != env.config.credentials.password) {
             return Error::Xapi("SESSION_AUTHENTICATION_FAILED", {uname, "Authentication failure"});
           }
           Struct f;
           f.Set("this_host", Value(ctx.request.host_ref));
           f.Set("last_active", Value(NowDateTime()));
           f.Set("is_local_superuser", Value(true));
           f.Set("validation_time", Value(NowDateTime()));
           f.Set("auth_user_name", Value(uname));
           f.Set("originator", Value(originator));
           return Value(txn.Create("session", std::move(f)));
         });
       }});
  t.Add({"session.logout",
         0,
         {},
         true,
         false,
         [&env](CallContext& ctx, const Array&) -> Result<Value> {
           env.db.Write([&](Database::Txn& txn) { (void)txn.Destroy("session", ctx.session); });
           return Value(std::string());
         }});
  t.Add({"session.local_logout",
         0,
         {},
         true,
         false,
         [&env](CallContext& ctx, const Array&) -> Result<Value> {
           env.db.Write([&](Database::Txn& txn) { (void)txn.Destroy("session", ctx.session); });
           return Value(std::string());
         }});
}

}  // namespace fruix::sim
