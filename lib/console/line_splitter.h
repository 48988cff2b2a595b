// console::LineSplitter — turns a guest console's raw byte stream into text lines for the line
// view: lines end at LF, CR LF or a lone CR (CR CR LF is one end, not two); VT100/ANSI escape
// sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ESC \`, DCS/SOS/PM/APC `ESC P|X|^|_ ...
// ESC \`, and the two/three-byte `ESC x` / `ESC ( B` forms), NUL and every other C0 control byte
// except tab, and DEL are dropped; bytes >= 0x80 are kept (UTF-8 text). A line reaching
// max_line_bytes is cut there (never inside a UTF-8 sequence) and continues as the next line.
// State carries across Feed() calls, so a sequence or a CR LF split between reads is handled.
//
// A plain value owned by one thread (the recorder's reader thread); not thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace fruix::console {

class LineSplitter {
 public:
  // max_line_bytes is clamped to at least 16.
  explicit LineSplitter(size_t max_line_bytes = 4096);

  // Consumes `bytes`; calls `emit` with each line completed by them, in order (without its end).
  void Feed(std::string_view bytes, const std::function<void(std::string line)>& emit);

  // The cleaned text of the line not yet ended ("" if none).
  const std::string& pending() const { return pending_; }

 private:
  enum class State { kText, kEsc, kEscIntermediate, kCsi, kString, kStringEsc };
  void Text(unsigned char c, const std::function<void(std::string line)>& emit);
  void EndLine(const std::function<void(std::string line)>& emit);

  size_t max_line_bytes_;
  State state_ = State::kText;
  size_t sequence_bytes_ = 0;  // length of the escape sequence being skipped
  bool after_cr_ = false;      // the last text byte was a CR that ended a line
  std::string pending_;
};

}  // namespace fruix::console
