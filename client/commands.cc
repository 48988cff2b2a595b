#include <nlohmann/json.hpp>

#include "client/command.h"
#include "client/image_commands.h"

namespace fruix::client {

const std::vector<Command>& Commands() {
  static const std::vector<Command> table = {
      {"image", "check",
       "Check an image file: format, virtual size, allocated blocks and every problem found "
       "(exit 1 if it cannot be uploaded)",
       SetupImageCheck},
      {"image", "convert",
       "Write exactly the stream an upload of IMAGE would send (a dynamic VHD by default) to OUT",
       SetupImageConvert},
  };
  return table;
}

int ReportError(const Context& ctx, const Error& error) {
  if (ctx.json) {
    nlohmann::json j;
    j["error"] = {{"code", std::string(ErrorCodeName(error.code()))}, {"message", error.message()}};
    ctx.out << j.dump(2) << "\n";
  } else {
    ctx.err << "fruixctl: " << error.message() << "\n";
  }
  return kExitFailed;
}

}  // namespace fruix::client
