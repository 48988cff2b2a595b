#include "lib/console/line_splitter.h"

#include <algorithm>

namespace fruix::console {
namespace {

constexpr unsigned char kEsc = 0x1b;
constexpr unsigned char kBel = 0x07;
constexpr unsigned char kCan = 0x18;
constexpr unsigned char kSub = 0x1a;
// Escape sequences longer than these are garbage: give up skipping and show text again.
constexpr size_t kMaxCsi = 64;
constexpr size_t kMaxString = 1024;

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

LineSplitter::LineSplitter(size_t max_line_bytes)
    : max_line_bytes_(std::max<size_t>(max_line_bytes, 16)) {}

void LineSplitter::EndLine(const std::function<void(std::string line)>& emit) {
  std::string line = std::move(pending_);
  pending_.clear();
  emit(std::move(line));
}

void LineSplitter::Text(unsigned char c, const std::function<void(std::string line)>& emit) {
  if (c == '\r') {
    if (!after_cr_) EndLine(emit);
    after_cr_ = true;
    return;
  }
  if (c == '\n') {
    if (!after_cr_) EndLine(emit);
    after_cr_ = false;
    return;
  }
  after_cr_ = false;
  if ((c < 0x20 && c != '\t') || c == 0x7f) return;
  if (pending_.size() >= max_line_bytes_) {
    // Cut before the UTF-8 sequence `c` continues, so no character is split.
    size_t cut = pending_.size();
    if (IsContinuation(c)) {
      size_t start = cut;
      while (start > 0 && cut - start < 3 &&
             IsContinuation(static_cast<unsigned char>(pending_[start - 1]))) {
        --start;
      }
      if (start > 0 && (static_cast<unsigned char>(pending_[start - 1]) & 0xC0) == 0xC0) {
        cut = start - 1;
      }
    }
    std::string rest = pending_.substr(cut);
    pending_.resize(cut);
    EndLine(emit);
    pending_ = std::move(rest);
  }
  pending_.push_back(static_cast<char>(c));
}

void LineSplitter::Feed(std::string_view bytes, const std::function<void(std::string line)>& emit) {
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    switch (state_) {
      case State::kText:
        if (c == kEsc) {
          state_ = State::kEsc;
          after_cr_ = false;
        } else {
          Text(c, emit);
        }
        break;
      case State::kEsc:
        sequence_bytes_ = 0;
        if (c == '[') {
          state_ = State::kCsi;
        } else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
          state_ = State::kString;
        } else if (c >= 0x20 && c <= 0x2f) {
          state_ = State::kEscIntermediate;
        } else if (c == kEsc) {
          state_ = State::kEsc;
        } else if (c < 0x20) {
          state_ = State::kText;  // CAN/SUB or a stray control: abandon the sequence
          if (c != kCan && c != kSub) Text(c, emit);
        } else {
          state_ = State::kText;  // a two-byte sequence such as ESC 7, ESC M, ESC c
        }
        break;
      case State::kEscIntermediate:
        if (c >= 0x20 && c <= 0x2f && ++sequence_bytes_ < kMaxCsi) break;
        state_ = State::kText;
        if (c < 0x20 || c >= 0x7f) Text(c, emit);  // not a final byte: it is text again
        break;
      case State::kCsi:
        if (c >= 0x40 && c <= 0x7e) {
          state_ = State::kText;  // the final byte
        } else if (c == kEsc) {
          state_ = State::kEsc;
        } else if (c == kCan || c == kSub) {
          state_ = State::kText;
        } else if (c < 0x20) {
          Text(c, emit);  // C0 controls act even inside a CSI sequence (VT100)
        } else if (c >= 0x80 || ++sequence_bytes_ > kMaxCsi) {
          state_ = State::kText;
          Text(c, emit);
        }
        break;
      case State::kString:
        if (c == kBel || c == kCan || c == kSub || ++sequence_bytes_ > kMaxString) {
          state_ = State::kText;
        } else if (c == kEsc) {
          state_ = State::kStringEsc;
        }
        break;
      case State::kStringEsc:
        // ESC \ ends the string; any other ESC x starts a new sequence.
        if (c == '\\') {
          state_ = State::kText;
        } else {
          state_ = State::kEsc;
          Feed(std::string_view(&ch, 1), emit);
        }
        break;
    }
  }
}

}  // namespace fruix::console
