#include "lib/console/none_console_source.h"

namespace fruix::console {

std::string NoneConsoleSource::Describe() const {
  return reason_.empty() ? "no console source" : "no console source (" + reason_ + ")";
}

Result<std::unique_ptr<ConsoleStream>> NoneConsoleSource::Open(std::stop_token /*stop*/) {
  return Error::FailedPrecondition(reason_.empty() ? "no console source configured"
                                                   : "no console source configured: " + reason_);
}

}  // namespace fruix::console
