#include "lib/ssh/ssh_client.h"

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fruix::ssh {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kSha256Bytes = 32;

std::string Base64NoPad(const std::vector<uint8_t>& bytes) {
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kBase64Alphabet[(v >> shift) & 63]);
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t v = uint32_t{bytes[i]} << 16;
    if (rest == 2) v |= uint32_t{bytes[i + 1]} << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kBase64Alphabet[(v >> 6) & 63]);
  }
  return out;
}

// Decodes unpadded or padded base64; nullopt on any other character or a bad length.
std::optional<std::vector<uint8_t>> DecodeBase64(std::string_view s) {
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  if (s.size() % 4 == 1) return std::nullopt;
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    size_t v = kBase64Alphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  // Unused trailing bits must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::optional<std::vector<uint8_t>> DecodeHex(std::string_view s) {
  std::string digits;
  for (char c : s) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    digits.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (digits.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> out;
  for (size_t i = 0; i < digits.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
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

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::string> ParseHostKeyFingerprint(std::string_view text) {
  std::string_view s = Trim(text);
  auto bad = [&](std::string_view why) {
    return Error::InvalidArgument("bad SHA-256 host key fingerprint \"" + std::string(text) +
                                  "\": " + std::string(why) +
                                  " (expected \"SHA256:<base64>\" as ssh-keygen -lf prints it, "
                                  "or 64 hex digits)");
  };
  if (s.empty()) return bad("empty");
  std::optional<std::vector<uint8_t>> bytes;
  if (StartsWithNoCase(s, "SHA256:")) {
    bytes = DecodeBase64(s.substr(7));
    if (!bytes) return bad("not base64 after \"SHA256:\"");
  } else if (StartsWithNoCase(s, "MD5:")) {
    return bad("an MD5 fingerprint; only SHA-256 is accepted");
  } else if (s.size() >= 64 && s.find_first_not_of("0123456789abcdefABCDEF:") == s.npos) {
    bytes = DecodeHex(s);
    if (!bytes) return bad("not hex");
  } else {
    bytes = DecodeBase64(s);
    if (!bytes) return bad("neither base64 nor hex");
  }
  if (bytes->size() != kSha256Bytes) {
    return bad("decodes to " + std::to_string(bytes->size()) + " bytes, not 32");
  }
  return "SHA256:" + Base64NoPad(*bytes);
}

std::string Describe(const Endpoint& ep) {
  std::string host = ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host;
  return ep.user + "@" + host + ":" + std::to_string(ep.port);
}

}  // namespace fruix::ssh
