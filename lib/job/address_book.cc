#include "lib/job/address_book.h"

#include <algorithm>
#include <set>

#include "lib/console/patterns.h"

namespace fruix::job {

std::string_view ToString(AddressSource s) {
  switch (s) {
    case AddressSource::kGuestMetrics:
      return "guest-metrics";
    case AddressSource::kConsole:
      return "console";
    case AddressSource::kLeaseFile:
      return "lease-file";
    case AddressSource::kStatic:
      return "static";
  }
  return "unknown";
}

std::optional<AddressSource> ParseAddressSource(std::string_view name) {
  for (AddressSource s : {AddressSource::kGuestMetrics, AddressSource::kConsole,
                          AddressSource::kLeaseFile, AddressSource::kStatic}) {
    if (ToString(s) == name) return s;
  }
  return std::nullopt;
}

AddressBook::AddressBook(const Clock& clock, std::vector<AddressSource> configured)
    : clock_(clock), created_(clock.Now()), configured_(std::move(configured)) {}

bool AddressBook::Report(AddressSource source, std::string address, std::string evidence) {
  std::lock_guard lock(mu_);
  for (const auto& o : seen_) {
    if (o.source == source && o.address == address) return false;
  }
  const bool first = seen_.empty();
  seen_.push_back({source, std::move(address),
                   std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - created_),
                   std::move(evidence)});
  if (first) cv_.notify_all();
  return first;
}

std::optional<AddressObservation> AddressBook::Winner() const {
  std::lock_guard lock(mu_);
  if (seen_.empty()) return std::nullopt;
  return seen_.front();
}

std::vector<AddressObservation> AddressBook::All() const {
  std::lock_guard lock(mu_);
  return seen_;
}

bool AddressBook::Disagreement() const {
  std::lock_guard lock(mu_);
  std::set<std::string> distinct;
  for (const auto& o : seen_) distinct.insert(o.address);
  return distinct.size() > 1;
}

std::vector<AddressSource> AddressBook::Silent() const {
  std::lock_guard lock(mu_);
  std::vector<AddressSource> out;
  for (AddressSource s : configured_) {
    bool answered = std::any_of(seen_.begin(), seen_.end(),
                                [&](const AddressObservation& o) { return o.source == s; });
    if (!answered) out.push_back(s);
  }
  return out;
}

std::string AddressBook::StatusText() const {
  auto winner = Winner();
  std::string silent;
  for (AddressSource s : Silent()) {
    if (!silent.empty()) silent += ", ";
    silent += ToString(s);
  }
  if (!winner) {
    return "waiting for the guest's address from " + (silent.empty() ? "no source" : silent) +
           " (no source has answered)";
  }
  std::string text =
      "address " + winner->address + " from " + std::string(ToString(winner->source));
  if (!silent.empty()) text += "; silent: " + silent;
  if (Disagreement()) text += "; sources disagree";
  return text;
}

std::optional<AddressObservation> AddressBook::WaitForWinner(Clock::TimePoint until,
                                                             std::stop_token stop) {
  std::unique_lock lock(mu_);
  // The clock may be a test clock: wait in real-time slices and re-check it.
  while (seen_.empty()) {
    if (stop.stop_requested() || clock_.Now() >= until) return std::nullopt;
    auto slice = std::min<Clock::Duration>(until - clock_.Now(), std::chrono::milliseconds(100));
    cv_.wait_for(lock, stop, slice, [&] { return !seen_.empty(); });
  }
  return seen_.front();
}

std::vector<std::string> GuestMetricsAddresses(const std::map<std::string, std::string>& networks,
                                               std::string_view device) {
  std::vector<std::string> out;
  auto add = [&](const std::string& v) {
    if (console::IsIpv4HostAddress(v) && std::find(out.begin(), out.end(), v) == out.end())
      out.push_back(v);
  };
  const std::string prefix = std::string(device) + "/";
  if (auto it = networks.find(prefix + "ip"); it != networks.end()) add(it->second);
  for (const auto& [key, value] : networks) {
    if (key.starts_with(prefix + "ipv4/")) add(value);
  }
  return out;
}

}  // namespace fruix::job
