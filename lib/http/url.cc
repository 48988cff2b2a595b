#include "lib/http/url.h"

#include <algorithm>
#include <cctype>

namespace fruix::http {
namespace {

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsIpv6Char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '%';
}

// Validates a host without brackets: an IPv6 literal (contains ':') or a name / IPv4 address.
bool ValidHost(std::string_view host) {
  if (host.empty()) return false;
  if (host.find(':') != std::string_view::npos) {
    return std::all_of(host.begin(), host.end(), IsIpv6Char);
  }
  return std::all_of(host.begin(), host.end(), IsHostChar);
}

}  // namespace

Result<Url> Url::Parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error::InvalidArgument("invalid URL '" + std::string(text.substr(0, 200)) +
                                  "': " + std::string(why));
  };
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad("expected scheme://host");
  Url url;
  url.scheme_ = std::string(text.substr(0, sep));
  std::transform(url.scheme_.begin(), url.scheme_.end(), url.scheme_.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (url.scheme_ != "http" && url.scheme_ != "https") return bad("scheme must be http or https");
  std::string_view rest = text.substr(sep + 3);
  size_t path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  if (path_at != std::string_view::npos) url.path_ = std::string(rest.substr(path_at));
  if (authority.find('@') != std::string_view::npos) return bad("user info is not allowed");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated '[' in host");
    url.host_ = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after ']'");
      port = after.substr(1);
    }
    if (url.host_.find(':') == std::string::npos) return bad("brackets around a non-IPv6 host");
  } else {
    size_t colon = authority.find(':');
    url.host_ = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (!ValidHost(url.host_)) return bad("missing or malformed host");
  if (!port.empty()) {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return bad("malformed port");
    }
    if (std::stoi(std::string(port)) > 65535) return bad("port out of range");
    url.port_ = std::string(port);
  }
  return url;
}

Result<Url> Url::WithHost(std::string_view host) const {
  std::string_view h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (!ValidHost(h)) {
    return Error::InvalidArgument("invalid host '" + std::string(host.substr(0, 200)) + "'");
  }
  Url copy = *this;
  copy.host_ = std::string(h);
  return copy;
}

std::string Url::ToString() const {
  std::string out = scheme_ + "://";
  if (host_.find(':') != std::string::npos) {
    out += '[';
    out += host_;
    out += ']';
  } else {
    out += host_;
  }
  if (!port_.empty()) {
    out += ':';
    out += port_;
  }
  out += path_;
  return out;
}

}  // namespace fruix::http
