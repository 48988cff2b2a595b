#include "lib/job/phase.h"

namespace fruix::job {

std::string_view ToString(Phase p) {
  switch (p) {
    case Phase::kPreflight:
      return "preflight";
    case Phase::kPrepare:
      return "prepare";
    case Phase::kUpload:
      return "upload";
    case Phase::kAttach:
      return "attach";
    case Phase::kStart:
      return "start";
    case Phase::kBoot:
      return "boot";
    case Phase::kNetwork:
      return "network";
    case Phase::kSsh:
      return "ssh";
    case Phase::kReady:
      return "ready";
    case Phase::kFailed:
      return "failed";
    case Phase::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<Phase> ParsePhase(std::string_view name) {
  for (Phase p : {Phase::kPreflight, Phase::kPrepare, Phase::kUpload, Phase::kAttach, Phase::kStart,
                  Phase::kBoot, Phase::kNetwork, Phase::kSsh, Phase::kReady, Phase::kFailed,
                  Phase::kCancelled}) {
    if (ToString(p) == name) return p;
  }
  return std::nullopt;
}

}  // namespace fruix::job
