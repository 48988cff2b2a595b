// job::Phase — the phases of one deployment job, in order, and their wire names. Plain values.
//
//   preflight → prepare → upload → attach → start → boot → network → ssh → ready
//
// preflight  the target's objects exist and fit (VM not a template, VDI present, image valid)
// prepare    the VM is halted (clean then hard shutdown, as the policy says)
// upload     the image goes into the VDI (upload::Importer); may be skipped as identical
// attach     the VM has its bootable RW VBD for the VDI and its VIF on the target network
// start      Async.VM.start (or start_on); domid and resident_on recorded
// boot       the guest runs until it shows it is up (an address from a dynamic source, or a
//            boot-complete console milestone); console failure signatures end the job here
// network    the guest's address is known (first source wins; later sources are recorded)
// ssh        key login works and the readiness marker exists (lib/ssh/readiness.h)
// ready / failed / cancelled  terminal
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace fruix::job {

enum class Phase {
  kPreflight,
  kPrepare,
  kUpload,
  kAttach,
  kStart,
  kBoot,
  kNetwork,
  kSsh,
  kReady,
  kFailed,
  kCancelled,
};

// The working phases in order (every phase but the terminal ones).
inline constexpr std::array<Phase, 8> kWorkingPhases = {
    Phase::kPreflight, Phase::kPrepare, Phase::kUpload,  Phase::kAttach,
    Phase::kStart,     Phase::kBoot,    Phase::kNetwork, Phase::kSsh,
};

inline constexpr bool IsTerminal(Phase p) {
  return p == Phase::kReady || p == Phase::kFailed || p == Phase::kCancelled;
}

// "preflight", "prepare", ..., "ready", "failed", "cancelled".
std::string_view ToString(Phase p);
// The inverse of ToString; nullopt for anything else.
std::optional<Phase> ParsePhase(std::string_view name);

// True while the guest is (supposed to be) running: boot, network, ssh. VM power changes and
// console failure signatures end the job only in these phases.
inline constexpr bool GuestRunning(Phase p) {
  return p == Phase::kBoot || p == Phase::kNetwork || p == Phase::kSsh;
}

}  // namespace fruix::job
