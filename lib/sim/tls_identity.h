// sim::TlsIdentity — the certificate and key the simulator's HTTPS listeners present. Like an
// XCP-ng host since 8.2 (xapi-project/xen-api#4247) the generated certificate is self-signed,
// with the host address as CN and IP subjectAltName (one SAN per simulated host address).
// A plain value type (PEM text); generation and loading are thread-safe.
#pragma once

#include <string>
#include <vector>

#include "lib/core/result.h"

namespace fruix::sim {

struct TlsIdentity {
  std::string cert_pem;
  std::string key_pem;
  // SHA-256 of the DER certificate, upper-case hex bytes joined by ':' ("AB:CD:...").
  std::string fingerprint_sha256;
};

// A fresh self-signed certificate (EC P-256, SHA-256, valid 10 years) for `addresses`
// (IPv4/IPv6 literals become IP SANs, anything else a DNS SAN). kTls on OpenSSL failure.
Result<TlsIdentity> GenerateSelfSigned(const std::vector<std::string>& addresses);
// Loads a PEM certificate and private key from files. kIo / kTls on failure.
Result<TlsIdentity> LoadTlsIdentity(const std::string& cert_file, const std::string& key_file);

}  // namespace fruix::sim
