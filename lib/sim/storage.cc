#include "lib/sim/storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace fruix::sim {

void Storage::AddSr(const std::string& sr_uuid, const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  sr_dirs_[sr_uuid] = dir;
}

void Storage::SetVdiFile(const std::string& vdi_uuid, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  vdi_files_[vdi_uuid] = path;
}

Result<std::string> Storage::VdiFile(const std::string& sr_uuid,
                                     const std::string& vdi_uuid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto f = vdi_files_.find(vdi_uuid);
  if (f != vdi_files_.end()) return f->second;
  auto d = sr_dirs_.find(sr_uuid);
  if (d == sr_dirs_.end()) return Error::NotFound("SR " + sr_uuid + " has no backing directory");
  return (std::filesystem::path(d->second) / (vdi_uuid + ".img")).string();
}

Result<void> Storage::EnsureVdiFile(const std::string& path, uint64_t size) const {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Error::Io("creating directory for " + path + ": " + ec.message());
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error::Io("opening " + path + ": " + std::strerror(errno));
  int rc = ::ftruncate(fd, static_cast<off_t>(size));
  int err = errno;
  ::close(fd);
  if (rc != 0) return Error::Io("sizing " + path + ": " + std::strerror(err));
  return Ok();
}

void Storage::RemoveVdiFile(const std::string& vdi_uuid, const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    vdi_files_.erase(vdi_uuid);
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

bool Storage::BeginImport(const std::string& vdi_ref, const std::string& host_ref) {
  std::lock_guard<std::mutex> lock(mu_);
  return importing_.emplace(vdi_ref, host_ref).second;
}

void Storage::EndImport(const std::string& vdi_ref) {
  std::lock_guard<std::mutex> lock(mu_);
  importing_.erase(vdi_ref);
}

bool Storage::Importing(const std::string& vdi_ref) const {
  std::lock_guard<std::mutex> lock(mu_);
  return importing_.count(vdi_ref) != 0;
}

std::vector<std::string> Storage::ImportsOnHost(const std::string& host_ref) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [vdi, host] : importing_) {
    if (host == host_ref) out.push_back(vdi);
  }
  return out;
}

size_t Storage::imports_in_progress() const {
  std::lock_guard<std::mutex> lock(mu_);
  return importing_.size();
}

}  // namespace fruix::sim
