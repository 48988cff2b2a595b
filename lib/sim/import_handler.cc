#include "lib/sim/import_handler.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "lib/core/ids.h"
#include "lib/sim/file_block_writer.h"
#include "lib/sim/record_util.h"
#include "lib/sim/tasks.h"
#include "lib/sim/vhd_tool.h"

namespace fruix::sim {
namespace {

using xenapi::Struct;
using xenapi::Value;

constexpr uint64_t kBlockBytes = 2 * 1024 * 1024;

// The request body as vhd-tool reads it from the socket; optionally cut after N bytes.
class BodyReader : public ByteReader {
 public:
  BodyReader(HttpConnection& conn, std::optional<uint64_t> cut_after)
      : conn_(conn), cut_after_(cut_after) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (cut_after_) {
      if (read_ >= *cut_after_) {
        conn_.Reset();
        return Error::Io("connection cut after " + std::to_string(read_) +
                         " bytes (fault injection)");
      }
      n = static_cast<size_t>(std::min<uint64_t>(n, *cut_after_ - read_));
    }
    FRUIX_ASSIGN_OR_RETURN(size_t got, conn_.Read(buf, n));
    read_ += got;
    return got;
  }

 private:
  HttpConnection& conn_;
  std::optional<uint64_t> cut_after_;
  uint64_t read_ = 0;
};

// Inverts the first byte of 2 MiB block `block` of the backing file (no-op past its end).
Result<void> CorruptBlock(const std::string& path, uint64_t block) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Error::Io("open " + path + ": " + std::strerror(errno));
  const off_t offset = static_cast<off_t>(block * kBlockBytes);
  unsigned char byte = 0;
  Result<void> r = Ok();
  if (::pread(fd, &byte, 1, offset) == 1) {
    byte = static_cast<unsigned char>(~byte);
    if (::pwrite(fd, &byte, 1, offset) != 1) r = Error::Io("corrupting " + path);
  }
  ::close(fd);
  return r;
}

std::string ReturnVersion(const HttpRequest& r) { return r.is_http10() ? "1.0" : "1.1"; }

HttpResponse Missing404() {
  return HttpResponse::Bare(
      404, "Not Found", {{"Connection", "close"}, {"Cache-Control", "no-cache, no-store"}}, "1.0");
}

HttpResponse BadRequest400() {
  return HttpResponse::Bare(400, "Bad Request",
                            {{"Connection", "close"}, {"Cache-Control", "no-cache, no-store"}},
                            "1.0");
}

std::string ServerErrorText(const Error& e) {
  std::string params;
  for (const auto& p : e.xapi_params()) params += (params.empty() ? " " : "; ") + p;
  return "Server_error(" + std::string(e.xapi_code()) + ", [" + params + " ])";
}

}  // namespace

std::string HostForSr(const Database::Txn& txn, const std::string& sr, const std::string& prefer) {
  const ObjectRow* s = txn.Find("SR", sr);
  if (s == nullptr) return "";
  std::string first;
  for (const auto& pbd : StrSetField(s->record, "PBDs")) {
    const ObjectRow* p = txn.Find("PBD", pbd);
    if (p == nullptr || !BoolField(p->record, "currently_attached")) continue;
    const std::string& host = StrField(p->record, "host");
    if (host == prefer) return host;
    if (first.empty()) first = host;
  }
  return first;
}

HttpResponse Unauthorised(const HttpRequest& request, const std::string& realm) {
  return HttpResponse::Html(
      401, "Unauthorised",
      "<html><body><h1>HTTP 401 unauthorised</h1>Please check your credentials and "
      "retry.</body></html>",
      {{"WWW-Authenticate", "Basic realm=\"" + realm + "\""}}, ReturnVersion(request));
}

void ImportHandler::Serve(const HttpRequest& req, HttpConnection& conn) {
  const RequestContext& ctx = conn.context();
  // 1. Credentials (Xapi_http.assert_credentials_ok).
  auto session = req.Param("session_id");
  if (!session || !service_.CheckHttpSession(*session).ok()) {
    (void)conn.Send(Unauthorised(req, "VDI.import"));
    return;
  }
  // 2. Which VDI / SR.
  std::string vdi, sr, vdi_uuid;
  uint64_t vdi_size = 0;
  auto vdi_param = req.Param("vdi");
  Result<void> resolved = db_.Read([&](const Database::Txn& txn) -> Result<void> {
    if (vdi_param) {
      if (!txn.ClassOf(*vdi_param).empty()) {
        vdi = *vdi_param;
      } else {
        FRUIX_ASSIGN_OR_RETURN(vdi, txn.RefOfUuid("VDI", *vdi_param));
      }
      FRUIX_ASSIGN_OR_RETURN(const ObjectRow* row, txn.Get("VDI", vdi));
      sr = StrField(row->record, "SR");
      vdi_uuid = StrField(row->record, "uuid");
      vdi_size = static_cast<uint64_t>(IntField(row->record, "virtual_size"));
    } else if (auto sr_id = req.Param("sr_id")) {
      sr = *sr_id;
    } else if (auto sr_uuid = req.Param("sr_uuid")) {
      FRUIX_ASSIGN_OR_RETURN(sr, txn.RefOfUuid("SR", *sr_uuid));
    }
    return Ok();
  });
  if (!resolved.ok()) {
    (void)conn.Send(HttpResponse::InternalError(EscapeHtml(ServerErrorText(resolved.error()))));
    return;
  }
  auto task_param = req.Param("task_id");
  if (sr.empty()) {
    if (task_param) FailTask(db_, *task_param, Error::Xapi("VDI_MISSING", {}));
    (void)conn.Send(BadRequest400());
    return;
  }
  // 3. Can this host see the SR?
  std::string owner = db_.Read([&](const Database::Txn& txn) {
    std::string host = HostForSr(txn, sr, ctx.host_ref);
    if (host == ctx.host_ref) return std::string();
    const ObjectRow* h = txn.Find("host", host);
    return h == nullptr ? std::string("?") : StrField(h->record, "address");
  });
  if (owner == "?") {
    (void)conn.Send(HttpResponse::InternalError(EscapeHtml("no host can see SR " + sr)));
    return;
  }
  if (!owner.empty()) {
    std::string url = ctx.scheme() + "://" + owner + ":" + std::to_string(ctx.local_port) +
                      req.path + (req.raw_query.empty() ? "" : "?" + req.raw_query);
    (void)conn.Send(HttpResponse::Bare(
        302, "Found",
        {{"Connection", "close"}, {"Cache-Control", "no-cache, no-store"}, {"Location", url}}));
    return;
  }
  // 4. The task the import runs under.
  std::string task;
  if (task_param) {
    bool exists = db_.Read(
        [&](const Database::Txn& txn) { return txn.Find("task", *task_param) != nullptr; });
    if (!exists) {
      (void)conn.Send(HttpResponse::InternalError(
          EscapeHtml(ServerErrorText(Error::Xapi("HANDLE_INVALID", {"task", *task_param})))));
      return;
    }
    task = *task_param;
  } else {
    task = db_.Write([&](Database::Txn& txn) {
      return CreateTask(txn, "Importing raw VDI", "", *session, ctx.host_ref);
    });
  }
  // A task the handler created itself goes away with the request, as xapi's context does.
  struct AutoTask {
    Database& db;
    std::string ref;
    ~AutoTask() {
      if (!ref.empty()) db.Write([&](Database::Txn& txn) { (void)txn.Destroy("task", ref); });
    }
  } auto_task{db_, task_param ? std::string() : task};
  std::string format = AsciiLower(req.Param("format").value_or("raw"));
  bool chunked = req.has_param("chunked");
  if (format != "raw" && format != "vhd") {
    FailTask(db_, task, Error::Xapi("INTERNAL_ERROR", {"Unknown format " + format}));
    (void)conn.Send(Missing404());
    return;
  }
  if (format != "raw" && chunked) {
    FailTask(db_, task, Error::Xapi("INTERNAL_ERROR", {"Cannot handle chunked VHD"}));
    (void)conn.Send(Missing404());
    return;
  }
  if (auto te = req.Header("transfer-encoding")) {
    FailTask(db_, task, Error::Xapi("INTERNAL_ERROR", {"Cannot handle encoding: " + *te}));
    (void)conn.Send(Missing404());
    return;
  }
  std::optional<uint64_t> content_length = req.content_length();
  if (vdi.empty()) {
    if (format != "raw" || !content_length) {
      std::string msg = format == "vhd" ? "Importing a VHD directly into an SR not yet supported"
                                        : "Not enough info supplied to import";
      FailTask(db_, task, Error::Xapi("INTERNAL_ERROR", {msg}));
      (void)conn.Send(BadRequest400());
      return;
    }
    Struct args;
    args.Set("name_label", Value("Imported VDI"));
    args.Set("name_description", Value(""));
    args.Set("SR", Value(sr));
    args.Set("virtual_size", Value(static_cast<int64_t>(*content_length)));
    args.Set("type", Value("user"));
    args.Set("sharable", Value(false));
    args.Set("read_only", Value(false));
    args.Set("other_config", Value(Struct{}));
    auto created = service_.Call("VDI.create", {Value(*session), Value(args)}, ctx);
    if (!created.ok()) {
      FailTask(db_, task, created.error());
      (void)conn.Send(HttpResponse::InternalError());
      return;
    }
    vdi = created->string();
    db_.Read([&](const Database::Txn& txn) {
      const ObjectRow* row = txn.Find("VDI", vdi);
      if (row == nullptr) return;
      vdi_uuid = StrField(row->record, "uuid");
      vdi_size = static_cast<uint64_t>(IntField(row->record, "virtual_size"));
    });
  }
  // 5. Headers first, then the body.
  const std::string head =
      "HTTP/1.1 200 OK\r\nConnection: close\r\nCache-Control: no-cache, no-store\r\n"
      "task-id:" +
      task + "\r\ncontent-type: application/octet-stream\r\n\r\n";
  // Claim the VDI before answering, so that a client which saw our 200 can rely on it.
  const bool claimed = storage_.BeginImport(vdi, ctx.host_ref);
  if (!conn.Write(head).ok()) {
    if (claimed) storage_.EndImport(vdi);
    FailTask(db_, task, Error::Xapi("VDI_IO_ERROR", {"Device I/O errors"}));
    return;
  }
  if (!claimed) {
    // xapi attaches the VDI to dom0 after its 200 head; SM refuses a VDI that is in use (its
    // VDIInUse fault becomes VDI_IN_USE [], sm_exec.ml). The body is never read.
    FailTask(db_, task, Error::Xapi("VDI_IN_USE", {}));
    conn.Reset();
    return;
  }
  const FaultInjector::Hit hit = faults_.OnCall("import_raw_vdi");
  if (hit.error) {
    // The dom0 attach raising (VBD.plug: TOO_MANY_PENDING_TASKS, VDI_IN_USE, ...): the task
    // fails with that error and the connection is closed with the body unread.
    storage_.EndImport(vdi);
    std::vector<std::string> params(hit.error->begin() + 1, hit.error->end());
    FailTask(db_, task, Error::Xapi(hit.error->front(), std::move(params)));
    conn.Reset();
    return;
  }
  BodyTarget target{task,     vdi,    sr,      vdi_uuid,
                    vdi_size, format, chunked, content_length.value_or(vdi_size)};
  Result<ImportStats> stats = ReceiveBody(target, hit, conn);
  storage_.EndImport(vdi);
  if (hit.task_pending_ms > 0) {
    // xapi stuck after the body (e.g. unplugging dom0's VBD): the verdict comes later. Only the
    // simulator's shutdown ends the wait early; task.cancel does not.
    (void)tasks_.Sleep("", std::chrono::milliseconds(hit.task_pending_ms));
  }
  if (stats.ok()) {
    CompleteTask(db_, task, Value(vdi));
  } else {
    FailTask(db_, task, Error::Xapi("VDI_IO_ERROR", {"Device I/O errors"}));
  }
}

Result<ImportStats> ImportHandler::ReceiveBody(const BodyTarget& t, const FaultInjector::Hit& hit,
                                               HttpConnection& conn) {
  const std::string sr_uuid = db_.Read([&](const Database::Txn& txn) {
    const ObjectRow* row = txn.Find("SR", t.sr);
    return row == nullptr ? std::string() : StrField(row->record, "uuid");
  });
  FRUIX_ASSIGN_OR_RETURN(std::string path, storage_.VdiFile(sr_uuid, t.vdi_uuid));
  FRUIX_ASSIGN_OR_RETURN(auto writer, FileBlockWriter::Open(path, t.vdi_size));
  BodyReader reader(conn, hit.cut_after_bytes);
  double last = 0;
  ProgressFn progress = [&](double p) {
    if (p - last >= 0.01 || (p >= 1.0 && last < 1.0)) {
      last = p;
      SetTaskProgress(db_, t.task, std::min(p, 1.0));
    }
  };
  Result<ImportStats> stats = Error::Internal("no format");
  if (t.chunked) {
    stats = ServeChunked(reader, *writer, progress);
  } else if (t.format == "vhd") {
    stats = ServeVhd(reader, t.length, *writer, progress);
  } else {
    stats = ServeRaw(reader, t.length, *writer, progress);
  }
  FRUIX_RETURN_IF_ERROR(stats);
  FRUIX_RETURN_IF_ERROR(writer->Sync());
  if (hit.device_error) return Error::Io("device I/O error after the body (fault injection)");
  if (hit.corrupt_block) FRUIX_RETURN_IF_ERROR(CorruptBlock(path, *hit.corrupt_block));
  return stats;
}

}  // namespace fruix::sim
