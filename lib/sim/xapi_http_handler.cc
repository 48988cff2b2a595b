#include "lib/sim/xapi_http_handler.h"

namespace fruix::sim {
namespace {

std::string ReturnVersion(const HttpRequest& r) { return r.is_http10() ? "1.0" : "1.1"; }

void SetConnection(HttpResponse& r, bool keep_alive) {
  for (auto& [k, v] : r.headers) {
    if (k == "connection") v = keep_alive ? "keep-alive" : "close";
  }
}

}  // namespace

bool XapiHttpHandler::Serve(const HttpRequest& req, HttpConnection& conn) {
  if (req.method == "POST") {
    auto length = req.content_length();
    uint64_t n = length.value_or(0);
    if (n > XapiService::kMaxRpcBody) {
      (void)conn.Send(HttpResponse::InternalError("Http.Client_requested_size_over_limit"));
      return false;
    }
    auto body = conn.ReadExactly(n);
    if (!body.ok()) return false;
    HttpResponse resp = req.path.rfind("/jsonrpc", 0) == 0
                            ? service_.HandleJsonRpc(*body, conn.context())
                            : service_.HandleXmlRpc(*body, conn.context());
    bool keep = req.keep_alive() && resp.status == 200;
    resp.version = ReturnVersion(req);
    if (resp.status == 200) SetConnection(resp, keep);
    return conn.Send(resp).ok() && keep;
  }
  // xapi dispatches on the longest registered path prefix (XO PUTs to "/import_raw_vdi/").
  if (req.method == "PUT" && req.path.rfind("/import_raw_vdi", 0) == 0) {
    import_.Serve(req, conn);
    return false;
  }
  if (req.method == "CONNECT" && req.path.rfind("/console", 0) == 0) {
    console_.Serve(req, conn);
    return false;
  }
  if (req.method == "OPTIONS") {
    std::string allow = "X-Requested-With";
    if (auto acrh = req.Header("access-control-request-headers")) {
      allow = *acrh + ", X-Requested-With";
    }
    HttpResponse r;
    r.version = ReturnVersion(req);
    r.headers = {{"connection", req.keep_alive() ? "keep-alive" : "close"},
                 {"cache-control", "no-cache, no-store"},
                 {"Access-Control-Allow-Origin", "*"},
                 {"Access-Control-Allow-Headers", allow},
                 {"Access-Control-Allow-Methods", "PUT"}};
    return conn.Send(r).ok() && req.keep_alive();
  }
  if (req.method == "GET" || req.method == "PUT" || req.method == "CONNECT" ||
      req.method == "HEAD") {
    (void)conn.Send(HttpResponse::Html(
        403, "Forbidden",
        "<html><body><h1>HTTP 403 forbidden</h1>Access to the requested resource is "
        "forbidden.</body></html>",
        {}, ReturnVersion(req)));
    return false;
  }
  (void)conn.Send(HttpResponse::Html(501, "Method not implemented",
                                     "<html><body><h1>HTTP 501 Method Not Implemented</h1><p>" +
                                         req.method + " not supported.<br /></p></body></html>",
                                     {}, ReturnVersion(req)));
  return false;
}

}  // namespace fruix::sim
