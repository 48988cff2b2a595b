// sim::RequestContext — which simulated host received a request and how (the local address the
// connection arrived on picks the host). Built by the HTTP layer per request; a plain value.
#pragma once

#include <cstdint>
#include <string>

namespace fruix::sim {

struct RequestContext {
  std::string host_ref;       // the simulated host that received the request
  std::string local_address;  // e.g. "127.0.0.2"
  uint16_t local_port = 0;    // the port it arrived on (kept in redirects)
  bool tls = false;           // arrived on the HTTPS listener
  std::string peer;           // "addr:port" of the client, for logs

  std::string scheme() const { return tls ? "https" : "http"; }
};

}  // namespace fruix::sim
