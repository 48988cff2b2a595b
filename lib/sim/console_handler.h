// sim::ConsoleHandler — CONNECT /console?..., as xapi's console.ml handles it:
//   - session from the query (session_id) or a "Cookie: session_id=..." header; missing or
//     invalid -> 401 (realm "Connection to VM console");
//   - uuid=<VM or console uuid> or ref=<VM or console ref>; a VM selects its rfb console;
//     missing parameters, unknown ids, a VM without such a console -> 500 "Internal Error";
//   - the VM must be Running and resident on the host that received the CONNECT, else 500;
//   - an rdp console has no backend -> 404;
//   - with pool.limit_console_sessions (or a "console" fault) a second connection to the same VM
//     gets "503 Connection Limit Exceeded";
//   - otherwise "HTTP/1.1 200 OK / Connection: keep-alive / Cache-Control: no-cache, no-store"
//     and then raw bytes: for vt100 what the scripted guest prints (from connect time, plus the
//     VM's console_scrollback_bytes of earlier output); for rfb the RFB version banner. Client
//     input is read and dropped. The connection closes when the domain goes away.
// Thread-safe; each call runs on its connection's thread for the life of the console session.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "lib/sim/console_hub.h"
#include "lib/sim/database.h"
#include "lib/sim/faults.h"
#include "lib/sim/http_server.h"
#include "lib/sim/xapi_service.h"

namespace fruix::sim {

class ConsoleHandler {
 public:
  ConsoleHandler(Database& db, XapiService& service, ConsoleHub& hub, FaultInjector& faults)
      : db_(db), service_(service), hub_(hub), faults_(faults) {}

  void Serve(const HttpRequest& request, HttpConnection& connection);
  size_t active_connections() const;

 private:
  Database& db_;
  XapiService& service_;
  ConsoleHub& hub_;
  FaultInjector& faults_;
  mutable std::mutex mu_;
  std::map<std::string, int> active_;  // VM ref -> open console connections
};

}  // namespace fruix::sim
