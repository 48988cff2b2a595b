#include "tests/support/fake_tls_cert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "lib/http/tls_options.h"

namespace fruix::testing {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

bool AddExt(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

Result<FakeTlsCert> MakeFakeTlsCert(const std::string& dir, const std::string& name) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) return Error::Internal("OpenSSL key/cert allocation failed");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()),
                   static_cast<long>(std::rand() & 0x7fffffff) + 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  if (!AddExt(cert.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") ||
      !AddExt(cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExt(cert.get(), NID_subject_key_identifier, "hash")) {
    return Error::Internal("OpenSSL: cannot add certificate extensions");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Error::Internal("OpenSSL: X509_sign failed");
  }
  FakeTlsCert out;
  out.cert_pem = dir + "/" + name + ".crt";
  out.key_pem = dir + "/" + name + ".key";
  {
    std::unique_ptr<FILE, FileCloser> f(std::fopen(out.cert_pem.c_str(), "w"));
    if (!f || PEM_write_X509(f.get(), cert.get()) != 1)
      return Error::Io("cannot write " + out.cert_pem);
  }
  {
    std::unique_ptr<FILE, FileCloser> f(std::fopen(out.key_pem.c_str(), "w"));
    if (!f ||
        PEM_write_PrivateKey(f.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      return Error::Io("cannot write " + out.key_pem);
    }
  }
  http::Sha256Fingerprint fp{};
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), fp.data(), &len) != 1 || len != fp.size()) {
    return Error::Internal("OpenSSL: X509_digest failed");
  }
  out.sha256_fingerprint = http::FormatSha256Fingerprint(fp);
  return out;
}

ScratchDir::ScratchDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fruix-test-XXXXXX").string();
  char* p = ::mkdtemp(tmpl.data());
  path_ = p != nullptr ? std::string(p) : std::string();
}

ScratchDir::~ScratchDir() {
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

}  // namespace fruix::testing
