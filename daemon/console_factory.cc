#include "daemon/console_factory.h"

#include "lib/console/dom0_console_source.h"
#include "lib/console/none_console_source.h"
#include "lib/console/xapi_console_source.h"
#include "lib/xenapi/api.h"
#include "lib/xenapi/records.h"

namespace fruix::daemon {

job::ConsoleSourceFactory MakeConsoleFactory(xenapi::Session& session, http::HttpClient& http,
                                             ssh::SshClient& ssh) {
  return [&session, &http,
          &ssh](const job::ConsoleRequest& req) -> Result<std::unique_ptr<console::ConsoleSource>> {
    const std::string& kind = req.spec.kind;
    if (kind == console::kXapiVt100Kind) {
      return std::unique_ptr<console::ConsoleSource>(
          std::make_unique<console::XapiConsoleSource>(session, http, Uuid(req.vm_uuid)));
    }
    if (kind == console::kDom0SshKind) {
      const ssh::Endpoint dom0 = req.spec.dom0;
      const console::XlConsoleType type =
          req.spec.hvm_serial ? console::XlConsoleType::kSerial : console::XlConsoleType::kPv;
      const OpaqueRef vm = req.vm;
      auto resolver = [&session, dom0, type,
                       vm](std::stop_token) -> Result<console::Dom0ConsoleTarget> {
        xenapi::Api api(session);
        FRUIX_ASSIGN_OR_RETURN(xenapi::VmRecord rec, api.GetRecord<xenapi::VmRecord>(vm));
        if (rec.power_state != xenapi::VmPowerState::kRunning || rec.resident_on.is_null()) {
          return Error::FailedPrecondition("VM " + rec.uuid.str() + " is " +
                                           std::string(xenapi::ToString(rec.power_state)) +
                                           "; no console in dom0");
        }
        FRUIX_ASSIGN_OR_RETURN(xenapi::HostRecord host,
                               api.GetRecord<xenapi::HostRecord>(rec.resident_on));
        console::Dom0ConsoleTarget target;
        target.dom0 = dom0;
        if (target.dom0.host.empty()) target.dom0.host = host.address;
        target.domid = rec.domid;
        target.type = type;
        return target;
      };
      return std::unique_ptr<console::ConsoleSource>(std::make_unique<console::Dom0ConsoleSource>(
          ssh, std::move(resolver), "VM " + req.vm_uuid));
    }
    if (kind == console::kNoneKind) {
      return std::unique_ptr<console::ConsoleSource>(
          std::make_unique<console::NoneConsoleSource>());
    }
    return Error::InvalidArgument("unknown console source \"" + kind + "\"");
  };
}

}  // namespace fruix::daemon
