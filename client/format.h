// fruixctl's text forms for people: durations ("1m02s"), sizes ("2.0 GiB"), rates ("112.3 MB/s"),
// times, aligned tables, and the parser for the durations users type ("90s", "5m", "1h30m").
// Pure functions; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.h"
#include "lib/core/wall_time.h"

namespace fruix::client {

// "0.4s", "9.9s" under ten seconds; "41s"; "1m02s"; "2h03m04s". Rounds down.
std::string FormatDuration(std::chrono::milliseconds d);
inline std::string FormatDurationMs(uint64_t ms) {
  return FormatDuration(std::chrono::milliseconds(static_cast<int64_t>(ms)));
}

// "512 B", "1.5 KiB", "920.0 MiB", "2.0 GiB", "1.2 TiB" (binary units, one decimal).
std::string FormatSize(uint64_t bytes);

// "112.3 MB/s" (decimal megabytes per second, one decimal).
std::string FormatRate(double bytes_per_second);

// "2026-11-23 20:21:16Z" (UTC, seconds).
std::string FormatTime(WallTime t);

// A duration as users type it: one or more <number><unit> groups with units ms, s, m, h, d
// ("500ms", "90s", "5m", "1h30m", "2d"), or a bare integer meaning seconds. Must be positive.
// kInvalidArgument quoting `text` otherwise.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Rows under a header, each column as wide as its widest cell, two spaces apart; the last column
// is not padded. Every row has the header's number of cells (missing cells print empty).
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace fruix::client
