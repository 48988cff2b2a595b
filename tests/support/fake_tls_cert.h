// Self-signed TLS certificates generated at test time with the OpenSSL API, shaped like the one an
// XCP-ng host ships (self-signed, its address as CN and subjectAltName).
#pragma once

#include <string>

#include "lib/core/result.h"

namespace fruix::testing {

struct FakeTlsCert {
  std::string cert_pem;  // path of the PEM certificate
  std::string key_pem;   // path of the PEM private key
  // What `openssl x509 -noout -fingerprint -sha256` prints after "=": "AB:CD:...".
  std::string sha256_fingerprint;
};

// Writes `<dir>/<name>.crt` and `<dir>/<name>.key`: an EC P-256 key and a certificate for
// CN=127.0.0.1 with subjectAltName IP:127.0.0.1, DNS:localhost, valid for one day.
Result<FakeTlsCert> MakeFakeTlsCert(const std::string& dir, const std::string& name = "server");

// A fresh private temporary directory, removed (recursively) when the object is destroyed.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace fruix::testing
