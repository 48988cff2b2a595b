#include "lib/job/state_machine.h"

namespace fruix::job {
namespace {

// The next working phase after `p` that the plan runs, or ready.
Phase NextRunning(Phase p, const PhasePlan& plan) {
  bool after = false;
  for (Phase w : kWorkingPhases) {
    if (after && plan.Runs(w)) return w;
    if (w == p) after = true;
  }
  return Phase::kReady;
}

// Errors of our own tools or of xapi (not of the guest), even while the guest runs. In the ssh
// phase kTls is the guest's host key not matching its pin: the guest's doing.
bool IsInfrastructureError(Phase phase, const Error& e) {
  switch (e.code()) {
    case ErrorCode::kTls:
      return phase != Phase::kSsh;
    case ErrorCode::kXapi:
    case ErrorCode::kTransport:
    case ErrorCode::kProtocol:
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      return true;
    default:
      return false;
  }
}

Decision Fail(Phase current, FailureClass c) {
  return {Phase::kFailed, current != Phase::kFailed, c};
}

}  // namespace

std::string_view ToString(Signal s) {
  switch (s) {
    case Signal::kPhaseDone:
      return "phase-done";
    case Signal::kPhaseFailed:
      return "phase-failed";
    case Signal::kPhaseTimeout:
      return "phase-timeout";
    case Signal::kCancel:
      return "cancel";
    case Signal::kBootEvidence:
      return "boot-evidence";
    case Signal::kVmHalted:
      return "vm-halted";
    case Signal::kVmRebooted:
      return "vm-rebooted";
    case Signal::kVmCrashed:
      return "vm-crashed";
    case Signal::kConsoleFailure:
      return "console-failure";
  }
  return "unknown";
}

std::string_view ToString(FailureClass c) {
  return c == FailureClass::kGuest ? "guest" : "infrastructure";
}

Phase FirstPhase(const PhasePlan& plan) {
  for (Phase w : kWorkingPhases) {
    if (plan.Runs(w)) return w;
  }
  return Phase::kReady;
}

Decision Transition(Phase current, Signal signal, const PhasePlan& plan, const Error* error) {
  const Decision stay{current, false, std::nullopt};
  if (IsTerminal(current)) return stay;
  const FailureClass phase_class =
      GuestRunning(current) ? FailureClass::kGuest : FailureClass::kInfrastructure;
  switch (signal) {
    case Signal::kCancel:
      return {Phase::kCancelled, true, std::nullopt};
    case Signal::kPhaseFailed:
      if (error != nullptr && IsInfrastructureError(current, *error)) {
        return Fail(current, FailureClass::kInfrastructure);
      }
      return Fail(current, phase_class);
    case Signal::kPhaseTimeout:
      return Fail(current, phase_class);
    case Signal::kPhaseDone: {
      Phase next = NextRunning(current, plan);
      return {next, next != current, std::nullopt};
    }
    case Signal::kBootEvidence:
      if (current != Phase::kBoot) return stay;
      return Transition(current, Signal::kPhaseDone, plan, nullptr);
    case Signal::kVmHalted:
    case Signal::kVmRebooted:
    case Signal::kVmCrashed:
    case Signal::kConsoleFailure:
      if (!GuestRunning(current)) return stay;
      return Fail(current, FailureClass::kGuest);
  }
  return stay;
}

}  // namespace fruix::job
