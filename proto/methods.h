// proto::methods — THE table of control-protocol methods: each method's wire name, its request
// and response types (messages.h), and whether it only reads or mutates (the daemon lets the
// socket's group call read-only methods and a configured set of users/groups call mutating ones;
// root may call all). fruixd's dispatch registers a handler per Method; fruixctl's stubs call
// through the same Method values, so the two ends cannot disagree on a name or a type.
//
// Adding a method: add a Method constant, add it to kMethods, add golden files under
// tests/proto/golden/. Compile-time constants; any thread.
#pragma once

#include <array>
#include <string_view>

#include "proto/jsonrpc.h"
#include "proto/messages.h"

namespace fruix::proto {

enum class Access { kReadOnly, kMutating };

template <typename P, typename R>
struct Method {
  using Params = P;
  using Result = R;
  std::string_view name;
  Access access;
  std::string_view summary;
};

inline constexpr Method<VersionParams, VersionResult> kDaemonVersion{
    "daemon.version", Access::kReadOnly, "fruixd's version and protocol version"};
inline constexpr Method<HealthParams, HealthResult> kDaemonHealth{
    "daemon.health", Access::kReadOnly, "liveness: job counts, pools, store"};
inline constexpr Method<TargetsListParams, TargetsListResult> kTargetsList{
    "targets.list", Access::kReadOnly, "the configured targets and the job holding each"};
inline constexpr Method<DeployStartParams, DeployStartResult> kDeployStart{
    "deploy.start", Access::kMutating, "start (or queue) a deployment job; returns its id"};
inline constexpr Method<JobGetParams, JobGetResult> kJobGet{
    "job.get", Access::kReadOnly, "one job: state, phases, failure, report"};
inline constexpr Method<JobListParams, JobListResult> kJobList{
    "job.list", Access::kReadOnly, "jobs, newest first, filtered by state, target, since"};
inline constexpr Method<JobCancelParams, JobCancelResult> kJobCancel{
    "job.cancel", Access::kMutating, "cancel a queued or running job"};
inline constexpr Method<JobWatchParams, JobWatchResult> kJobWatch{
    "job.watch", Access::kReadOnly, "follow a job: job.event notifications until it ends"};
inline constexpr Method<JobLogParams, JobLogResult> kJobLog{
    "job.log", Access::kReadOnly, "a chunk of a job's console log (offset or last lines)"};

// The notification the daemon sends to watchers (params: JobEvent).
inline constexpr std::string_view kJobEventNotification = "job.event";

struct MethodInfo {
  std::string_view name;
  Access access;
  std::string_view summary;
};
template <typename M>
constexpr MethodInfo InfoOf(const M& m) {
  return {m.name, m.access, m.summary};
}

inline constexpr std::array kMethods = {
    InfoOf(kDaemonVersion), InfoOf(kDaemonHealth), InfoOf(kTargetsList),
    InfoOf(kDeployStart),   InfoOf(kJobGet),       InfoOf(kJobList),
    InfoOf(kJobCancel),     InfoOf(kJobWatch),     InfoOf(kJobLog),
};

// The table entry for `name`, or nullptr.
constexpr const MethodInfo* FindMethod(std::string_view name) {
  for (const auto& m : kMethods) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

// Client side: the request line for method `m`.
template <typename M>
std::string EncodeCall(const nlohmann::json& id, const M& m, const typename M::Params& params) {
  return EncodeRequest(id, m.name, ToJson(params));
}
// Client side: the typed result of method `m` from a response's result member.
template <typename M>
fruix::Result<typename M::Result> DecodeResult(const M& /*m*/, const nlohmann::json& result) {
  return Decode<typename M::Result>(result, "result");
}

}  // namespace fruix::proto
