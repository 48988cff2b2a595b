// daemon::PoolRegistry — the backend's connections to XCP-ng pools: per configured pool, one
// HTTP client (the pool's TLS policy) and one shared xenapi::Session (logged in on first use,
// renewed by the Session itself on SESSION_INVALID, so jobs reuse one session per pool).
//
// A connection is handed out as shared_ptr: a job keeps the one it started with even if SIGHUP
// changes the pool's configuration (the registry then makes a new connection for new jobs; the
// old one logs out when its last job lets go). A failed login is not cached: the next Get()
// re-reads the password and tries again, and Health() reports the error until then.
//
// Threads: every method is safe from any thread. Get() logs in (network I/O) without holding the
// registry's lock across it (one login per pool at a time; concurrent callers for that pool wait
// for it): call it from a worker thread, never from the event loop.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "lib/core/result.h"
#include "lib/http/http_client.h"
#include "lib/xenapi/session.h"
#include "proto/messages.h"

namespace fruix::daemon {

struct PoolConnection {
  PoolConfig config;
  std::unique_ptr<http::HttpClient> http;    // XML-RPC, uploads, console tunnels
  std::unique_ptr<xenapi::Session> session;  // declared after http: destroyed (logged out) first
  ~PoolConnection();
};

class PoolRegistry {
 public:
  using PasswordFn = std::function<Result<std::string>(const PoolConfig&)>;
  // `password` reads a pool's password (ReadPoolPassword by default; tests inject one).
  explicit PoolRegistry(PasswordFn password = ReadPoolPassword);
  ~PoolRegistry();

  // The logged-in connection for `pool`. Errors: the password's, the HTTP client's
  // (kInvalidArgument for a bad TLS setup) and the login's (Error::Xapi SESSION_AUTHENTICATION_
  // FAILED, kUnavailable, kTls ...), each prefixed with "pool NAME: ".
  Result<std::shared_ptr<PoolConnection>> Get(const PoolConfig& pool);

  // One entry per pool of `config`: connected, idle (never used) or error (the last login error).
  std::vector<proto::PoolHealth> Health(const Config& config) const;

  // Drops every connection (each logs out when its last user lets go). For shutdown.
  void Clear();

 private:
  struct Entry {
    std::string key;  // the configuration it was made with
    std::shared_ptr<PoolConnection> connection;
    std::string last_error;
    std::optional<Error> failure;  // the last attempt's error, if it failed
    uint64_t attempts = 0;         // logins tried (for callers that waited on one)
  };
  PasswordFn password_;
  mutable std::mutex mu_;
  std::condition_variable connected_;  // a login ended
  std::map<std::string, Entry, std::less<>> pools_;
  std::set<std::string> connecting_;  // pools whose login is in flight
};

}  // namespace fruix::daemon
