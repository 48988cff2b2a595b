#include "lib/http/tls_options.h"

#include <gtest/gtest.h>

namespace fruix::http {
namespace {

constexpr char kColon[] =
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:"
    "89";

// Given the OpenSSL CLI spelling, When parsed and formatted again, Then it round-trips exactly.
TEST(TlsOptionsTest, ParsesOpensslColonForm) {
  auto fp = ParseSha256Fingerprint(kColon);
  ASSERT_TRUE(fp.ok()) << fp.error().ToString();
  EXPECT_EQ((*fp)[0], 0xAB);
  EXPECT_EQ((*fp)[31], 0x89);
  EXPECT_EQ(FormatSha256Fingerprint(*fp), kColon);
}

// Given the same fingerprint as plain lower-case hex or with the CLI prefix, Then it parses equal.
TEST(TlsOptionsTest, AcceptsPlainHexAnyCaseAndPrefix) {
  auto colon = ParseSha256Fingerprint(kColon);
  auto plain =
      ParseSha256Fingerprint("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  auto prefixed = ParseSha256Fingerprint(std::string(" SHA256 Fingerprint=") + kColon + "\n");
  ASSERT_TRUE(colon.ok() && plain.ok() && prefixed.ok());
  EXPECT_EQ(*colon, *plain);
  EXPECT_EQ(*colon, *prefixed);
}

// Given malformed fingerprints, Then each is kInvalidArgument naming the input.
TEST(TlsOptionsTest, RejectsMalformedFingerprints) {
  for (const char* bad :
       {"", "AB:CD", "abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678",
        "zz"
        "cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:"
        "EF:01:23:45:67:89:00",
        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:"
        "EF:01:23:45:67:89:"}) {
    auto fp = ParseSha256Fingerprint(bad);
    ASSERT_FALSE(fp.ok()) << bad;
    EXPECT_EQ(fp.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TlsOptions Tls(std::string ca_file, std::string pin, bool insecure) {
  TlsOptions t;
  t.ca_file = std::move(ca_file);
  t.pin_sha256 = std::move(pin);
  t.insecure = insecure;
  return t;
}

// Given contradictory policies, Then validation refuses them; a lone policy passes.
TEST(TlsOptionsTest, ValidatesPolicyCombinations) {
  EXPECT_TRUE(ValidateTlsOptions(TlsOptions{}).ok());
  EXPECT_TRUE(ValidateTlsOptions(Tls("", kColon, false)).ok());
  EXPECT_TRUE(ValidateTlsOptions(Tls("/x.pem", "", false)).ok());
  EXPECT_TRUE(ValidateTlsOptions(Tls("", "", true)).ok());
  EXPECT_FALSE(ValidateTlsOptions(Tls("", kColon, true)).ok());
  EXPECT_FALSE(ValidateTlsOptions(Tls("/x.pem", kColon, false)).ok());
  EXPECT_FALSE(ValidateTlsOptions(Tls("/x.pem", "", true)).ok());
  EXPECT_FALSE(ValidateTlsOptions(Tls("", "nope", false)).ok());
}

}  // namespace
}  // namespace fruix::http
