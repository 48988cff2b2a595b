#include "lib/sim/console_handler.h"

#include <chrono>

#include "lib/sim/import_handler.h"
#include "lib/sim/record_util.h"

namespace fruix::sim {

void ConsoleHandler::Serve(const HttpRequest& req, HttpConnection& conn) {
  const RequestContext& ctx = conn.context();
  auto session = req.Param("session_id");
  if (!session || !service_.CheckHttpSession(*session).ok()) {
    (void)conn.Send(Unauthorised(req, "Connection to VM console"));
    return;
  }
  struct Target {
    std::string vm, console, protocol, user;
    bool limit = false;
    std::string error;  // non-empty: answer 500
  };
  Target t = db_.Read([&](const Database::Txn& txn) {
    Target out;
    auto uuid = req.Query("uuid");
    auto ref = req.Query("ref");
    std::string id;
    if (uuid) {
      auto vm = txn.RefOfUuid("VM", *uuid);
      auto con = txn.RefOfUuid("console", *uuid);
      id = vm.ok() ? *vm : con.ok() ? *con : "";
    } else if (ref) {
      id = *ref;
    } else {
      out.error = "HTTP request for console forwarding lacked 'ref' or 'uuid' parameter";
      return out;
    }
    std::string cls = txn.ClassOf(id);
    if (cls == "VM") {
      const ObjectRow* vm = txn.Find("VM", id);
      for (const auto& c : StrSetField(vm->record, "consoles")) {
        const ObjectRow* con = txn.Find("console", c);
        if (con != nullptr && StrField(con->record, "protocol") == "rfb") out.console = c;
      }
      if (out.console.empty()) {
        out.error = "Failed to find default VNC console for VM";
        return out;
      }
    } else if (cls == "console") {
      out.console = id;
    } else {
      out.error = id + " is neither a VM ref or a console ref";
      return out;
    }
    const ObjectRow* con = txn.Find("console", out.console);
    out.vm = StrField(con->record, "VM");
    out.protocol = StrField(con->record, "protocol");
    const ObjectRow* vm = txn.Find("VM", out.vm);
    if (vm == nullptr || StrField(vm->record, "power_state") != "Running" ||
        StrField(vm->record, "resident_on") != ctx.host_ref) {
      out.error = "Console.Failure";
      return out;
    }
    for (const ObjectRow* pool : txn.All("pool")) {
      out.limit = BoolField(pool->record, "limit_console_sessions");
    }
    const ObjectRow* s = txn.Find("session", *session);
    out.user = s == nullptr ? "" : StrField(s->record, "auth_user_name");
    return out;
  });
  if (!t.error.empty()) {
    (void)conn.Send(HttpResponse::InternalError("Console.Failure"));
    return;
  }
  if (t.protocol == "rdp") {
    (void)conn.Send(HttpResponse::Bare(
        404, "Not Found", {{"Connection", "close"}, {"Cache-Control", "no-cache, no-store"}}));
    return;
  }
  if (faults_.OnCall("console").limit_console_sessions) t.limit = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int& n = active_[t.vm];
    if (t.limit && n > 0) {
      std::string body = "<html><body><h1>Connection Limit Exceeded</h1><p>User '" + t.user +
                         "' is currently connected to this console (VM " + t.vm +
                         "). No more connections are allowed when limit_console_sessions is "
                         "enabled.</p></body></html>";
      (void)conn.Send(HttpResponse::Html(503, "Connection Limit Exceeded", body, {},
                                         req.is_http10() ? "1.0" : "1.1"));
      return;
    }
    ++n;
  }
  struct Release {
    ConsoleHandler* self;
    std::string vm;
    ~Release() {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (--self->active_[vm] <= 0) self->active_.erase(vm);
    }
  } release{this, t.vm};

  auto sub = hub_.Subscribe(t.vm);
  if (!sub) {
    (void)conn.Send(HttpResponse::InternalError("Console.Failure"));
    return;
  }
  if (!conn.Write("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nCache-Control: no-cache, "
                  "no-store\r\n\r\n")
           .ok()) {
    sub->Cancel();
    return;
  }
  if (t.protocol == "rfb" && !conn.Write("RFB 003.008\n").ok()) {
    sub->Cancel();
    return;
  }
  for (;;) {
    bool ended = false;
    std::string out =
        sub->Next(std::chrono::steady_clock::now() + std::chrono::milliseconds(100), &ended);
    if (!out.empty() && t.protocol == "vt100" && !conn.Write(out).ok()) break;
    if (ended) break;
    // Drain (and drop) client input; end when the client has gone.
    while (conn.InputReady()) {
      char buf[4096];
      auto n = conn.Read(buf, sizeof buf);
      if (!n.ok() || *n == 0) {
        sub->Cancel();
        return;
      }
    }
  }
  sub->Cancel();
}

size_t ConsoleHandler::active_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [vm, c] : active_) n += static_cast<size_t>(c);
  return n;
}

}  // namespace fruix::sim
