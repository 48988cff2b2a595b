// The only translation unit that includes libcurl.
#include "lib/http/curl_http_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <vector>

#include "lib/http/url.h"

namespace fruix::http {
namespace {

// State of one pinned handshake, reachable from OpenSSL's verify callback through SSL_CTX ex_data.
// Lives on the stack of Send() for the duration of curl_easy_perform().
struct PinCheck {
  Sha256Fingerprint expected{};
  bool checked = false;
  bool matched = false;
  Sha256Fingerprint actual{};
};

int PinExDataIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Called by OpenSSL for every certificate of the peer's chain. Intermediate certificates are
// accepted unconditionally; the leaf passes only if its fingerprint equals the pin.
int PinVerifyCallback(int /*preverify_ok*/, X509_STORE_CTX* store) {
  if (X509_STORE_CTX_get_error_depth(store) > 0) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (ssl == nullptr || cert == nullptr) return 0;
  auto* pin = static_cast<PinCheck*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), PinExDataIndex()));
  if (pin == nullptr) return 0;
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), pin->actual.data(), &len) != 1 || len != pin->actual.size()) {
    return 0;
  }
  pin->checked = true;
  pin->matched = pin->actual == pin->expected;
  if (!pin->matched) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

CURLcode SslCtxCallback(CURL* /*curl*/, void* ssl_ctx, void* userptr) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  if (SSL_CTX_set_ex_data(ctx, PinExDataIndex(), userptr) != 1) return CURLE_SSL_CERTPROBLEM;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, PinVerifyCallback);
  return CURLE_OK;
}

struct Transfer {
  HttpResponse response;
  size_t max_body = 0;
  bool oversized = false;
  const std::stop_token* cancel = nullptr;
};

size_t WriteCallback(char* data, size_t size, size_t nmemb, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  size_t n = size * nmemb;
  if (t->response.body.size() + n > t->max_body) {
    t->oversized = true;
    return 0;  // aborts with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, n);
  return n;
}

size_t HeaderCallback(char* data, size_t size, size_t nmemb, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  size_t n = size * nmemb;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    t->response.headers.clear();  // a new response block (after 1xx or a proxy response)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  t->response.headers.emplace_back(std::move(name), std::string(value));
  return n;
}

// Streamed PUT body: pulls from the request's BodySource, remembering its error.
struct Upload {
  const BodySource* source = nullptr;
  uint64_t remaining = 0;
  std::optional<Error> error;
};

size_t ReadCallback(char* buffer, size_t size, size_t nitems, void* userp) {
  auto* up = static_cast<Upload*>(userp);
  size_t want = size * nitems;
  if (want > up->remaining) want = static_cast<size_t>(up->remaining);
  if (want == 0) return 0;
  auto got = (*up->source)(std::span<uint8_t>(reinterpret_cast<uint8_t*>(buffer), want));
  if (!got.ok()) {
    up->error = got.error();
    return CURL_READFUNC_ABORT;
  }
  if (*got == 0) {
    up->error = Error::Transport("request body ended " + std::to_string(up->remaining) +
                                 " bytes before its Content-Length");
    return CURL_READFUNC_ABORT;
  }
  up->remaining -= *got;
  return *got;
}

int ProgressCallback(void* userp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(userp);
  return t->cancel->stop_requested() ? 1 : 0;
}

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

struct CurlHttpClient::Impl {
  CurlHttpClientOptions options;
  std::optional<Sha256Fingerprint> pin;

  std::mutex mu;
  std::vector<CURL*> idle;  // guarded by mu

  ~Impl() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }

  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }

  void Release(CURL* h) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (idle.size() < options.max_idle_handles) {
        idle.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }

  Result<HttpResponse> Perform(CURL* h, const HttpRequest& req);
  // Sets the TLS options of tls_options.h on `h`; `pin_check` must outlive the handshake.
  void ApplyTlsPolicy(CURL* h, PinCheck* pin_check) const;
  // The Error for a failed curl call (`code` is a CURLcode); `verb` prefixes the message
  // ("HTTP request to ", "CONNECT to ").
  Error Failure(int code, const char* errbuf, const std::string& where, std::string_view verb,
                const PinCheck& pin_check) const;
};

CurlHttpClient::CurlHttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CurlHttpClient::~CurlHttpClient() = default;

Result<std::unique_ptr<CurlHttpClient>> CurlHttpClient::Create(CurlHttpClientOptions options) {
  GlobalInitOnce();
  FRUIX_RETURN_IF_ERROR(ValidateTlsOptions(options.tls));
  auto impl = std::make_unique<Impl>();
  if (!options.tls.pin_sha256.empty()) {
    FRUIX_ASSIGN_OR_RETURN(impl->pin, ParseSha256Fingerprint(options.tls.pin_sha256));
  }
  if (!options.tls.ca_file.empty() && !std::ifstream(options.tls.ca_file).good()) {
    return Error::InvalidArgument("TLS CA file '" + options.tls.ca_file + "' cannot be read");
  }
  if (options.tls.pin_sha256.empty() && (options.tls.insecure || !options.tls.verify)) {
    spdlog::warn(
        "TLS certificate verification is DISABLED (insecure mode): any host can impersonate the "
        "XenAPI server; prefer a certificate pin (pin_sha256)");
  }
  if (options.max_idle_handles == 0) options.max_idle_handles = 1;
  impl->options = std::move(options);
  return std::unique_ptr<CurlHttpClient>(new CurlHttpClient(std::move(impl)));
}

Result<HttpResponse> CurlHttpClient::Send(const HttpRequest& request) {
  CURL* h = impl_->Acquire();
  if (h == nullptr) return Error::Internal("curl_easy_init failed");
  auto result = impl_->Perform(h, request);
  impl_->Release(h);
  return result;
}

Result<HttpResponse> CurlHttpClient::Impl::Perform(CURL* h, const HttpRequest& req) {
  const std::string where = RedactUrl(req.url);
  // Reset options but keep the handle's live connections, DNS and TLS session caches.
  curl_easy_reset(h);

  Transfer transfer;
  transfer.max_body = options.max_response_bytes;
  transfer.cancel = &req.cancel;
  PinCheck pin_check;
  Upload upload;
  char errbuf[CURL_ERROR_SIZE] = {0};

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next != nullptr) {
      (void)headers.release();
      headers.reset(next);
    }
  };
  for (const auto& [k, v] : req.headers) add_header(k + ": " + v);
  add_header("Expect:");  // no 100-continue round trip

  auto ms = [](std::chrono::milliseconds v, std::chrono::milliseconds dflt) {
    return static_cast<long>((v.count() > 0 ? v : dflt).count());
  };

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms(req.connect_timeout, options.connect_timeout));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms(req.timeout, options.timeout));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, HeaderCallback);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  if (req.cancel.stop_possible()) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, ProgressCallback);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
  }
  switch (req.method) {
    case Method::kGet:
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
      break;
    case Method::kPost:
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      break;
    case Method::kPut:
      if (!req.body_source) return Error::InvalidArgument("PUT to " + where + " without a body");
      upload.source = &req.body_source;
      upload.remaining = req.body_length;
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadCallback);
      curl_easy_setopt(h, CURLOPT_READDATA, &upload);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_length));
      curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
      break;
  }

  ApplyTlsPolicy(h, &pin_check);

  CURLcode rc = curl_easy_perform(h);
  // The handle outlives `headers`, `transfer` and `pin_check`: drop every pointer to them.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);

  if (rc == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    transfer.response.status = static_cast<int>(status);
    return std::move(transfer.response);
  }

  if (upload.error) return upload.error->WithContext("PUT to " + where);
  if (rc == CURLE_WRITE_ERROR && transfer.oversized) {
    return Error::Protocol("HTTP response from " + where + " exceeds " +
                           std::to_string(options.max_response_bytes) + " bytes");
  }
  return Failure(rc, errbuf, where, "HTTP request to ", pin_check);
}

void CurlHttpClient::Impl::ApplyTlsPolicy(CURL* h, PinCheck* pin_check) const {
  if (pin) {
    pin_check->expected = *pin;
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);  // replaced by the pin callback
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);  // a resumed session skips verification
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, SslCtxCallback);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, pin_check);
  } else if (options.tls.insecure || !options.tls.verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options.tls.ca_file.empty()) {
      curl_easy_setopt(h, CURLOPT_CAINFO, options.tls.ca_file.c_str());
    }
  }
}

Error CurlHttpClient::Impl::Failure(int code, const char* errbuf, const std::string& where,
                                    std::string_view verb, const PinCheck& pin_check) const {
  auto rc = static_cast<CURLcode>(code);
  std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  if (pin && pin_check.checked && !pin_check.matched) {
    return Error::Tls("TLS certificate pin mismatch for " + where + ": expected SHA-256 " +
                      FormatSha256Fingerprint(pin_check.expected) + ", server presented " +
                      FormatSha256Fingerprint(pin_check.actual));
  }
  std::string msg = where + ": " + detail;
  std::string prefix(verb);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return Error::Timeout(prefix + msg);
    case CURLE_ABORTED_BY_CALLBACK:
      return Error::Cancelled(prefix + where + " cancelled");
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return Error::Unavailable(prefix + msg);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
      return Error::Tls("TLS failure for " + msg);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error::InvalidArgument("bad URL " + msg);
    default:
      return Error::Transport(prefix + msg);
  }
}

namespace {

using SteadyClock = std::chrono::steady_clock;

// Milliseconds until `deadline`, at least 0, rounded up so a wait never ends early.
int MillisUntil(SteadyClock::time_point deadline) {
  auto left = deadline - SteadyClock::now();
  if (left <= SteadyClock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
}

// Waits until `fd` is ready for `events` or `ms` passed; true when ready (or in error, which the
// next curl call reports).
bool PollFd(curl_socket_t fd, short events, int ms) {
  pollfd p{};
  p.fd = fd;
  p.events = events;
  for (;;) {
    int n = ::poll(&p, 1, ms);
    if (n >= 0) return n > 0;
    if (errno != EINTR) return true;
  }
}

constexpr size_t kMaxConnectHead = 16 * 1024;
constexpr auto kWriteStallLimit = std::chrono::seconds(10);

// A CONNECT tunnel on a curl handle that was connected with CURLOPT_CONNECT_ONLY.
class CurlByteStream final : public ByteStream {
 public:
  CurlByteStream(CURL* h, std::unique_ptr<PinCheck> pin_check, std::string where)
      : h_(h), pin_check_(std::move(pin_check)), where_(std::move(where)) {}
  ~CurlByteStream() override { Close(); }
  CurlByteStream(const CurlByteStream&) = delete;
  CurlByteStream& operator=(const CurlByteStream&) = delete;

  // Bytes that arrived with the reply head; Read returns them first.
  void set_pending(std::string bytes) { pending_ = std::move(bytes); }

  Result<size_t> Read(std::span<char> buf, std::chrono::milliseconds wait) override {
    if (!pending_.empty()) {
      size_t n = std::min(buf.size(), pending_.size());
      std::memcpy(buf.data(), pending_.data(), n);
      pending_.erase(0, n);
      return n;
    }
    if (h_ == nullptr) return Error::Unavailable("tunnel to " + where_ + " is closed");
    if (buf.empty()) return size_t{0};
    auto deadline = SteadyClock::now() + wait;
    for (;;) {
      size_t n = 0;
      CURLcode rc = curl_easy_recv(h_, buf.data(), buf.size(), &n);
      if (rc == CURLE_OK) {
        if (n > 0) return n;
        Close();
        return Error::Unavailable("tunnel to " + where_ + " closed by the peer");
      }
      if (rc != CURLE_AGAIN) {
        Close();
        return Error::Unavailable("tunnel to " + where_ + ": " + curl_easy_strerror(rc));
      }
      int ms = MillisUntil(deadline);
      if (ms == 0) return size_t{0};
      if (!PollFd(Socket(), POLLIN, ms) && SteadyClock::now() >= deadline) return size_t{0};
    }
  }

  Result<void> Write(std::span<const char> data) override {
    if (h_ == nullptr) return Error::Unavailable("tunnel to " + where_ + " is closed");
    return SendAll(h_, Socket(), data, where_);
  }

  void Close() override {
    if (h_ != nullptr) {
      curl_easy_cleanup(h_);
      h_ = nullptr;
    }
  }

  // Sends all of `data` on a CONNECT_ONLY handle, waiting on a stalled socket up to the limit.
  static Result<void> SendAll(CURL* h, curl_socket_t fd, std::span<const char> data,
                              const std::string& where) {
    auto deadline = SteadyClock::now() + kWriteStallLimit;
    while (!data.empty()) {
      size_t n = 0;
      CURLcode rc = curl_easy_send(h, data.data(), data.size(), &n);
      if (rc == CURLE_OK) {
        data = data.subspan(n);
        deadline = SteadyClock::now() + kWriteStallLimit;
        continue;
      }
      if (rc != CURLE_AGAIN) {
        return Error::Unavailable("sending to " + where + ": " + curl_easy_strerror(rc));
      }
      int ms = MillisUntil(deadline);
      if (ms == 0) return Error::Timeout("sending to " + where + ": the peer stopped reading");
      PollFd(fd, POLLOUT, ms);
    }
    return Ok();
  }

 private:
  curl_socket_t Socket() const {
    curl_socket_t fd = CURL_SOCKET_BAD;
    curl_easy_getinfo(h_, CURLINFO_ACTIVESOCKET, &fd);
    return fd;
  }

  CURL* h_;
  std::unique_ptr<PinCheck> pin_check_;  // referenced by the handle's SSL_CTX while it lives
  std::string where_;
  std::string pending_;
};

int CancelProgressCallback(void* userp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::stop_token*>(userp)->stop_requested() ? 1 : 0;
}

// The Error for a non-200 CONNECT reply.
Error ConnectStatusError(int status, const std::string& status_line, const std::string& where) {
  std::string msg = "CONNECT to " + where + " answered \"" + status_line + "\"";
  switch (status) {
    case 404:
      return Error::NotFound(msg);
    case 401:
    case 403:
      return Error::PermissionDenied(msg);
    case 503:
      return Error::Unavailable(msg);
    case 500:
      return Error::FailedPrecondition(msg + " (the VM is not running on this host?)");
    default:
      return Error::Transport(msg);
  }
}

}  // namespace

Result<std::unique_ptr<ByteStream>> CurlHttpClient::Connect(const ConnectRequest& request) {
  const std::string where = RedactUrl(request.url);
  auto url = Url::Parse(request.url);
  if (!url.ok()) return url.error().WithContext("CONNECT");
  std::string target = url->path().empty() ? "/" : url->path();
  if (target.front() != '/') target.insert(target.begin(), '/');
  if (target.find_first_of("\r\n ") != std::string::npos) {
    return Error::InvalidArgument("CONNECT to " + where + ": the target contains white space");
  }
  if (request.cancel.stop_requested())
    return Error::Cancelled("CONNECT to " + where + " cancelled");

  const auto timeout = request.connect_timeout.count() > 0 ? request.connect_timeout
                                                           : impl_->options.connect_timeout;
  const auto deadline = SteadyClock::now() + timeout;

  CURL* h = curl_easy_init();
  if (h == nullptr) return Error::Internal("curl_easy_init failed");
  auto pin_check = std::make_unique<PinCheck>();
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::stop_token cancel = request.cancel;
  auto fail = [&](Error e) -> Result<std::unique_ptr<ByteStream>> {
    curl_easy_cleanup(h);
    return e;
  };

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
  if (cancel.stop_possible()) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, CancelProgressCallback);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &cancel);
  }
  impl_->ApplyTlsPolicy(h, pin_check.get());

  CURLcode rc = curl_easy_perform(h);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, nullptr);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, nullptr);
  if (rc != CURLE_OK) return fail(impl_->Failure(rc, errbuf, where, "CONNECT to ", *pin_check));
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD) {
    return fail(Error::Internal("CONNECT to " + where + ": no socket after connecting"));
  }

  // The request head, as xe sends it (xenapi-spec.md §7), plus Host unless the caller set one.
  std::string head = "CONNECT " + target + " HTTP/1.0\r\n";
  bool has_host = false;
  for (const auto& [k, v] : request.headers) {
    if (k.size() == 4 && strncasecmp(k.data(), "host", 4) == 0) has_host = true;
  }
  if (!has_host) {
    std::string host =
        url->host().find(':') != std::string::npos ? "[" + url->host() + "]" : url->host();
    if (!url->port().empty()) host += ":" + url->port();
    head += "Host: " + host + "\r\n";
  }
  for (const auto& [k, v] : request.headers) head += k + ": " + v + "\r\n";
  head += "\r\n";
  auto sent = CurlByteStream::SendAll(h, fd, head, where);
  if (!sent.ok()) return fail(sent.error().WithContext("CONNECT"));

  // The reply head, up to and including the blank line; what follows belongs to the tunnel.
  std::string reply;
  size_t head_end = std::string::npos;
  size_t sep_len = 0;
  char buf[4096];
  while (head_end == std::string::npos) {
    if (cancel.stop_requested())
      return fail(Error::Cancelled("CONNECT to " + where + " cancelled"));
    size_t n = 0;
    rc = curl_easy_recv(h, buf, sizeof(buf), &n);
    if (rc == CURLE_OK && n == 0) {
      return fail(Error::Unavailable("CONNECT to " + where +
                                     ": connection closed before the reply head ended"));
    }
    if (rc == CURLE_OK) {
      size_t scan_from = reply.size() >= 3 ? reply.size() - 3 : 0;
      reply.append(buf, n);
      size_t crlf = reply.find("\r\n\r\n", scan_from);
      size_t lf = reply.find("\n\n", scan_from);
      if (crlf != std::string::npos && (lf == std::string::npos || crlf < lf)) {
        head_end = crlf;
        sep_len = 4;
      } else if (lf != std::string::npos) {
        head_end = lf;
        sep_len = 2;
      } else if (reply.size() > kMaxConnectHead) {
        return fail(Error::Protocol("CONNECT to " + where + ": reply head exceeds " +
                                    std::to_string(kMaxConnectHead) + " bytes"));
      }
      continue;
    }
    if (rc != CURLE_AGAIN) {
      return fail(Error::Unavailable("CONNECT to " + where + ": " + curl_easy_strerror(rc)));
    }
    int ms = MillisUntil(deadline);
    if (ms == 0) {
      return fail(Error::Timeout("CONNECT to " + where + ": no reply head within " +
                                 std::to_string(timeout.count()) + " ms"));
    }
    PollFd(fd, POLLIN, std::min(ms, 100));
  }
  if (head_end > kMaxConnectHead) {
    return fail(Error::Protocol("CONNECT to " + where + ": reply head exceeds " +
                                std::to_string(kMaxConnectHead) + " bytes"));
  }

  std::string status_line = reply.substr(0, reply.find('\n'));
  if (!status_line.empty() && status_line.back() == '\r') status_line.pop_back();
  int status = 0;
  if (status_line.starts_with("HTTP/1.") && status_line.size() >= 12 && status_line[8] == ' ' &&
      std::isdigit(static_cast<unsigned char>(status_line[9])) &&
      std::isdigit(static_cast<unsigned char>(status_line[10])) &&
      std::isdigit(static_cast<unsigned char>(status_line[11])) &&
      (status_line.size() == 12 || status_line[12] == ' ')) {
    status = std::stoi(status_line.substr(9, 3));
  } else {
    std::string shown = status_line.substr(0, 80);
    for (char& c : shown) {
      if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
    }
    return fail(
        Error::Protocol("CONNECT to " + where + ": malformed status line \"" + shown + "\""));
  }
  if (status != 200) return fail(ConnectStatusError(status, status_line, where));

  auto stream = std::make_unique<CurlByteStream>(h, std::move(pin_check), where);
  stream->set_pending(reply.substr(head_end + sep_len));
  return std::unique_ptr<ByteStream>(std::move(stream));
}

}  // namespace fruix::http
