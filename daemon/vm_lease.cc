#include "daemon/vm_lease.h"

#include <nlohmann/json.hpp>

#include "lib/xenapi/api.h"
#include "lib/xenapi/records.h"

namespace fruix::daemon {

using nlohmann::json;
using xenapi::Api;
using xenapi::VmRecord;

std::string EncodeLease(const Lease& lease) {
  return json{
      {"owner", lease.owner}, {"job", lease.job_id}, {"expires", FormatRfc3339(lease.expires)}}
      .dump();
}

Result<Lease> DecodeLease(std::string_view text) {
  auto bad = [&] {
    return Error::InvalidArgument("VM other_config " + std::string(kLeaseKey) + " = \"" +
                                  std::string(text.substr(0, 200)) + "\" is not a fruixd lease");
  };
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("owner") || !j["owner"].is_string() || !j.contains("job") ||
      !j["job"].is_string() || !j.contains("expires") || !j["expires"].is_string()) {
    return bad();
  }
  auto expires = ParseRfc3339(j["expires"].get<std::string>());
  if (!expires.ok()) return bad();
  return Lease{j["owner"].get<std::string>(), j["job"].get<std::string>(), *expires};
}

namespace {

Error Held(const LeaseRequest& r, const Lease& held) {
  return Error::FailedPrecondition(
      "VM " + r.vm_uuid + " is leased by fruixd \"" + held.owner + "\" (job " + held.job_id +
      ") until " + FormatRfc3339(held.expires) + "; wait for that job or remove other_config:" +
      std::string(kLeaseKey) + " if that daemon is gone");
}

Result<std::optional<Lease>> Current(const Api& api, const OpaqueRef& vm) {
  FRUIX_ASSIGN_OR_RETURN(VmRecord rec, api.GetRecord<VmRecord>(vm));
  auto it = rec.other_config.find(std::string(kLeaseKey));
  if (it == rec.other_config.end()) return std::optional<Lease>();
  auto lease = DecodeLease(it->second);
  if (!lease.ok()) return lease.error();
  return std::optional<Lease>(*lease);
}

}  // namespace

Result<std::optional<Lease>> ReadLease(xenapi::Session& session, std::string_view vm_uuid) {
  Api api(session);
  FRUIX_ASSIGN_OR_RETURN(OpaqueRef vm, api.GetByUuid<VmRecord>(vm_uuid));
  return Current(api, vm);
}

Result<Lease> AcquireLease(xenapi::Session& session, const LeaseRequest& r) {
  Api api(session);
  FRUIX_ASSIGN_OR_RETURN(OpaqueRef vm, api.GetByUuid<VmRecord>(r.vm_uuid));
  const Lease mine{r.owner, r.job_id, r.now + r.ttl};
  const std::string value = EncodeLease(mine);
  // Two rounds: a stale lease is removed once, then the atomic add decides.
  for (int round = 0; round < 2; ++round) {
    auto added = api.AddToOtherConfig<VmRecord>(vm, kLeaseKey, value);
    if (added.ok()) return mine;
    if (!added.error().IsXapi("MAP_DUPLICATE_KEY")) return added.error();
    auto current = Current(api, vm);
    if (!current.ok() && current.error().code() != ErrorCode::kInvalidArgument) {
      return current.error();
    }
    if (current.ok() && *current) {
      const Lease& held = **current;
      const bool ours = held.owner == r.owner;
      if (!ours && held.expires > r.now) return Held(r, held);
    }
    // Expired, ours (left by a job of a previous daemon), malformed, or gone meanwhile.
    FRUIX_RETURN_IF_ERROR(api.RemoveFromOtherConfig<VmRecord>(vm, kLeaseKey));
  }
  auto current = Current(api, vm);
  if (current.ok() && *current) return Held(r, **current);
  return Error::Unavailable("could not take the lease of VM " + r.vm_uuid +
                            ": another fruixd is taking it at the same time");
}

Result<Lease> RenewLease(xenapi::Session& session, const LeaseRequest& r) {
  Api api(session);
  FRUIX_ASSIGN_OR_RETURN(OpaqueRef vm, api.GetByUuid<VmRecord>(r.vm_uuid));
  FRUIX_ASSIGN_OR_RETURN(std::optional<Lease> current, Current(api, vm));
  if (current && (current->owner != r.owner || current->job_id != r.job_id)) {
    return Held(r, *current);
  }
  const Lease mine{r.owner, r.job_id, r.now + r.ttl};
  // Remove then add: xapi has no atomic replace; a competitor's add between the two wins and
  // the next renewal reports it.
  FRUIX_RETURN_IF_ERROR(api.RemoveFromOtherConfig<VmRecord>(vm, kLeaseKey));
  auto added = api.AddToOtherConfig<VmRecord>(vm, kLeaseKey, EncodeLease(mine));
  if (!added.ok()) {
    if (!added.error().IsXapi("MAP_DUPLICATE_KEY")) return added.error();
    FRUIX_ASSIGN_OR_RETURN(std::optional<Lease> now_held, Current(api, vm));
    if (now_held) return Held(r, *now_held);
    return added.error();
  }
  return mine;
}

Result<void> ReleaseLease(xenapi::Session& session, const LeaseRequest& r) {
  Api api(session);
  FRUIX_ASSIGN_OR_RETURN(OpaqueRef vm, api.GetByUuid<VmRecord>(r.vm_uuid));
  auto current = Current(api, vm);
  if (!current.ok()) return current.error();
  if (!*current || (*current)->owner != r.owner || (*current)->job_id != r.job_id) return Ok();
  return api.RemoveFromOtherConfig<VmRecord>(vm, kLeaseKey);
}

}  // namespace fruix::daemon
