// Table tests of job::Transition (lib/job/state_machine.h).
#include "lib/job/state_machine.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace fruix::job {
namespace {

struct Row {
  Phase from;
  Signal signal;
  std::optional<ErrorCode> error;
  Phase expect;
  std::optional<FailureClass> cls;
};

std::string Name(const Row& r) {
  return std::string(ToString(r.from)) + "+" + std::string(ToString(r.signal)) +
         (r.error ? "(" + std::string(ErrorCodeName(*r.error)) + ")" : "");
}

// Given each (phase, signal[, error]) of the table, When Transition runs with the full plan,
// Then the next phase and the failure class are the table's.
TEST(StateMachineTest, TransitionTable) {
  using P = Phase;
  using S = Signal;
  const auto G = FailureClass::kGuest;
  const auto I = FailureClass::kInfrastructure;
  const Row rows[] = {
      // The happy path, phase by phase.
      {P::kPreflight, S::kPhaseDone, {}, P::kPrepare, {}},
      {P::kPrepare, S::kPhaseDone, {}, P::kUpload, {}},
      {P::kUpload, S::kPhaseDone, {}, P::kAttach, {}},
      {P::kAttach, S::kPhaseDone, {}, P::kStart, {}},
      {P::kStart, S::kPhaseDone, {}, P::kBoot, {}},
      {P::kBoot, S::kPhaseDone, {}, P::kNetwork, {}},
      {P::kBoot, S::kBootEvidence, {}, P::kNetwork, {}},
      {P::kNetwork, S::kPhaseDone, {}, P::kSsh, {}},
      {P::kSsh, S::kPhaseDone, {}, P::kReady, {}},
      // Boot evidence only matters in boot.
      {P::kNetwork, S::kBootEvidence, {}, P::kNetwork, {}},
      {P::kUpload, S::kBootEvidence, {}, P::kUpload, {}},
      // Cancel ends every working phase.
      {P::kPreflight, S::kCancel, {}, P::kCancelled, {}},
      {P::kUpload, S::kCancel, {}, P::kCancelled, {}},
      {P::kBoot, S::kCancel, {}, P::kCancelled, {}},
      {P::kSsh, S::kCancel, {}, P::kCancelled, {}},
      // Failures before the guest runs are infrastructure.
      {P::kPreflight, S::kPhaseFailed, ErrorCode::kInvalidArgument, P::kFailed, I},
      {P::kUpload, S::kPhaseFailed, ErrorCode::kXapi, P::kFailed, I},
      {P::kUpload, S::kPhaseTimeout, ErrorCode::kTimeout, P::kFailed, I},
      {P::kStart, S::kPhaseFailed, ErrorCode::kXapi, P::kFailed, I},
      // While the guest runs: its misbehaviour is the guest's, tool errors are infrastructure.
      {P::kBoot, S::kPhaseTimeout, ErrorCode::kTimeout, P::kFailed, G},
      {P::kNetwork, S::kPhaseTimeout, ErrorCode::kTimeout, P::kFailed, G},
      {P::kSsh, S::kPhaseFailed, ErrorCode::kFailedPrecondition, P::kFailed, G},
      {P::kSsh, S::kPhaseFailed, ErrorCode::kTls, P::kFailed, G},  // host key vs pin
      {P::kBoot, S::kPhaseFailed, ErrorCode::kTls, P::kFailed, I},
      {P::kSsh, S::kPhaseFailed, ErrorCode::kTransport, P::kFailed, I},
      {P::kBoot, S::kPhaseFailed, ErrorCode::kXapi, P::kFailed, I},
      {P::kBoot, S::kConsoleFailure, {}, P::kFailed, G},
      {P::kSsh, S::kConsoleFailure, {}, P::kFailed, G},
      {P::kBoot, S::kVmHalted, {}, P::kFailed, G},
      {P::kNetwork, S::kVmRebooted, {}, P::kFailed, G},
      {P::kSsh, S::kVmCrashed, {}, P::kFailed, G},
      // Before the guest runs, VM power changes and console lines are expected.
      {P::kPrepare, S::kVmHalted, {}, P::kPrepare, {}},
      {P::kStart, S::kVmRebooted, {}, P::kStart, {}},
      {P::kAttach, S::kConsoleFailure, {}, P::kAttach, {}},
      // Terminal phases never change.
      {P::kReady, S::kCancel, {}, P::kReady, {}},
      {P::kFailed, S::kPhaseDone, {}, P::kFailed, {}},
      {P::kCancelled, S::kVmHalted, {}, P::kCancelled, {}},
  };
  for (const Row& r : rows) {
    std::optional<Error> err;
    if (r.error) err = Error(*r.error, "x");
    Decision d = Transition(r.from, r.signal, PhasePlan{}, err ? &*err : nullptr);
    EXPECT_EQ(d.next, r.expect) << Name(r);
    EXPECT_EQ(d.changed, r.expect != r.from) << Name(r);
    EXPECT_EQ(d.failure_class, r.cls) << Name(r);
  }
}

// Given a plan that skips upload and ssh, When phases complete, Then the skipped ones are passed
// over and network leads to ready.
TEST(StateMachineTest, SkippedPhasesArePassedOver) {
  PhasePlan plan;
  plan.skipped = {Phase::kUpload, Phase::kSsh};
  EXPECT_EQ(Transition(Phase::kPrepare, Signal::kPhaseDone, plan).next, Phase::kAttach);
  EXPECT_EQ(Transition(Phase::kNetwork, Signal::kPhaseDone, plan).next, Phase::kReady);
  EXPECT_EQ(FirstPhase(plan), Phase::kPreflight);
  plan.skipped.insert(Phase::kPreflight);
  EXPECT_EQ(FirstPhase(plan), Phase::kPrepare);
}

// Given every phase name, When it is printed and parsed back, Then it round-trips.
TEST(StateMachineTest, PhaseNamesRoundTrip) {
  for (Phase p : {Phase::kPreflight, Phase::kPrepare, Phase::kUpload, Phase::kAttach, Phase::kStart,
                  Phase::kBoot, Phase::kNetwork, Phase::kSsh, Phase::kReady, Phase::kFailed,
                  Phase::kCancelled}) {
    EXPECT_EQ(ParsePhase(ToString(p)), p);
  }
  EXPECT_EQ(ParsePhase("booting"), std::nullopt);
}

}  // namespace
}  // namespace fruix::job
