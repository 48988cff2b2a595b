// sim::Storage — where simulated VDIs keep their bytes: each SR has a backing directory, each
// VDI a sparse file of its virtual_size in it (default name "<vdi uuid>.img", or the file the
// fixture names). Also tracks which VDIs an import is writing (a second import or a destroy of
// such a VDI gets VDI_IN_USE).
// Thread-safe. Created by the Simulator; paths are absolute.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

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

  // Import bookkeeping: false if an import already holds the VDI.
  bool BeginImport(const std::string& vdi_ref);
  void EndImport(const std::string& vdi_ref);
  bool Importing(const std::string& vdi_ref) const;
  size_t imports_in_progress() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> sr_dirs_;
  std::map<std::string, std::string> vdi_files_;
  std::set<std::string> importing_;
};

}  // namespace fruix::sim
