// job::Transition — the pure state machine of a deployment job: given the current phase and what
// just happened (a Signal), which phase comes next, and, for a failure, its class. No I/O, no
// clock, no threads: the runner (runner.h) performs the phases and feeds their outcomes and the
// asynchronous observations (VM power changes, console signatures, cancel) through this function,
// so every rule of "what ends a job where" lives here and is tested table-style.
//
// Rules:
//   - A terminal phase never changes.
//   - kCancel ends any working phase as cancelled.
//   - kPhaseFailed / kPhaseTimeout end the current phase as failed.
//   - kPhaseDone moves to the next phase of the plan (skipped phases are passed over); after the
//     last working phase comes ready.
//   - kBootEvidence ends boot (like kPhaseDone); ignored in every other phase.
//   - kVmHalted / kVmRebooted / kVmCrashed / kConsoleFailure end the job only while the guest is
//     running (boot, network, ssh); before that they are expected (prepare halts the VM, the
//     console is not read yet) and ignored.
// Failure class (what a nightly reader needs: is it the image or the infrastructure?):
//   guest           the guest ran and misbehaved: console signature, VM halted/rebooted/crashed,
//                   any failure or timeout in boot, network or ssh except infrastructure errors
//                   (a host key that does not match its pin in ssh is the guest's)
//   infrastructure  everything before the guest ran (xapi errors, upload, attach, start), and
//                   errors of the tools themselves while it runs (xapi/transport failures)
#pragma once

#include <optional>
#include <set>

#include "lib/core/error.h"
#include "lib/job/phase.h"

namespace fruix::job {

enum class Signal {
  kPhaseDone,      // the phase's action completed
  kPhaseFailed,    // the phase's action failed (its Error goes along)
  kPhaseTimeout,   // the phase's deadline passed
  kCancel,         // cancellation was requested
  kBootEvidence,   // the guest showed it is up
  kVmHalted,       // the VM went to Halted by itself
  kVmRebooted,     // the VM's domid changed (reboot, or crash with restart)
  kVmCrashed,      // the VM crashed and was preserved (Paused)
  kConsoleFailure  // a console failure signature matched
};

enum class FailureClass { kGuest, kInfrastructure };

std::string_view ToString(Signal s);
std::string_view ToString(FailureClass c);

// Which working phases run. Skipping is for phases a target does not use (e.g. ssh when the target
// has no SSH readiness check, upload when only a reboot-and-validate is asked).
struct PhasePlan {
  std::set<Phase> skipped;
  bool Runs(Phase p) const { return !skipped.contains(p); }
};

struct Decision {
  Phase next;
  bool changed = false;                       // next != the current phase
  std::optional<FailureClass> failure_class;  // set when next is kFailed
};

// `error` accompanies kPhaseFailed (may be null otherwise); it refines the failure class: inside
// boot/network/ssh, xapi and transport errors are infrastructure.
Decision Transition(Phase current, Signal signal, const PhasePlan& plan,
                    const Error* error = nullptr);

// The first phase of `plan` (preflight unless skipped).
Phase FirstPhase(const PhasePlan& plan);

}  // namespace fruix::job
