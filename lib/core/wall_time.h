// fruix wall time — the UTC timestamps that reports, the control protocol and the job store
// exchange, and their one text form: RFC 3339 with milliseconds ("2026-11-23T20:21:16.042Z").
// Pure functions; any thread.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "lib/core/result.h"

namespace fruix {

using WallTime = std::chrono::system_clock::time_point;

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (always UTC, always milliseconds).
std::string FormatRfc3339(WallTime t);

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)"; a fraction beyond milliseconds is truncated.
// kInvalidArgument quoting the text when it is anything else or names an impossible date.
Result<WallTime> ParseRfc3339(std::string_view text);

// Milliseconds since the Unix epoch, and back (the job store's integer form).
int64_t ToUnixMillis(WallTime t);
WallTime FromUnixMillis(int64_t ms);

}  // namespace fruix
