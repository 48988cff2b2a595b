// image::content_digest — a SHA-256 digest of a virtual disk's CONTENT, identical for identical
// disks whatever the file format (raw sparse or dense, fixed or dynamic VHD, with or without
// all-zero blocks allocated), so an import can be skipped when the VDI already holds that disk.
// Also the fast all-zero test used by the allocation scan. Pure functions and a value type; an
// accumulator is used by one thread at a time (block hashes may be computed on any thread).
//
// Definition, version 1 (printed as "sha256v1:" + 64 lowercase hex digits):
//
//   S = the virtual size rounded up to a multiple of 512 (a raw file of 1000 bytes and one of 1024
//       bytes ending in 24 zero bytes are the same disk)
//   H(x) = SHA-256(x)
//   digest = H( "fruix-disk-digest-v1\n" || u64be(S) ||
//               for each 2 MiB block i, in increasing i, whose content is not all zero:
//                   u64be(i) || H(the block's 2 MiB, zero-padded past S) )
//
// Hashing each block separately lets the scan hash blocks on several threads.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace fruix::image {

using BlockHash = std::array<uint8_t, 32>;

// True if every byte of `data` is zero. Compares 64-bit words, stops at the first non-zero one.
bool IsAllZero(std::span<const uint8_t> data);

// SHA-256 of one block's bytes (the caller pads the last block to 2 MiB with zeros).
BlockHash HashBlock(std::span<const uint8_t> data);

class ContentDigest {
 public:
  // `virtual_size`: the disk's size in bytes (rounded up to 512 here).
  explicit ContentDigest(uint64_t virtual_size);
  ~ContentDigest();
  ContentDigest(const ContentDigest&) = delete;
  ContentDigest& operator=(const ContentDigest&) = delete;

  // Adds a block that is not all zero. REQUIRES: indices strictly increasing.
  void AddBlock(uint64_t index, const BlockHash& hash);
  // "sha256v1:<64 hex>". Call once.
  std::string Finish();

 private:
  void* ctx_;  // EVP_MD_CTX*
};

}  // namespace fruix::image
