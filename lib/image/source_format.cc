#include "lib/image/source_format.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace fruix::image {
namespace {

constexpr size_t kHeadBytes = 64 * 1024;

bool HasAt(std::span<const uint8_t> bytes, size_t offset, std::string_view magic) {
  return bytes.size() >= offset + magic.size() &&
         std::memcmp(bytes.data() + offset, magic.data(), magic.size()) == 0;
}

uint64_t Be(std::span<const uint8_t> b, size_t off, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | b[off + static_cast<size_t>(i)];
  return v;
}
uint64_t Le(std::span<const uint8_t> b, size_t off, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | b[off + static_cast<size_t>(i)];
  return v;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Quotes a path for a POSIX shell when it holds anything but safe characters.
std::string ShellQuote(std::string_view s) {
  const bool safe = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("._/-+=:,@%").find(c) != std::string_view::npos;
  });
  if (safe) return std::string(s);
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// The name a converted or decompressed copy of `path` should get: its extension (any of
// `extensions`) replaced by `new_ext`, or `new_ext` appended.
std::string Renamed(std::string_view path, std::initializer_list<std::string_view> extensions,
                    std::string_view new_ext) {
  std::string base(path);
  for (std::string_view ext : extensions) {
    if (EndsWith(base, ext)) {
      base.resize(base.size() - ext.size());
      break;
    }
  }
  return base + std::string(new_ext);
}

std::string QemuConvert(std::string_view qemu_format, std::string_view path,
                        std::initializer_list<std::string_view> extensions) {
  return "qemu-img convert -f " + std::string(qemu_format) + " -O raw " + ShellQuote(path) + " " +
         ShellQuote(Renamed(path, extensions, ".raw"));
}

// `tool -k path` when the path has the suffix the tool wants, else `tool -dc path > out`.
std::string Decompress(std::string_view path, std::string_view suffix, std::string_view keep_cmd,
                       std::string_view stream_cmd) {
  if (EndsWith(path, suffix)) return std::string(keep_cmd) + " " + ShellQuote(path);
  return std::string(stream_cmd) + " " + ShellQuote(path) + " > " +
         ShellQuote(std::string(path) + ".raw");
}

std::string Bytes(uint64_t n) { return std::to_string(n) + " bytes"; }

FormatInfo Info(SourceFormat f, std::string description, std::string remedy = "") {
  return FormatInfo{f, std::move(description), std::move(remedy)};
}

FormatInfo VhdInfo(std::span<const uint8_t> footer, bool has_copy) {
  const uint32_t type = static_cast<uint32_t>(Be(footer, 60, 4));
  const uint64_t size = Be(footer, 48, 8);
  const std::string vsize = "virtual size " + Bytes(size);
  switch (type) {
    case 2:
      return Info(SourceFormat::kVhdFixed, "fixed VHD (" + vsize + ")");
    case 4:
      return Info(SourceFormat::kVhdDifferencing,
                  "differencing VHD (" + vsize + "; its data is only complete with its parent)");
    default:
      return Info(SourceFormat::kVhdDynamic,
                  std::string(has_copy ? "dynamic VHD (" : "damaged dynamic VHD (") + vsize + ")");
  }
}

}  // namespace

std::string_view SourceFormatName(SourceFormat format) {
  switch (format) {
    case SourceFormat::kRaw:
      return "raw";
    case SourceFormat::kVhdDynamic:
      return "vhd-dynamic";
    case SourceFormat::kVhdFixed:
      return "vhd-fixed";
    case SourceFormat::kVhdDifferencing:
      return "vhd-differencing";
    case SourceFormat::kQcow:
      return "qcow";
    case SourceFormat::kQcow2:
      return "qcow2";
    case SourceFormat::kQed:
      return "qed";
    case SourceFormat::kVmdk:
      return "vmdk";
    case SourceFormat::kVhdx:
      return "vhdx";
    case SourceFormat::kVdi:
      return "vdi";
    case SourceFormat::kGzip:
      return "gzip";
    case SourceFormat::kXz:
      return "xz";
    case SourceFormat::kZstd:
      return "zstd";
    case SourceFormat::kBzip2:
      return "bzip2";
    case SourceFormat::kZip:
      return "zip";
    case SourceFormat::kTar:
      return "tar";
  }
  return "unknown";
}

bool IsSupported(SourceFormat format) {
  return format == SourceFormat::kRaw || format == SourceFormat::kVhdDynamic ||
         format == SourceFormat::kVhdFixed;
}

std::string FormatInfo::RefusalMessage(std::string_view path) const {
  return std::string(path) + " is a " + description +
         "; fruixd uploads raw disk images and VHDs: convert it first: " + remedy;
}

FormatInfo DetectFormat(std::span<const uint8_t> head, std::span<const uint8_t> tail,
                        uint64_t file_size, std::string_view path) {
  // VHD: a footer copy at 0, or only the trailing footer.
  if (HasAt(head, 0, "conectix") && head.size() >= 512) {
    FormatInfo info = VhdInfo(head, true);
    if (Be(head, 60, 4) == 2 && HasAt(tail, 0, "conectix")) info = VhdInfo(tail, true);
    if (info.format == SourceFormat::kVhdDifferencing) {
      info.remedy = "merge it into its parent (vhd-util coalesce -n " + ShellQuote(path) +
                    "), then use the parent, or export the whole disk again";
    }
    return info;
  }
  if (tail.size() == 512 && HasAt(tail, 0, "conectix")) {
    FormatInfo info = VhdInfo(tail, false);
    if (info.format == SourceFormat::kVhdDifferencing) {
      info.remedy = "merge it into its parent (vhd-util coalesce -n " + ShellQuote(path) +
                    "), then use the parent, or export the whole disk again";
    }
    return info;
  }
  if (HasAt(head, 0, "QFI\xfb") && head.size() >= 32) {
    const uint64_t version = Be(head, 4, 4);
    const std::string desc = " image (version " + std::to_string(version) + ", virtual size " +
                             Bytes(Be(head, 24, 8)) + ")";
    if (version == 1) {
      return Info(SourceFormat::kQcow, "qcow" + desc, QemuConvert("qcow", path, {".qcow"}));
    }
    return Info(SourceFormat::kQcow2, "qcow2" + desc,
                QemuConvert("qcow2", path, {".qcow2", ".qcow", ".img"}));
  }
  if (HasAt(head, 0, std::string_view("QED\0", 4))) {
    return Info(SourceFormat::kQed, "QED image", QemuConvert("qed", path, {".qed"}));
  }
  if (HasAt(head, 0, "KDMV") && head.size() >= 20) {
    return Info(SourceFormat::kVmdk,
                "VMDK sparse extent (capacity " + Bytes(Le(head, 12, 8) * 512) + ")",
                QemuConvert("vmdk", path, {".vmdk"}));
  }
  if (HasAt(head, 0, "COWD")) {
    return Info(SourceFormat::kVmdk, "VMDK (ESX COWD) extent",
                QemuConvert("vmdk", path, {".vmdk"}));
  }
  if (HasAt(head, 0, "# Disk DescriptorFile")) {
    return Info(SourceFormat::kVmdk,
                "VMDK descriptor file (the disk data lives in the extent files it names)",
                QemuConvert("vmdk", path, {".vmdk"}));
  }
  if (HasAt(head, 0, "vhdxfile")) {
    return Info(SourceFormat::kVhdx, "VHDX image", QemuConvert("vhdx", path, {".vhdx"}));
  }
  if (HasAt(head, 0, "<<< ") || HasAt(head, 0x40, "\x7f\x10\xda\xbe")) {
    return Info(SourceFormat::kVdi, "VirtualBox VDI image", QemuConvert("vdi", path, {".vdi"}));
  }
  if (HasAt(head, 0, "\x1f\x8b")) {
    return Info(SourceFormat::kGzip, "gzip-compressed file",
                Decompress(path, ".gz", "gunzip -k", "gzip -dc") +
                    " (then run fruixctl image check on the result)");
  }
  if (HasAt(head, 0,
            std::string_view("\xfd"
                             "7zXZ\0",
                             6))) {
    return Info(SourceFormat::kXz, "xz-compressed file",
                Decompress(path, ".xz", "unxz -k", "xz -dc") +
                    " (then run fruixctl image check on the result)");
  }
  if (HasAt(head, 0, "\x28\xb5\x2f\xfd")) {
    return Info(SourceFormat::kZstd, "zstd-compressed file",
                Decompress(path, ".zst", "unzstd", "zstd -dc") +
                    " (then run fruixctl image check on the result)");
  }
  if (HasAt(head, 0, "BZh") && head.size() >= 4 && head[3] >= '1' && head[3] <= '9') {
    return Info(SourceFormat::kBzip2, "bzip2-compressed file",
                Decompress(path, ".bz2", "bunzip2 -k", "bzip2 -dc") +
                    " (then run fruixctl image check on the result)");
  }
  if (HasAt(head, 0, "PK\x03\x04")) {
    return Info(SourceFormat::kZip, "zip archive",
                "list it (unzip -l " + ShellQuote(path) +
                    "), extract the disk image (unzip), then run fruixctl image check on it");
  }
  if (HasAt(head, 257, "ustar")) {
    return Info(SourceFormat::kTar, "tar archive (an OVA or XVA export?)",
                "list it (tar -tvf " + ShellQuote(path) +
                    "), extract the disk image, then run fruixctl image check on it (an OVA's "
                    "VMDK needs qemu-img convert -f vmdk -O raw)");
  }
  std::string desc = "raw disk image (" + Bytes(file_size);
  if (HasAt(head, 0x8001, "CD001")) desc += ", ISO 9660";
  return Info(SourceFormat::kRaw, desc + ")");
}

Result<uint64_t> ImageFileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    const std::string m = path + ": " + std::strerror(err);
    if (err == ENOENT) return Error::NotFound(m);
    if (err == EACCES) return Error::PermissionDenied(m);
    return Error::Io(m);
  }
  if (S_ISDIR(st.st_mode)) return Error::InvalidArgument(path + " is a directory, not an image");
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  if (!S_ISBLK(st.st_mode)) {
    return Error::InvalidArgument(path + " is not a regular file or block device");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::Io(path + ": cannot open: " + std::strerror(errno));
  uint64_t size = 0;
  const int rc = ::ioctl(fd, BLKGETSIZE64, &size);
  ::close(fd);
  if (rc != 0) return Error::Io(path + ": cannot read the block device's size");
  return size;
}

Result<FormatInfo> DetectFileFormat(const std::string& path) {
  FRUIX_ASSIGN_OR_RETURN(const uint64_t size, ImageFileSize(path));
  if (size == 0) return Error::InvalidArgument(path + " is empty (0 bytes)");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string m = path + ": cannot open: " + std::strerror(err);
    if (err == EACCES) return Error::PermissionDenied(m);
    return Error::Io(m);
  }
  std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(size, kHeadBytes)));
  std::vector<uint8_t> tail(size >= 512 ? 512 : 0);
  bool ok = ::pread(fd, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size());
  if (ok && !tail.empty()) {
    ok = ::pread(fd, tail.data(), tail.size(), static_cast<off_t>(size - 512)) == 512;
  }
  const int err = errno;
  ::close(fd);
  if (!ok) return Error::Io(path + ": cannot read: " + std::strerror(err));
  return DetectFormat(head, tail, size, path);
}

}  // namespace fruix::image
