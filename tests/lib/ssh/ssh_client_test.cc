#include "lib/ssh/ssh_client.h"

#include <gtest/gtest.h>

namespace fruix::ssh {
namespace {

// The 32 bytes 0x00..0x1f in each accepted spelling.
constexpr const char* kCanonical = "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

TEST(ParseHostKeyFingerprintTest, AcceptsEverySpellingOfTheSameHash) {
  // Given the same SHA-256 hash written as ssh-keygen prints it, padded, bare, hex and colon hex
  // When each is parsed
  // Then all normalize to ssh-keygen's form.
  for (const char* text : {
           "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
           "sha256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
           "  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
           "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
           "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:"
           "1D:1E:1F",
       }) {
    auto parsed = ParseHostKeyFingerprint(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().ToString();
    EXPECT_EQ(*parsed, kCanonical) << text;
  }
}

TEST(ParseHostKeyFingerprintTest, RefusesWhatIsNotASha256) {
  // Given values that are empty, MD5, too short, too long or not base64/hex
  // When parsed
  // Then each is kInvalidArgument naming the value.
  for (const char* text : {
           "",
           "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48",
           "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg",                // 31 bytes
           "SHA256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ",            // 34 bytes
           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",  // 63 digits
           "SHA256:AAECAwQFBgcICQoLDA0ODx!REhMUFRYXGBkaGxwdHh8",
           "not a fingerprint",
       }) {
    auto parsed = ParseHostKeyFingerprint(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(parsed.error().message().find(text), std::string::npos) << parsed.error().message();
  }
}

TEST(DescribeTest, NamesUserHostAndPort) {
  // Given IPv4 and IPv6 endpoints
  // When described
  // Then the text is user@host:port with IPv6 in brackets.
  Endpoint ep;
  ep.host = "192.0.2.7";
  ep.port = 2222;
  ep.user = "admin";
  EXPECT_EQ(Describe(ep), "admin@192.0.2.7:2222");
  ep.host = "fe80::1";
  ep.port = 22;
  EXPECT_EQ(Describe(ep), "admin@[fe80::1]:22");
}

}  // namespace
}  // namespace fruix::ssh
