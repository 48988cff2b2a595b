// The HTTPS listener: certificate, fingerprint, and XenAPI over TLS.
#include "lib/sim/tls_identity.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "lib/xenapi/codec.h"
#include "tests/support/sim_harness.h"

namespace fruix::sim {
namespace {

using testing::SimHarness;

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    char b[4];
    std::snprintf(b, sizeof b, "%02X", md[i]);
    out += (i ? ":" : "") + std::string(b);
  }
  return out;
}

// Given a generated identity, Then the fingerprint is the SHA-256 of the certificate and the
// certificate names every address as an IP SAN.
TEST(TlsIdentityTest, GeneratedCertificateCoversAddresses) {
  auto id = GenerateSelfSigned({"127.0.0.1", "127.0.0.2"});
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  BIO* bio = BIO_new_mem_buf(id->cert_pem.data(), static_cast<int>(id->cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(Fingerprint(cert), id->fingerprint_sha256);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.2", 0), 1);
  EXPECT_NE(X509_check_ip_asc(cert, "127.0.0.3", 0), 1);
  X509_free(cert);
  BIO_free(bio);
}

// Given the running simulator, When a TLS client connects to the HTTPS port, Then the server
// certificate has the advertised fingerprint and XenAPI works over it.
TEST(TlsIdentityTest, HttpsServesXenApiWithAdvertisedCertificate) {
  auto sim = SimHarness::Start();
  ASSERT_NE(sim, nullptr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(sim->https_port());
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  ASSERT_EQ(SSL_connect(ssl), 1);
  X509* peer = SSL_get1_peer_certificate(ssl);
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(Fingerprint(peer), sim->tls_fingerprint());
  X509_free(peer);
  std::string body = xenapi::EncodeCall("session.login_with_password",
                                        {xenapi::Value("root"), xenapi::Value("password")});
  std::string req = testing::PostRequest("/", "text/xml", body, "Connection: close\r\n");
  ASSERT_EQ(SSL_write(ssl, req.data(), static_cast<int>(req.size())), static_cast<int>(req.size()));
  std::string resp;
  char buf[4096];
  int n;
  while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(resp.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(resp.find("<value>Success</value>"), std::string::npos);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
}

}  // namespace
}  // namespace fruix::sim
