// http::Url — an absolute http(s) URL split into the parts fruixd rewrites: following xapi's
// HOST_IS_SLAVE or a 302 to another pool member replaces only the host and keeps scheme, port and
// path. A plain value type (no thread affinity). User info ("user@") is rejected: credentials never
// travel in URLs here.
#pragma once

#include <string>
#include <string_view>

#include "lib/core/result.h"

namespace fruix::http {

class Url {
 public:
  // Parses "scheme://host[:port][/path[?query]]". The scheme must be http or https (case-
  // insensitive, stored lower-case); an IPv6 host must be bracketed ("[fe80::1]"). kInvalidArgument
  // on anything else.
  static Result<Url> Parse(std::string_view text);

  const std::string& scheme() const { return scheme_; }
  // Host without brackets ("fe80::1", "10.0.0.1", "xcp1.lan").
  const std::string& host() const { return host_; }
  // Port as written, "" when absent (the scheme default applies).
  const std::string& port() const { return port_; }
  // Path and query as written, "" when absent.
  const std::string& path() const { return path_; }

  // A copy with the host replaced. `host` may be a name, an IPv4 address, or an IPv6 address bare
  // or bracketed (xapi reports bare IPv6 master addresses); kInvalidArgument if empty or malformed.
  Result<Url> WithHost(std::string_view host) const;

  // "scheme://host[:port]path", IPv6 hosts bracketed.
  std::string ToString() const;

 private:
  std::string scheme_;
  std::string host_;
  std::string port_;
  std::string path_;
};

}  // namespace fruix::http
