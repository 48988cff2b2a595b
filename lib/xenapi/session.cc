#include "lib/xenapi/session.h"

#include <spdlog/spdlog.h>

#include "lib/xenapi/codec.h"

namespace fruix::xenapi {
namespace {

std::string Snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 160)) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

}  // namespace

Session::Session(http::HttpClient& http, SessionOptions options)
    : http_(http), options_(std::move(options)), url_(http::Url::Parse(options_.url)) {}

Session::~Session() {
  bool logged_in;
  {
    std::lock_guard<std::mutex> lock(mu_);
    logged_in = ref_.has_value() && !closed_;
  }
  if (logged_in) {
    auto r = Logout();
    if (!r.ok()) spdlog::debug("XenAPI logout on shutdown failed: {}", r.error().ToString());
  }
}

Result<void> Session::Login() {
  FRUIX_RETURN_IF_ERROR(EnsureSession(std::nullopt));
  return Ok();
}

Result<OpaqueRef> Session::SessionRef() { return EnsureSession(std::nullopt); }

std::string Session::url() const {
  std::lock_guard<std::mutex> lock(mu_);
  return url_.ok() ? url_->ToString() : options_.url;
}

bool Session::logged_in() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ref_.has_value() && !closed_;
}

uint64_t Session::login_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return logins_;
}

Result<OpaqueRef> Session::EnsureSession(const std::optional<OpaqueRef>& stale) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (closed_) return Error::FailedPrecondition("XenAPI session was logged out");
    if (!url_.ok()) return url_.error();
    if (ref_ && (!stale || *ref_ != *stale)) return *ref_;
    if (!login_in_flight_) break;
    // Another thread is logging in: share its outcome.
    uint64_t attempt = login_attempts_;
    login_done_.wait(lock, [&] { return login_attempts_ != attempt; });
    if (last_login_error_) return *last_login_error_;
  }
  login_in_flight_ = true;
  http::Url url = *url_;
  lock.unlock();
  auto login = DoLogin(std::move(url));
  lock.lock();
  login_in_flight_ = false;
  ++login_attempts_;
  bool closed_meanwhile = closed_;
  if (login.ok()) {
    last_login_error_.reset();
    if (!closed_meanwhile) {
      ref_ = login->first;
      url_ = login->second;
      ++logins_;
    }
  } else {
    last_login_error_ = login.error();
    ref_.reset();
  }
  login_done_.notify_all();
  lock.unlock();
  if (!login.ok()) return std::move(login).error();
  if (closed_meanwhile) {
    // Logout() ran while this login was in flight: do not leak the new session.
    (void)Invoke(login->second.ToString(), "session.logout", Array{Value(login->first.str())},
                 options_.login_timeout, {});
    return Error::FailedPrecondition("XenAPI session was logged out");
  }
  return login->first;
}

Result<void> Session::FollowMaster(const OpaqueRef& stale, const std::string& master) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!url_.ok()) return url_.error();
  if (ref_ && *ref_ != stale) return Ok();  // another thread already moved on
  FRUIX_ASSIGN_OR_RETURN(http::Url moved, url_->WithHost(master));
  url_ = std::move(moved);
  ref_.reset();
  return Ok();
}

Result<std::pair<OpaqueRef, http::Url>> Session::DoLogin(http::Url url) {
  for (int hop = 0;; ++hop) {
    Array params{Value(options_.username), Value(options_.password), Value(options_.api_version),
                 Value(options_.originator)};
    auto r =
        Invoke(url.ToString(), "session.login_with_password", params, options_.login_timeout, {});
    if (r.ok()) {
      if (!r->is_string() || r->string().empty()) {
        return Error::Protocol("session.login_with_password returned no session reference: " +
                               r->DebugString(80));
      }
      spdlog::info("XenAPI: logged in to {} as {} (originator {})", url.ToString(),
                   options_.username, options_.originator);
      return std::make_pair(OpaqueRef(r->string()), std::move(url));
    }
    const Error& e = r.error();
    if (!e.IsXapi("HOST_IS_SLAVE") || e.xapi_params().empty()) return e;
    if (hop >= options_.max_redirects) {
      return e.WithContext("gave up after following HOST_IS_SLAVE " + std::to_string(hop) +
                           " times");
    }
    std::string master = e.xapi_params()[0];
    FRUIX_ASSIGN_OR_RETURN(url, url.WithHost(master));
    spdlog::info("XenAPI: {} is a pool member; following HOST_IS_SLAVE to the master {}",
                 options_.url, url.ToString());
  }
}

Result<Value> Session::Call(std::string_view method, Array args, const CallOptions& options) {
  auto timeout = options.timeout.count() > 0 ? options.timeout : options_.call_timeout;
  FRUIX_ASSIGN_OR_RETURN(OpaqueRef ref, EnsureSession(std::nullopt));
  Array params;
  params.reserve(args.size() + 1);
  params.emplace_back(ref.str());
  for (auto& a : args) params.push_back(std::move(a));
  auto r = Invoke(url(), method, params, timeout, options.cancel);
  if (!r.ok() && r.error().IsXapi("HOST_IS_SLAVE") && !r.error().xapi_params().empty()) {
    // The host we talk to stopped being the master: move to the new one, log in there, and
    // retry once.
    std::string master = r.error().xapi_params()[0];
    spdlog::info("XenAPI: {} is no longer the pool master; following HOST_IS_SLAVE to {}",
                 http::RedactUrl(url()), master);
    FRUIX_RETURN_IF_ERROR(FollowMaster(ref, master));
    FRUIX_ASSIGN_OR_RETURN(ref, EnsureSession(ref));
    params[0] = Value(ref.str());
    r = Invoke(url(), method, params, timeout, options.cancel);
  }
  if (r.ok() || !r.error().IsXapi("SESSION_INVALID")) return r;

  spdlog::info("XenAPI: session expired during {}; logging in again", method);
  FRUIX_ASSIGN_OR_RETURN(ref, EnsureSession(ref));
  if (!options.retry_on_session_invalid) return r;
  params[0] = Value(ref.str());
  return Invoke(url(), method, params, timeout, options.cancel);
}

Result<Value> Session::CallAnonymous(std::string_view method, Array args,
                                     const CallOptions& options) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!url_.ok()) return url_.error();
  }
  auto timeout = options.timeout.count() > 0 ? options.timeout : options_.call_timeout;
  return Invoke(url(), method, args, timeout, options.cancel);
}

Result<void> Session::Logout() {
  std::optional<OpaqueRef> ref;
  std::string url;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return Ok();
    closed_ = true;
    ref.swap(ref_);
    url = url_.ok() ? url_->ToString() : options_.url;
  }
  login_done_.notify_all();
  if (!ref) return Ok();
  auto r = Invoke(url, "session.logout", Array{Value(ref->str())}, options_.login_timeout, {});
  if (!r.ok() && !r.error().is_xapi()) return std::move(r).error();
  spdlog::info("XenAPI: logged out of {}", url);
  return Ok();
}

Result<Value> Session::Invoke(const std::string& url, std::string_view method, const Array& params,
                              std::chrono::milliseconds timeout, const std::stop_token& cancel) {
  http::HttpRequest req;
  req.method = http::Method::kPost;
  req.url = url;
  req.headers = {{"Content-Type", "text/xml"}};
  req.body = EncodeCall(method, params);
  req.timeout = timeout;
  req.cancel = cancel;
  spdlog::debug("XenAPI call {}", method);
  auto resp = http_.Send(req);
  std::string name(method);
  if (!resp.ok()) return resp.error().WithContext(name);
  if (resp->status != 200) {
    std::string msg = name + ": " + http::RedactUrl(url) + " answered HTTP " +
                      std::to_string(resp->status) + ": " + Snippet(resp->body);
    if (resp->status == 502 || resp->status == 503 || resp->status == 504) {
      return Error::Unavailable(std::move(msg));
    }
    return Error::Protocol(std::move(msg));
  }
  auto decoded = DecodeResponse(resp->body);
  if (!decoded.ok()) return decoded.error().WithContext(name);
  auto value = UnwrapEnvelope(*decoded);
  if (!value.ok()) return value.error().WithContext(name);
  return value;
}

}  // namespace fruix::xenapi
