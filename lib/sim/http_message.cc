#include "lib/sim/http_message.h"

#include <cctype>
#include <charconv>
#include <cstdio>

#include "lib/sim/record_util.h"

namespace fruix::sim {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<std::string> Lookup(const std::vector<std::pair<std::string, std::string>>& kv,
                                  std::string_view name) {
  for (const auto& [k, v] : kv) {
    if (k == name) return v;
  }
  return std::nullopt;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> HttpRequest::Header(std::string_view name) const {
  std::string want = AsciiLower(name);
  for (const auto& [k, v] : headers) {
    if (AsciiLower(k) == want) return v;
  }
  return std::nullopt;
}

std::optional<std::string> HttpRequest::Query(std::string_view name) const {
  return Lookup(query, name);
}

std::optional<std::string> HttpRequest::Cookie(std::string_view name) const {
  return Lookup(cookies, name);
}

std::optional<std::string> HttpRequest::Param(std::string_view name) const {
  auto q = Query(name);
  return q ? q : Cookie(name);
}

std::optional<uint64_t> HttpRequest::content_length() const {
  auto h = Header("content-length");
  if (!h) return std::nullopt;
  std::string_view s = Trim(*h);
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return n;
}

bool HttpRequest::keep_alive() const {
  std::string c = AsciiLower(Header("connection").value_or(""));
  if (is_http10()) return c == "keep-alive";
  return c != "close";
}

std::string HttpResponse::Serialize() const {
  std::string out = "HTTP/" + version + " " + std::to_string(status) + " " + reason + "\r\n";
  if (with_content_length) out += "content-length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

HttpResponse HttpResponse::Html(int status, std::string reason, std::string body, HeaderList extra,
                                std::string version) {
  HttpResponse r;
  r.version = std::move(version);
  r.status = status;
  r.reason = std::move(reason);
  r.headers = {{"content-type", "text/html"},
               {"connection", "close"},
               {"cache-control", "no-cache, no-store"}};
  for (auto& h : extra) r.headers.push_back(std::move(h));
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::InternalError(std::string extra_html) {
  std::string body =
      "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please "
      "wait a while and try again. If the problem persists, please contact your support "
      "representative.";
  if (!extra_html.empty()) body += "<h1> Additional information </h1>" + extra_html;
  body += "</body></html>";
  return Html(500, "Internal Error", std::move(body));
}

HttpResponse HttpResponse::Bare(int status, std::string reason, HeaderList headers,
                                std::string version) {
  HttpResponse r;
  r.version = std::move(version);
  r.status = status;
  r.reason = std::move(reason);
  r.with_content_length = false;
  r.headers = std::move(headers);
  return r;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(PercentDecode(part), "");
    } else {
      out.emplace_back(PercentDecode(part.substr(0, eq)), PercentDecode(part.substr(eq + 1)));
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseCookies(std::string_view header) {
  char sep = header.find(';') != std::string_view::npos ? ';' : '&';
  std::vector<std::pair<std::string, std::string>> out;
  while (!header.empty()) {
    size_t p = header.find(sep);
    std::string_view part = Trim(header.substr(0, p));
    header = p == std::string_view::npos ? std::string_view() : header.substr(p + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace_back(std::string(Trim(part.substr(0, eq))), std::string(part.substr(eq + 1)));
  }
  return out;
}

Result<HttpRequest> ParseRequestHead(std::string_view head) {
  HttpRequest r;
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
    return Error::Protocol("malformed request line");
  }
  r.method = std::string(line.substr(0, sp1));
  r.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  r.version = std::string(Trim(line.substr(sp2 + 1)));
  if (r.version != "HTTP/1.1" && r.version != "HTTP/1.0") {
    return Error::Protocol("unsupported HTTP version " + r.version);
  }
  std::string_view target = r.target;
  // Absolute form (xe's CONNECT sends the console location URL).
  if (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://") {
    size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    r.raw_query = std::string(target.substr(q + 1));
    r.query = ParseQueryString(r.raw_query);
  }
  while (!rest.empty()) {
    size_t e = rest.find("\r\n");
    std::string_view h = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    if (h.empty()) continue;
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return Error::Protocol("malformed header");
    r.headers.emplace_back(std::string(Trim(h.substr(0, colon))),
                           std::string(Trim(h.substr(colon + 1))));
  }
  for (const auto& [k, v] : r.headers) {
    if (AsciiLower(k) == "cookie") {
      for (auto& c : ParseCookies(v)) r.cookies.push_back(std::move(c));
    }
  }
  return r;
}

std::string EscapeHtml(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace fruix::sim
