#include "lib/http/tls_options.h"

#include <cctype>

namespace fruix::http {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<Sha256Fingerprint> ParseSha256Fingerprint(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  for (std::string_view prefix : {"sha256 fingerprint=", "sha256//", "sha256:"}) {
    if (StartsWithNoCase(s, prefix)) {
      s.remove_prefix(prefix.size());
      break;
    }
  }
  auto bad = [&](std::string_view why) {
    return Error::InvalidArgument("invalid SHA-256 certificate fingerprint '" + std::string(text) +
                                  "': " + std::string(why));
  };
  Sha256Fingerprint fp{};
  size_t n = 0;
  bool colons = s.find(':') != std::string_view::npos;
  size_t i = 0;
  while (i < s.size()) {
    if (n == fp.size()) return bad("longer than 32 bytes");
    if (i + 1 >= s.size()) return bad("odd number of hex digits");
    int hi = HexDigit(s[i]);
    int lo = HexDigit(s[i + 1]);
    if (hi < 0 || lo < 0) return bad("not hexadecimal");
    fp[n++] = static_cast<uint8_t>(hi * 16 + lo);
    i += 2;
    if (colons && i < s.size()) {
      if (s[i] != ':') return bad("expected ':' between bytes");
      ++i;
      if (i == s.size()) return bad("trailing ':'");
    }
  }
  if (n != fp.size()) return bad("expected 32 bytes, got " + std::to_string(n));
  return fp;
}

std::string FormatSha256Fingerprint(const Sha256Fingerprint& fp) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(fp.size() * 3);
  for (size_t i = 0; i < fp.size(); ++i) {
    if (i > 0) out += ':';
    out += kHex[fp[i] >> 4];
    out += kHex[fp[i] & 0xf];
  }
  return out;
}

Result<void> ValidateTlsOptions(const TlsOptions& tls) {
  if (!tls.pin_sha256.empty()) {
    FRUIX_RETURN_IF_ERROR(ParseSha256Fingerprint(tls.pin_sha256));
    if (tls.insecure) {
      return Error::InvalidArgument(
          "TLS options: a certificate pin and insecure mode exclude each other");
    }
    if (!tls.ca_file.empty()) {
      return Error::InvalidArgument(
          "TLS options: a certificate pin replaces CA verification; do not give a CA file too");
    }
  }
  if (tls.insecure && !tls.ca_file.empty()) {
    return Error::InvalidArgument("TLS options: insecure mode and a CA file exclude each other");
  }
  return Ok();
}

}  // namespace fruix::http
