#include "lib/sim/device_names.h"

#include <cctype>
#include <charconv>

#include "lib/sim/record_util.h"

namespace fruix::sim {

std::optional<int64_t> DiskNumber(std::string_view d) {
  if (d.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(d.front()))) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), n);
    if (ec == std::errc() && p == d.data() + d.size()) return n;
    return std::nullopt;
  }
  std::string_view letters;
  if (d.substr(0, 3) == "xvd") {
    letters = d.substr(3);
  } else if (d.substr(0, 2) == "hd" || d.substr(0, 2) == "sd") {
    letters = d.substr(2);
  } else {
    return std::nullopt;
  }
  int64_t n = 0;
  size_t i = 0;
  for (; i < letters.size() && std::islower(static_cast<unsigned char>(letters[i])); ++i) {
    n = n * 26 + (letters[i] - 'a' + 1);
  }
  if (i == 0) return std::nullopt;
  for (size_t j = i; j < letters.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(letters[j]))) return std::nullopt;
  }
  return n - 1;
}

bool ValidVbdDevice(std::string_view device) {
  if (device == "autodetect" || DiskNumber(device).has_value()) return true;
  if (!device.empty() && device.front() == '-') {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(device.data(), device.data() + device.size(), n);
    return ec == std::errc() && p == device.data() + device.size();
  }
  return false;
}

std::set<int64_t> UsedDiskNumbers(const Database::Txn& txn, const xenapi::Struct& vm) {
  std::set<int64_t> used;
  for (const auto& vbd : StrSetField(vm, "VBDs")) {
    const ObjectRow* b = txn.Find("VBD", vbd);
    if (b == nullptr) continue;
    for (const char* f : {"userdevice", "device"}) {
      if (auto n = DiskNumber(StrField(b->record, f))) used.insert(*n);
    }
  }
  return used;
}

}  // namespace fruix::sim
