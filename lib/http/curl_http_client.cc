// The only translation unit that includes libcurl.
#include "lib/http/curl_http_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <vector>

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

  // TLS policy (tls_options.h).
  if (pin) {
    pin_check.expected = *pin;
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);  // replaced by the pin callback
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);  // a resumed session skips verification
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, SslCtxCallback);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, &pin_check);
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
  std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  if (pin && pin_check.checked && !pin_check.matched) {
    return Error::Tls("TLS certificate pin mismatch for " + where + ": expected SHA-256 " +
                      FormatSha256Fingerprint(pin_check.expected) + ", server presented " +
                      FormatSha256Fingerprint(pin_check.actual));
  }
  std::string msg = where + ": " + detail;
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return Error::Timeout("HTTP request to " + msg);
    case CURLE_ABORTED_BY_CALLBACK:
      return Error::Cancelled("HTTP request to " + where + " cancelled");
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return Error::Unavailable("HTTP request to " + msg);
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
    case CURLE_WRITE_ERROR:
      if (transfer.oversized) {
        return Error::Protocol("HTTP response from " + where + " exceeds " +
                               std::to_string(options.max_response_bytes) + " bytes");
      }
      return Error::Transport("HTTP request to " + msg);
    default:
      return Error::Transport("HTTP request to " + msg);
  }
}

}  // namespace fruix::http
