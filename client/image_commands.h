// `fruixctl image ...`: local image commands that need no daemon (like qemu-img). The image logic
// lives in lib/image; these handlers parse options, make one call and print.
#pragma once

#include "client/command.h"

namespace fruix::client {

Handler SetupImageCheck(CLI::App& app);
Handler SetupImageConvert(CLI::App& app);

}  // namespace fruix::client
