// job::AddressBook — what every configured source said about the guest's IPv4 address during one
// job, and which answer won. Sources report from their own threads (VM monitor, console recorder
// callback, lease-file watcher); the runner reads. Thread-safe; created by the runner per job.
//
// Rules: the first address reported wins; every (source, address) pair is recorded once with the
// time it first appeared; a later source reporting another address is a disagreement (reported,
// not fatal: the winner stays). While nothing has answered, WaitingText() says what the job waits
// for and which sources are still silent.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/clock.h"

namespace fruix::job {

enum class AddressSource { kGuestMetrics, kConsole, kLeaseFile, kStatic };

// "guest-metrics", "console", "lease-file", "static".
std::string_view ToString(AddressSource s);
std::optional<AddressSource> ParseAddressSource(std::string_view name);

struct AddressObservation {
  AddressSource source = AddressSource::kStatic;
  std::string address;
  std::chrono::milliseconds at{0};  // since the book was created
  std::string evidence;             // the console line, the guest-metrics key, the lease entry
};

class AddressBook {
 public:
  AddressBook(const Clock& clock, std::vector<AddressSource> configured);

  // Records an observation (the `at` field is filled in). Returns true when it became the winner.
  // Repeats of a known (source, address) pair are ignored.
  bool Report(AddressSource source, std::string address, std::string evidence);

  std::optional<AddressObservation> Winner() const;
  std::vector<AddressObservation> All() const;  // in arrival order
  // Distinct addresses reported, when more than one.
  bool Disagreement() const;
  // Configured sources that have not reported yet.
  std::vector<AddressSource> Silent() const;
  // "waiting for the guest's address from guest-metrics, console (no source has answered)" or
  // "address 10.0.0.5 from console; silent: guest-metrics".
  std::string StatusText() const;

  // Blocks until a winner exists (returns it), `until` passes or `stop` is requested (nullopt).
  std::optional<AddressObservation> WaitForWinner(Clock::TimePoint until, std::stop_token stop);

 private:
  const Clock& clock_;
  const Clock::TimePoint created_;
  const std::vector<AddressSource> configured_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::vector<AddressObservation> seen_;
};

// The IPv4 addresses a guest agent reports for VIF `device` in VM_guest_metrics.networks
// ("<device>/ip", "<device>/ipv4/<n>"; xenapi-spec.md §3.7; checked with
// console::IsIpv4HostAddress), deduplicated, "/ip" first.
std::vector<std::string> GuestMetricsAddresses(const std::map<std::string, std::string>& networks,
                                               std::string_view device);

}  // namespace fruix::job
