// sim::SimConfig — what the fixture says beyond the database contents: login credentials and
// the scripted behaviour of each guest. Built once by the fixture loader (sim/fixture.h) before
// the simulator starts and read-only afterwards, so any thread may read it without locking.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fruix::sim {

// One line the guest prints on its text console, `delay_ms` after the previous line (or after
// the domain started, for the first line). The simulator appends "\r\n".
struct ConsoleLine {
  int64_t delay_ms = 0;
  std::string text;
};

// What happens to a guest after each boot (VM.start, reboot). Every timer belongs to one boot
// and is cancelled when the domain goes away.
struct GuestScript {
  std::vector<ConsoleLine> console;
  // Guest tools: when set, VM_guest_metrics appears `ip_after_ms` after boot with networks
  // {"0/ip": ip, "0/ipv4/0": ip}. Unset = no guest agent, guest_metrics stays OpaqueRef:NULL.
  std::optional<int64_t> ip_after_ms;
  std::string ip;
  // PV drivers reported by the guest agent (HVM guests need them for clean_shutdown/reboot).
  bool pv_drivers = false;
  // "host:port" where the guest answers SSH (metadata for tests; the simulator opens nothing).
  std::string ssh;
  // Guest-initiated event after boot: the domain crashes, powers off, or reboots itself.
  // xapi then applies actions_after_crash / _shutdown / _reboot.
  enum class Action { kNone, kCrash, kHalt, kReboot };
  Action action = Action::kNone;
  int64_t action_after_ms = 0;
  // How long each power operation (start, shutdown, reboot) keeps current_operations busy.
  int64_t power_op_ms = 0;
  // Bytes of earlier console output replayed to a new console connection (0 = live only).
  size_t console_scrollback_bytes = 0;
};

struct Credentials {
  std::string username = "root";
  std::string password;
};

struct SimConfig {
  Credentials credentials;
  std::map<std::string, GuestScript> guests;  // by VM uuid
  const GuestScript* GuestFor(const std::string& vm_uuid) const {
    auto it = guests.find(vm_uuid);
    return it == guests.end() ? nullptr : &it->second;
  }
};

}  // namespace fruix::sim
