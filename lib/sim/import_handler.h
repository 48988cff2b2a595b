// sim::ImportHandler — PUT /import_raw_vdi, as xapi's import_raw_vdi.ml handles it:
//   1. credentials: session_id from the query or a cookie; missing or invalid -> 401 with
//      WWW-Authenticate: Basic realm="VDI.import" (a named task is left pending);
//   2. vdi = ref or uuid (unknown -> 500); neither vdi nor sr_id/sr_uuid -> 400, named task
//      failed VDI_MISSING [];
//   3. the receiving host cannot see the VDI's SR (no attached PBD) -> 302 with Location
//      <scheme>://<owning host address>:<port it came in on>/import_raw_vdi?<same query>; the body
//      is not read;
//   4. the import runs under task_id when given (else a new task "Importing raw VDI");
//      format (raw|vhd, case-insensitive, default raw) unknown -> 404 + task INTERNAL_ERROR
//      ["Unknown format x"]; `chunked` with vhd -> 404 + ["Cannot handle chunked VHD"];
//      a Transfer-Encoding header -> 404 + ["Cannot handle encoding: <value>"];
//      raw with sr and no vdi creates "Imported VDI" of Content-Length bytes;
//   5. writes "HTTP/1.1 200 OK / Connection: close / Cache-Control: no-cache, no-store /
//      task-id:<ref> / content-type: application/octet-stream" before reading any body byte,
//      then (where xapi attaches the VDI to dom0) fails the task without reading the body and
//      resets the connection when the VDI is held by another import (VDI_IN_USE [], SM's
//      VDIInUse) or an "error" fault fired; otherwise streams the body through sim::ServeRaw /
//      ServeChunked / ServeVhd into the VDI's backing file, updating task progress; success ->
//      result "<value>OpaqueRef:vdi</value>", any failure -> VDI_IO_ERROR ["Device I/O errors"];
//      then the connection is closed. Import faults (faults.h): cut_after_bytes (reset mid-body),
//      task_pending_ms (late verdict), device_error, corrupt_block.
// Formats tar and qcow2 are not simulated (treated as unknown formats).
// Thread-safe; each call runs on its connection's thread.
#pragma once

#include "lib/sim/database.h"
#include "lib/sim/faults.h"
#include "lib/sim/http_server.h"
#include "lib/sim/storage.h"
#include "lib/sim/tasks.h"
#include "lib/sim/vhd_tool.h"
#include "lib/sim/xapi_service.h"

namespace fruix::sim {

class ImportHandler {
 public:
  ImportHandler(Database& db, XapiService& service, Storage& storage, FaultInjector& faults,
                TaskRunner& tasks)
      : db_(db), service_(service), storage_(storage), faults_(faults), tasks_(tasks) {}

  // Serves one request; the connection must be closed afterwards.
  void Serve(const HttpRequest& request, HttpConnection& connection);

 private:
  // Where the body of one import goes.
  struct BodyTarget {
    std::string task, vdi, sr, vdi_uuid;
    uint64_t vdi_size = 0;
    std::string format;  // "raw" or "vhd"
    bool chunked = false;
    uint64_t length = 0;  // Content-Length, else the VDI's size
  };
  // Streams the body into the VDI's backing file through vhd-tool's semantics, applying the
  // import faults that fired (cut, device error, corruption). Updates the task's progress.
  Result<ImportStats> ReceiveBody(const BodyTarget& target, const FaultInjector::Hit& hit,
                                  HttpConnection& connection);

  Database& db_;
  XapiService& service_;
  Storage& storage_;
  FaultInjector& faults_;
  TaskRunner& tasks_;
};

// The host that can serve an SR (first host with an attached PBD), or "" if none. `prefer` wins
// when it qualifies.
std::string HostForSr(const Database::Txn& txn, const std::string& sr, const std::string& prefer);
// xapi's 401 page for HTTP handlers.
HttpResponse Unauthorised(const HttpRequest& request, const std::string& realm);

}  // namespace fruix::sim
