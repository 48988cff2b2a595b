// daemon::VmLease — the cross-host lock on a VM: a lease recorded in the VM's other_config under
// kLeaseKey, so two fruixd instances on different build hosts never deploy to the same VM. The
// value is compact JSON: {"owner":"<daemon owner>","job":"<job id>","expires":"<RFC 3339>"}.
//
// Acquire relies on xapi's VM.add_to_other_config failing with MAP_DUPLICATE_KEY when the key
// exists, which makes "create if absent" atomic on the pool. An existing lease is taken over only
// when it has expired or is our own (same owner: a job of ours that died with a previous daemon);
// otherwise Acquire fails with kFailedPrecondition naming the holder, its job and its expiry.
// Expiry is judged with this host's clock (keep build hosts NTP-synchronised; lease_ttl is
// minutes, skew of seconds does not matter).
//
// Renew rewrites the expiry of a lease we hold (kFailedPrecondition if someone else holds it now);
// Release removes it only if it is still ours. Pure functions over a Session; any thread; each
// makes a few XenAPI calls.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "lib/core/result.h"
#include "lib/core/wall_time.h"
#include "lib/xenapi/session.h"

namespace fruix::daemon {

inline constexpr std::string_view kLeaseKey = "fruix-lease";

struct Lease {
  std::string owner;
  std::string job_id;
  WallTime expires;
};

std::string EncodeLease(const Lease& lease);
// kInvalidArgument (quoting the text) for a value that is not a lease.
Result<Lease> DecodeLease(std::string_view text);

struct LeaseRequest {
  std::string vm_uuid;
  std::string owner;
  std::string job_id;
  std::chrono::milliseconds ttl{std::chrono::minutes(10)};
  WallTime now;  // the caller's clock (tests pass a fixed time)
};

// Takes the lease (see the top comment). Returns the lease written.
Result<Lease> AcquireLease(xenapi::Session& session, const LeaseRequest& request);
// Moves the expiry of our lease to now + ttl.
Result<Lease> RenewLease(xenapi::Session& session, const LeaseRequest& request);
// Removes the lease if it is ours (owner and job); a lease of someone else is left alone (ok).
Result<void> ReleaseLease(xenapi::Session& session, const LeaseRequest& request);
// The VM's current lease, if any (a malformed value is reported as kInvalidArgument).
Result<std::optional<Lease>> ReadLease(xenapi::Session& session, std::string_view vm_uuid);

}  // namespace fruix::daemon
