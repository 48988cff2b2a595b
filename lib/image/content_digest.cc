#include "lib/image/content_digest.h"

#include <openssl/evp.h>

#include <cstring>
#include <string_view>

namespace fruix::image {
namespace {

constexpr std::string_view kDomain = "fruix-disk-digest-v1\n";

void PutBe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

EVP_MD_CTX* Ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }

}  // namespace

bool IsAllZero(std::span<const uint8_t> data) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  // Whole 4 KiB pages are OR-ed together without branches (the compiler vectorises the loop),
  // then tested once per page; the tail goes 8 bytes, then 1 byte, at a time.
  constexpr size_t kPage = 4096;
  while (n >= kPage) {
    uint64_t acc = 0;
    for (size_t i = 0; i < kPage; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, sizeof w);
      acc |= w;
    }
    if (acc != 0) return false;
    p += kPage;
    n -= kPage;
  }
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof w);
    if (w != 0) return false;
  }
  for (; n > 0; ++p, --n) {
    if (*p != 0) return false;
  }
  return true;
}

BlockHash HashBlock(std::span<const uint8_t> data) {
  BlockHash out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

ContentDigest::ContentDigest(uint64_t virtual_size) : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(Ctx(ctx_), EVP_sha256(), nullptr);
  EVP_DigestUpdate(Ctx(ctx_), kDomain.data(), kDomain.size());
  uint8_t size[8];
  PutBe64(size, (virtual_size + 511) / 512 * 512);
  EVP_DigestUpdate(Ctx(ctx_), size, sizeof size);
}

ContentDigest::~ContentDigest() { EVP_MD_CTX_free(Ctx(ctx_)); }

void ContentDigest::AddBlock(uint64_t index, const BlockHash& hash) {
  uint8_t rec[8 + 32];
  PutBe64(rec, index);
  std::memcpy(rec + 8, hash.data(), hash.size());
  EVP_DigestUpdate(Ctx(ctx_), rec, sizeof rec);
}

std::string ContentDigest::Finish() {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(Ctx(ctx_), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256v1:";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace fruix::image
