#include "lib/image/allocation_scan.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "lib/image/content_digest.h"

namespace fruix::image {
namespace {

constexpr size_t kWindow = 1024;       // blocks per window
constexpr size_t kPrefix = 64 * 1024;  // first read of a block when only zeros matter
constexpr size_t kAlign = 4096;

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, AlignedFree>;

Buffer NewBuffer() { return Buffer(static_cast<uint8_t*>(std::aligned_alloc(kAlign, kBlockSize))); }

int ThreadCount(int requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(hw, 1u, 4u));
}

struct Slot {
  bool keep = false;     // goes into the map
  bool nonzero = false;  // goes into the digest
  BlockHash hash{};
};

// Examines one block into `slot`. Returns the bytes read.
Result<uint64_t> Examine(uint64_t block, const BlockReadFn& read, const ScanOptions& options,
                         uint8_t* buf, Slot& slot) {
  slot = Slot{};
  const std::span<uint8_t> all(buf, kBlockSize);
  if (!options.digest) {
    // Only zeros matter: a non-zero prefix settles it.
    FRUIX_RETURN_IF_ERROR(read(block, 0, all.first(kPrefix)));
    if (!IsAllZero(all.first(kPrefix))) {
      slot.keep = slot.nonzero = true;
      return kPrefix;
    }
    FRUIX_RETURN_IF_ERROR(read(block, kPrefix, all.subspan(kPrefix)));
    slot.nonzero = !IsAllZero(all.subspan(kPrefix));
    slot.keep = slot.nonzero || !options.detect_zeros;
    return kBlockSize;
  }
  FRUIX_RETURN_IF_ERROR(read(block, 0, all));
  slot.nonzero = !IsAllZero(all);
  slot.keep = slot.nonzero || !options.detect_zeros;
  if (slot.nonzero) slot.hash = HashBlock(all);
  return kBlockSize;
}

}  // namespace

Result<ScanResult> ScanBlocks(const AllocationMap& candidates, uint64_t virtual_size,
                              const BlockReadFn& read, const ScanOptions& options) {
  ScanResult result;
  result.map = AllocationMap(candidates.block_count());
  std::optional<ContentDigest> digest;
  if (options.digest) digest.emplace(virtual_size);
  if (!options.detect_zeros && !options.digest) {
    result.map = candidates;
    return result;
  }

  const std::vector<uint64_t> blocks = candidates.Blocks();
  const int threads =
      std::max(1, std::min<int>(ThreadCount(options.threads),
                                static_cast<int>(std::min(blocks.size(), kWindow))));
  std::vector<Buffer> buffers;
  for (int t = 0; t < threads; ++t) {
    buffers.push_back(NewBuffer());
    if (!buffers.back()) return Error::Internal("out of memory for the scan buffers");
  }
  std::vector<Slot> slots(std::min(blocks.size(), kWindow));
  std::atomic<uint64_t> bytes_read{0};

  for (size_t w = 0; w < blocks.size(); w += kWindow) {
    const size_t n = std::min(kWindow, blocks.size() - w);
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex error_mu;
    std::optional<Error> error;
    auto work = [&](int t) {
      for (size_t k; !failed.load(std::memory_order_relaxed) && (k = next.fetch_add(1)) < n;) {
        auto got =
            Examine(blocks[w + k], read, options, buffers[static_cast<size_t>(t)].get(), slots[k]);
        if (!got.ok()) {
          std::lock_guard lock(error_mu);
          if (!error) error = got.error();
          failed = true;
          return;
        }
        bytes_read.fetch_add(*got, std::memory_order_relaxed);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& th : pool) th.join();
    if (error) return *error;

    for (size_t k = 0; k < n; ++k) {
      const uint64_t block = blocks[w + k];
      if (slots[k].keep) result.map.Set(block);
      if (!slots[k].nonzero) ++result.zero_blocks;
      if (digest && slots[k].nonzero) digest->AddBlock(block, slots[k].hash);
    }
    if (options.progress && !options.progress(w + n, blocks.size())) {
      return Error::Cancelled("allocation scan cancelled");
    }
  }
  result.bytes_read = bytes_read.load();
  if (digest) result.digest = digest->Finish();
  return result;
}

AllocationMap SeekDataBlocks(const vhd::SourceFile& file, uint64_t size) {
  const uint64_t block_count = BlocksForSize(size);
  AllocationMap blocks(block_count);
  const int fd = file.fd();
  for (uint64_t pos = 0; pos < size;) {
    const off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;                // no data after pos
      return AllocationMap::Full(block_count);  // holes not reported here: all are candidates
    }
    if (static_cast<uint64_t>(data) >= size) break;
    const off_t hole = ::lseek(fd, data, SEEK_HOLE);
    const uint64_t end = hole < 0 ? size : std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    for (uint64_t b = static_cast<uint64_t>(data) / kBlockSize; b * kBlockSize < end; ++b) {
      blocks.Set(b);
    }
    pos = std::max<uint64_t>(end, static_cast<uint64_t>(data) + 1);
  }
  return blocks;
}

Result<ScanResult> ScanRaw(const vhd::SourceFile& file, uint64_t size, const ScanOptions& options) {
  const AllocationMap candidates = SeekDataBlocks(file, size);
  auto read = [&file, size](uint64_t block, uint64_t from, std::span<uint8_t> out) -> Result<void> {
    const uint64_t offset = block * kBlockSize + from;
    const uint64_t avail = offset < size ? std::min<uint64_t>(out.size(), size - offset) : 0;
    if (avail > 0) FRUIX_RETURN_IF_ERROR(file.ReadAt(offset, out.first(avail)));
    if (avail < out.size()) std::memset(out.data() + avail, 0, out.size() - avail);
    return Ok();
  };
  FRUIX_ASSIGN_OR_RETURN(ScanResult result, ScanBlocks(candidates, size, read, options));
  result.hole_blocks = candidates.block_count() - candidates.Count();
  return result;
}

}  // namespace fruix::image
