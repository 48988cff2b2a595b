#include "lib/http/http_client.h"

#include <strings.h>

namespace fruix::http {

const std::string* HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  }
  return nullptr;
}

Result<std::unique_ptr<ByteStream>> HttpClient::Connect(const ConnectRequest& request) {
  return Error::Internal("CONNECT to " + RedactUrl(request.url) + ": not supported by this client");
}

std::string RedactUrl(std::string_view url) {
  size_t cut = url.find_first_of("?#");
  if (cut == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, cut));
}

}  // namespace fruix::http
