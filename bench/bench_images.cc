#include "bench/bench_images.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "bench/bench_process.h"

namespace fruix::bench {
namespace {

// splitmix64: fast, good enough for incompressible test data, and reproducible.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// The random content of the 1 MiB extent at `offset`: depends only on the seed and the offset, so
// `sparse` and `zeros` hold the same bytes.
void FillExtent(uint64_t seed, uint64_t offset, uint8_t* out) {
  Rng rng(seed * 0x100000001B3ULL ^ offset);
  for (uint64_t i = 0; i < kExtentSize; i += 8) {
    const uint64_t v = rng.Next();
    std::memcpy(out + i, &v, 8);
  }
}

std::string SpecLine(const ImageSpec& spec) {
  std::ostringstream s;
  s << "fruix-upload-bench image v1 kind=" << ImageKindName(spec.kind) << " size=" << spec.size
    << " fraction=" << spec.data_fraction << " seed=" << spec.seed;
  return s.str();
}

Error Errno(const std::string& what, const std::string& path) {
  return Error::Io(what + " " + path + ": " + std::strerror(errno));
}

Result<void> PwriteAll(int fd, const uint8_t* data, size_t n, uint64_t offset,
                       const std::string& path) {
  while (n > 0) {
    const ssize_t put = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return Errno("write", path);
    data += put;
    n -= static_cast<size_t>(put);
    offset += static_cast<uint64_t>(put);
  }
  return Ok();
}

Result<void> WriteImage(const ImageSpec& spec, const ImageLayout& layout, int fd,
                        const std::string& path) {
  std::vector<uint8_t> extent(kExtentSize);
  if (spec.kind == ImageKind::kSparse) {
    if (::ftruncate(fd, static_cast<off_t>(spec.size)) != 0) return Errno("truncate", path);
    for (uint64_t offset : layout.extents) {
      FRUIX_RETURN_IF_ERROR(CheckInterrupted());
      FillExtent(spec.seed, offset, extent.data());
      FRUIX_RETURN_IF_ERROR(PwriteAll(fd, extent.data(), extent.size(), offset, path));
    }
    return Ok();
  }
  // dense and zeros: every byte written, in order.
  std::unordered_set<uint64_t> data(layout.extents.begin(), layout.extents.end());
  const std::vector<uint8_t> zeros(kExtentSize, 0);
  for (uint64_t offset = 0; offset < spec.size; offset += kExtentSize) {
    if ((offset & (256 * kMiB - 1)) == 0) FRUIX_RETURN_IF_ERROR(CheckInterrupted());
    const uint8_t* bytes = zeros.data();
    if (spec.kind == ImageKind::kDense || data.count(offset) != 0) {
      FillExtent(spec.seed, offset, extent.data());
      bytes = extent.data();
    }
    FRUIX_RETURN_IF_ERROR(PwriteAll(fd, bytes, kExtentSize, offset, path));
  }
  return Ok();
}

}  // namespace

std::string_view ImageKindName(ImageKind kind) {
  switch (kind) {
    case ImageKind::kDense:
      return "dense";
    case ImageKind::kSparse:
      return "sparse";
    case ImageKind::kZeros:
      return "zeros";
  }
  return "?";
}

ImageLayout LayoutOf(const ImageSpec& spec) {
  ImageLayout layout;
  layout.disk_blocks = (spec.size + kVhdBlockSize - 1) / kVhdBlockSize;
  if (spec.kind == ImageKind::kDense) {
    layout.data_bytes = spec.size;
    layout.data_blocks = layout.disk_blocks;
    return layout;
  }
  const uint64_t slots = spec.size / kExtentSize;
  uint64_t count = static_cast<uint64_t>(static_cast<double>(spec.size) * spec.data_fraction /
                                         static_cast<double>(kExtentSize));
  count = std::clamp<uint64_t>(count, 1, slots);
  // Partial Fisher-Yates over the slot numbers: `count` distinct slots, scattered.
  std::vector<uint64_t> slot(slots);
  for (uint64_t i = 0; i < slots; ++i) slot[i] = i;
  Rng rng(spec.seed);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t j = i + rng.Next() % (slots - i);
    std::swap(slot[i], slot[j]);
  }
  slot.resize(count);
  std::sort(slot.begin(), slot.end());
  uint64_t last_block = UINT64_MAX;
  for (uint64_t s : slot) {
    const uint64_t offset = s * kExtentSize;
    layout.extents.push_back(offset);
    if (offset / kVhdBlockSize != last_block) ++layout.data_blocks;
    last_block = offset / kVhdBlockSize;
  }
  layout.data_bytes = count * kExtentSize;
  return layout;
}

Result<GeneratedImage> GenerateImage(const ImageSpec& spec, const std::string& path, bool reuse) {
  if (spec.size == 0 || spec.size % kExtentSize != 0) {
    return Error::InvalidArgument("image size " + std::to_string(spec.size) +
                                  " is not a positive multiple of 1 MiB");
  }
  GeneratedImage image;
  image.spec = spec;
  image.layout = LayoutOf(spec);
  image.path = path;
  const std::string spec_path = path + ".spec";
  const std::string want = SpecLine(spec);

  struct stat st {};
  if (reuse && ::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == spec.size) {
    std::ifstream in(spec_path);
    std::string have;
    std::getline(in, have);
    if (have == want) {
      image.reused = true;
      image.file_size = spec.size;
      image.allocated_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
      return image;
    }
  }

  ::unlink(spec_path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create", path);
  Result<void> written = WriteImage(spec, image.layout, fd, path);
  if (written.ok() && ::fsync(fd) != 0) written = Errno("fsync", path);
  if (written.ok() && ::fstat(fd, &st) != 0) written = Errno("stat", path);
  ::close(fd);
  if (!written.ok()) {
    ::unlink(path.c_str());
    return written.error();
  }
  image.file_size = static_cast<uint64_t>(st.st_size);
  image.allocated_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  std::ofstream(spec_path) << want << "\n";
  return image;
}

uint64_t DynamicVhdBytes(uint64_t size, uint64_t blocks) {
  const uint64_t entries = (size + kVhdBlockSize - 1) / kVhdBlockSize;
  const uint64_t bat = (entries * 4 + 511) / 512 * 512;
  return 512 + 1024 + bat + blocks * (512 + kVhdBlockSize) + 512;
}

}  // namespace fruix::bench
