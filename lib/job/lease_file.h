// job::LeaseLookup — the address a DHCP server leased to a MAC, read from its lease file: dnsmasq
// (`<expiry> <mac> <ip> <hostname> <client-id>` per line) or ISC dhcpd (`lease A.B.C.D { ...
// hardware ethernet <mac>; ... }` blocks), told apart by content. Pure parsing plus one file
// read per call; no state, any thread.
//
// Stale leases: a lease file outlives guests, so the entry a MAC had before this boot must not be
// taken for the new guest's answer. The caller takes a Snapshot before starting the VM and then
// accepts only an entry that differs from it (dnsmasq rewrites the expiry on every DHCPACK; ISC
// appends a new block with a new `starts`).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lib/core/result.h"

namespace fruix::job {

struct LeaseEntry {
  std::string address;
  std::string raw;  // the entry as written (one dnsmasq line, or the ISC block), for evidence
  bool operator==(const LeaseEntry&) const = default;
};

// The newest lease of `mac` (case-insensitive, ':' separated) in `contents`: for dnsmasq the last
// matching line, for ISC the last matching block whose binding state is active (or absent).
// nullopt when the MAC has no lease. kInvalidArgument when `mac` is not a MAC address.
Result<std::optional<LeaseEntry>> FindLease(std::string_view contents, std::string_view mac);

// FindLease on the file at `path`. A missing file is "no lease" (the server may not have
// written it yet); other read errors are kIo naming the path.
Result<std::optional<LeaseEntry>> LookupLease(const std::string& path, std::string_view mac);

// True for "aa:bb:cc:dd:ee:ff" (hex, either case).
bool IsMacAddress(std::string_view mac);

// `mac` in lower case, the form xapi and the lease files compare by.
std::string NormalizeMac(std::string_view mac);

}  // namespace fruix::job
