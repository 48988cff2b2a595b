// xenapi::Session — one authenticated XenAPI session to a pool, shared by every caller.
//
// Owns the session reference and the current coordinator URL; borrows an http::HttpClient (which
// must outlive it). Created by whoever owns the pool connection (the daemon's backend); logs in
// lazily on the first call, or explicitly with Login().
//
// Behaviour (xenapi-spec.md §2, §10):
//   - session.login_with_password(user, password, api_version, originator) with originator
//     "fruixd" by default; the password is never logged or put in an error message.
//   - HOST_IS_SLAVE [master] on login: the URL's host is replaced by the master's address (scheme
//     and port kept, bare IPv6 bracketed) and login retried, at most max_redirects times.
//   - SESSION_INVALID on a call: the session is renewed (one login even if many threads see the
//     error at once) and the call retried once; a second SESSION_INVALID is returned as is.
//   - XenAPI failures come back as Error::Xapi with xapi's code and parameters; the message is
//     prefixed with the method name.
//   - Logout() ends the session for good (later calls fail with kFailedPrecondition); the
//     destructor logs out best-effort if still logged in.
//
// Threads: every method is safe from any thread; calls run concurrently (each on its own HTTP
// connection) and no lock is held across network I/O. Callers that need a session while a login
// is in flight wait for that login and share its outcome.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "lib/core/ids.h"
#include "lib/core/result.h"
#include "lib/http/http_client.h"
#include "lib/http/url.h"
#include "lib/xenapi/value.h"

namespace fruix::xenapi {

struct SessionOptions {
  std::string url;  // "https://host[:port]/": the pool coordinator (or any member; see above)
  std::string username;
  std::string password;
  std::string originator = "fruixd";
  std::string api_version = "2.15";  // informational for xapi (XCP-ng 8.2 speaks 2.15)
  std::chrono::milliseconds call_timeout{std::chrono::seconds(60)};   // default per call
  std::chrono::milliseconds login_timeout{std::chrono::seconds(30)};  // login and logout
  int max_redirects = 3;  // HOST_IS_SLAVE hops followed on login
};

// One XenAPI method invocation, without the session argument.
struct Invocation {
  std::string method;  // "VM.start"
  Array args;          // parameters after the session reference
};

struct CallOptions {
  // Total time for the HTTP exchange; zero = SessionOptions::call_timeout.
  std::chrono::milliseconds timeout{0};
  // When false, a SESSION_INVALID still renews the session but is returned to the caller instead
  // of retrying the call (event.from restarts its token from scratch after that).
  bool retry_on_session_invalid = true;
  std::stop_token cancel;  // abandons the HTTP exchange (kCancelled)
};

class Session {
 public:
  // Does no I/O. kInvalidArgument from Login()/Call() if options.url is malformed.
  Session(http::HttpClient& http, SessionOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Logs in if not logged in yet. Errors: the login failure (e.g. Xapi
  // SESSION_AUTHENTICATION_FAILED, HOST_IS_SLAVE after max_redirects hops), transport errors,
  // kFailedPrecondition after Logout().
  Result<void> Login();

  // Calls `method` with the session reference prepended to `args` and returns xapi's Value.
  // Logs in first if needed. See the class comment for SESSION_INVALID handling.
  Result<Value> Call(std::string_view method, Array args, const CallOptions& options = {});
  Result<Value> Call(const Invocation& call, const CallOptions& options = {}) {
    return Call(call.method, call.args, options);
  }

  // Calls a method that takes no session (e.g. "system.listMethods").
  Result<Value> CallAnonymous(std::string_view method, Array args, const CallOptions& options = {});

  // The current session reference, logging in if needed; for HTTP handlers that take a
  // session_id query parameter (/import_raw_vdi, /console).
  Result<OpaqueRef> SessionRef();

  // Logs out (errors from xapi are ignored except transport ones, which are returned) and closes
  // the session for good. Idempotent.
  Result<void> Logout();

  // The URL in use, after any HOST_IS_SLAVE redirect.
  std::string url() const;
  bool logged_in() const;
  // How many successful logins this session made (1 + re-logins); for tests and metrics.
  uint64_t login_count() const;

 private:
  // Returns a valid session reference. If the current reference is `stale` (or there is none),
  // logs in again; concurrent callers share the one login in flight and its outcome.
  Result<OpaqueRef> EnsureSession(const std::optional<OpaqueRef>& stale);
  // After a call on `stale` answered HOST_IS_SLAVE [master] (the pool master moved while the
  // session was open), points the session at `master` (same scheme and port) and forgets `stale`,
  // unless another thread already did. The next EnsureSession logs in at the new master.
  Result<void> FollowMaster(const OpaqueRef& stale, const std::string& master);
  // Performs login_with_password, following HOST_IS_SLAVE. Called without mu_ held.
  Result<std::pair<OpaqueRef, http::Url>> DoLogin(http::Url url);
  // One XML-RPC round trip; never retries.
  Result<Value> Invoke(const std::string& url, std::string_view method, const Array& params,
                       std::chrono::milliseconds timeout, const std::stop_token& cancel);

  http::HttpClient& http_;
  const SessionOptions options_;

  mutable std::mutex mu_;
  std::condition_variable login_done_;
  Result<http::Url> url_;                  // guarded by mu_
  std::optional<OpaqueRef> ref_;           // guarded by mu_; set while logged in
  bool login_in_flight_ = false;           // guarded by mu_
  uint64_t login_attempts_ = 0;            // guarded by mu_; bumped when a login attempt ends
  std::optional<Error> last_login_error_;  // guarded by mu_; outcome of the last attempt
  uint64_t logins_ = 0;                    // guarded by mu_
  bool closed_ = false;                    // guarded by mu_
};

}  // namespace fruix::xenapi
