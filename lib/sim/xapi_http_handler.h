// sim::XapiHttpHandler — routes the requests one simulated host receives, as xapi's handler
// table does (ocaml/xapi/xapi.ml, http_svr.ml), by longest path prefix:
//   POST /jsonrpc            JSON-RPC (v1/v2)
//   POST <any other path>    XML-RPC (/, /RPC2, XO's /xmlrpc, ...); bodies over 300 KiB -> 500
//   PUT  /import_raw_vdi     sim::ImportHandler
//   CONNECT /console         sim::ConsoleHandler
//   OPTIONS <any>            CORS preflight (200, Access-Control-Allow-*)
//   other GET/PUT paths      403 Forbidden page; other methods 501.
// Replies to RPCs keep the connection open unless the client asked to close it.
// Thread-safe; Serve runs on connection threads.
#pragma once

#include "lib/sim/console_handler.h"
#include "lib/sim/http_server.h"
#include "lib/sim/import_handler.h"
#include "lib/sim/xapi_service.h"

namespace fruix::sim {

class XapiHttpHandler : public HttpHandler {
 public:
  XapiHttpHandler(XapiService& service, ImportHandler& import, ConsoleHandler& console)
      : service_(service), import_(import), console_(console) {}

  bool Serve(const HttpRequest& request, HttpConnection& connection) override;

 private:
  XapiService& service_;
  ImportHandler& import_;
  ConsoleHandler& console_;
};

}  // namespace fruix::sim
