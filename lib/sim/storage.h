// sim::Storage — where simulated VDIs keep their bytes: each SR has a backing directory, each
// VDI a sparse file of its virtual_size in it (default name "<vdi uuid>.img", or the file the
// fixture names). Also tracks which VDIs an import is writing, and through which host (a second
// import, a destroy of such a VDI, or unplugging that host's PBD of its SR gets VDI_IN_USE).
// Thread-safe. Created by the Simulator; paths are absolute.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "lib/core/result.h"

namespace fruix::sim {

class Storage {
 public:
  void AddSr(const std::string& sr_uuid, const std::string& dir);
  // Records a VDI's backing file (absolute path).
  void SetVdiFile(const std::string& vdi_uuid, const std::string& path);
  // The backing file of a VDI; "<sr dir>/<vdi uuid>.img" unless SetVdiFile() named another.
  // kNotFound when the SR has no backing directory.
  Result<std::string> VdiFile(const std::string& sr_uuid, const std::string& vdi_uuid) const;
  // Creates the SR directory and the VDI file if missing, and sets its length to `size`
  // (sparse; existing content below `size` is kept). kIo on failure.
  Result<void> EnsureVdiFile(const std::string& path, uint64_t size) const;
  void RemoveVdiFile(const std::string& vdi_uuid, const std::string& path);

  // Import bookkeeping: false if an import already holds the VDI. `host_ref` is the host the
  // import runs on (where xapi attaches the VDI to dom0).
  bool BeginImport(const std::string& vdi_ref, const std::string& host_ref);
  void EndImport(const std::string& vdi_ref);
  bool Importing(const std::string& vdi_ref) const;
  // The VDIs imports are writing through `host_ref`.
  std::vector<std::string> ImportsOnHost(const std::string& host_ref) const;
  size_t imports_in_progress() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> sr_dirs_;
  std::map<std::string, std::string> vdi_files_;
  std::map<std::string, std::string> importing_;  // VDI ref -> host ref
};

}  // namespace fruix::sim
