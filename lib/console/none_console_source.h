// console::NoneConsoleSource — the console source of a job configured without one (or for a guest
// whose console cannot be reached): Open() always fails with kFailedPrecondition "no console source
// configured" (plus the configured reason, if any). The recorder reports state `none` for it and
// reads nothing; the job report states that no console was captured and why.
// Stateless and immutable: safe from any thread.
#pragma once

#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "lib/console/console_source.h"

namespace fruix::console {

class NoneConsoleSource final : public ConsoleSource {
 public:
  // `reason` is appended to messages, e.g. "HVM guest and no dom0 SSH access configured".
  explicit NoneConsoleSource(std::string reason = "") : reason_(std::move(reason)) {}

  std::string_view kind() const override { return kNoneKind; }
  std::string Describe() const override;
  Result<std::unique_ptr<ConsoleStream>> Open(std::stop_token stop) override;

 private:
  std::string reason_;
};

}  // namespace fruix::console
