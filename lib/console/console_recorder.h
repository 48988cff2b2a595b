// console::ConsoleRecorder — records one job's guest console: every byte into the job's log file,
// cleaned-up lines into a bounded ring for live followers, and each line to a callback (the job
// engine feeds its PatternMatcher from it). Created by the job runner for one job, destroyed (or
// Stop()ped) when the job ends.
//
// It owns one reader thread, started by Start(), which loops until Stop():
//   Open the source → read → append the bytes to the log file → split them into lines → on drop or
//   error, reconnect with backoff (100 ms doubling to 2 s, reset after a connection that delivered
//   bytes) → Open again.
//
// Log file: opened once with O_WRONLY|O_APPEND|O_CREAT, mode 0640, never truncated; every byte
// read is written straight through (write(2), no user-space buffer), so the file continues
// across reconnects and survives a crash of the daemon up to the last read.
//
// Line view: lines end at LF, CR LF or a lone CR. VT100/ANSI escape sequences (CSI, OSC, DCS and
// two/three-byte ESC forms), NUL and other C0 control bytes except tab, and DEL are removed. A
// line longer than max_line_bytes is cut there and the rest continues as the next line. Each
// complete line gets the next sequence number (1, 2, ...) and enters the ring of the last
// ring_lines lines. A line still without its end after partial_after of silence (e.g. a prompt
// "Enter full pathname of shell or RETURN for /bin/sh:") is handed to the callback as partial (not
// put in the ring), again whenever it has grown and gone silent again, and finally as complete
// when its end arrives; the partial deliveries carry the sequence number the line will get.
//
// States: kConnecting (first Open in progress), kConnected, kReconnecting (after a drop or a
// transient Open failure), kUnavailable (Open failed with kFailedPrecondition, kNotFound,
// kPermissionDenied, kInvalidArgument or kTls: no console right now, e.g. an HVM guest's missing
// text console; still retried with the same backoff, so a VM that starts or reboots later is
// picked up), kNone (the source is of kind "none": nothing is read and no thread loops), kStopped
// (after Stop()). The job engine may start the recorder before VM.start returns: Open fails
// (unavailable) until the VM runs, then the first connection captures the boot.
//
// Threads: Start() and Stop() from the owning thread. Status(), Lines(), Tail() and log_path() are
// safe from any thread at any time (a mutex guards the ring and counters; it is never held across
// I/O or a callback). The callbacks run on the reader thread, one at a time, in order; they must
// not block for long and must not call Stop() or destroy the recorder.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/console/console_source.h"
#include "lib/core/error.h"
#include "lib/core/result.h"

namespace fruix::console {

enum class RecorderState { kConnecting, kConnected, kReconnecting, kUnavailable, kNone, kStopped };

// "connecting", "connected", "reconnecting", "unavailable", "none", "stopped".
std::string_view RecorderStateName(RecorderState state);

// One line of the line view (escape sequences and control bytes removed, no line end).
struct ConsoleLine {
  uint64_t seq = 0;  // 1 for the first line of the recording, +1 per complete line
  std::string text;
  std::chrono::system_clock::time_point time;  // when the line's end (or silence) was seen
};

// `partial` is true for a line delivered after silence without its end; the same seq comes again
// later (partial again when it grew, finally complete).
using LineCallback = std::function<void(const ConsoleLine& line, bool partial)>;
// Called on every state change (and on every failed reconnect attempt) with the new state and,
// for kReconnecting/kUnavailable/kNone, the error behind it.
using StateCallback = std::function<void(RecorderState state, const std::optional<Error>& error)>;

struct ConsoleRecorderOptions {
  std::filesystem::path log_path;  // required; parent directory must exist
  size_t ring_lines = 2000;        // lines kept for Lines()/Tail(); at least 1
  size_t max_line_bytes = 4096;    // a longer line is cut; at least 16
  std::chrono::milliseconds partial_after{300};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{2000};
  // Longest single wait inside ConsoleStream::Read; bounds how quickly Stop() is noticed.
  std::chrono::milliseconds read_wait{100};
  LineCallback on_line;    // may be empty
  StateCallback on_state;  // may be empty
};

struct ConsoleRecorderStatus {
  RecorderState state = RecorderState::kConnecting;
  std::string source_kind;         // ConsoleSource::kind()
  std::string source_description;  // ConsoleSource::Describe()
  std::filesystem::path log_path;
  uint64_t bytes = 0;               // console bytes written to the log file
  uint64_t lines = 0;               // complete lines so far (== sequence number of the last line)
  uint64_t connects = 0;            // successful Open() calls
  uint64_t reconnects = 0;          // successful Open() calls after the first
  std::optional<Error> last_error;  // the latest Open/Read/write failure, kept after recovery
  std::string partial_line;         // the current unterminated line (cleaned), "" if none
};

class ConsoleRecorder {
 public:
  // Opens (creates) the log file and starts the reader thread. `source` must not be null.
  // Errors: kInvalidArgument for bad options, kIo (naming the path) if the log file cannot be
  // opened. Nothing is started on error.
  static Result<std::unique_ptr<ConsoleRecorder>> Start(std::unique_ptr<ConsoleSource> source,
                                                        ConsoleRecorderOptions options);

  // Stops (as Stop()) and releases everything.
  ~ConsoleRecorder();
  ConsoleRecorder(const ConsoleRecorder&) = delete;
  ConsoleRecorder& operator=(const ConsoleRecorder&) = delete;

  // Asks the reader to stop, closes the stream and joins: returns within about
  // read_wait + the source's reaction to its stop token (well under a second for the shipped
  // sources). A pending partial line is delivered once more as partial (if it changed) but is not
  // entered in the ring. Idempotent. State becomes kStopped (on_state is not called for it).
  void Stop();

  ConsoleRecorderStatus Status() const;

  // Up to `max` ring lines with seq > since_seq, oldest first. A follower passes the last seq it
  // saw (0 at first); if lines it never saw were already evicted, the result starts at the oldest
  // line still held (its seq tells the gap).
  std::vector<ConsoleLine> Lines(uint64_t since_seq, size_t max) const;

  // The last `n` ring lines, oldest first.
  std::vector<ConsoleLine> Tail(size_t n) const;

  const std::filesystem::path& log_path() const;

 private:
  struct Impl;
  explicit ConsoleRecorder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fruix::console
