// http::TlsOptions — how an HTTPS peer is authenticated. A plain value type (no thread affinity),
// given to CurlHttpClient at construction and applied to every https:// request it makes.
//
// Policies, exactly one applies:
//   default     chain and hostname verification against the system CA store (verify = true)
//   ca_file     chain and hostname verification against the PEM bundle in ca_file
//   pin_sha256  the leaf certificate's SHA-256 fingerprint must equal the pin; checked during the
//               handshake, so nothing is sent to a peer with another certificate. Replaces chain
//               and hostname verification (XCP-ng hosts ship self-signed certificates).
//   insecure    no verification at all; must be asked for explicitly and logs a warning.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/core/result.h"

namespace fruix::http {

using Sha256Fingerprint = std::array<uint8_t, 32>;

struct TlsOptions {
  bool verify = true;   // chain + hostname checks; false acts as insecure (ignored when pinned)
  std::string ca_file;  // PEM bundle replacing the system store; "" = system store
  // Expected certificate fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it
  // ("AB:CD:..."), or as 64 hex digits; case-insensitive. "" = no pin.
  std::string pin_sha256;
  bool insecure = false;  // skip all verification (explicit opt-in)
};

// Parses a SHA-256 fingerprint in colon-separated or plain hex form, case-insensitive, surrounding
// whitespace ignored; an optional "sha256//" or "SHA256 Fingerprint=" prefix is accepted.
// kInvalidArgument if it is not exactly 32 bytes of hex.
Result<Sha256Fingerprint> ParseSha256Fingerprint(std::string_view text);

// The OpenSSL CLI spelling: upper-case hex pairs joined by ':'.
std::string FormatSha256Fingerprint(const Sha256Fingerprint& fp);

// Checks that the options name one coherent policy: kInvalidArgument for a malformed pin, for
// insecure combined with a pin or a CA file, or for a pin combined with a CA file.
Result<void> ValidateTlsOptions(const TlsOptions& tls);

}  // namespace fruix::http
