// sim::device_names — xapi's interpretation of VBD device strings (Device_number in xapi):
// "3", "xvdd", "hdd", "sdd" (optionally with a partition number) all name disk 3. Pure
// functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "lib/sim/database.h"

namespace fruix::sim {

// The disk number a device string names, if it names one.
std::optional<int64_t> DiskNumber(std::string_view device);
// xapi's Xapi_vbd_helpers.valid_device for non-floppy VBDs: "autodetect", a device name, or an
// integer (xapi accepts any integer here).
bool ValidVbdDevice(std::string_view device);
// Disk numbers used by a VM's VBDs (their userdevice and device).
std::set<int64_t> UsedDiskNumbers(const Database::Txn& txn, const xenapi::Struct& vm);

}  // namespace fruix::sim
