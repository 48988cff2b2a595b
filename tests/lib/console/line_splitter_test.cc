// LineSplitter: line ends, escape/control stripping, the line cap, state across reads.
#include "lib/console/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fruix::console {
namespace {

using namespace std::string_literals;

std::vector<std::string> Split(LineSplitter& s, std::string_view bytes) {
  std::vector<std::string> out;
  s.Feed(bytes, [&](std::string line) { out.push_back(std::move(line)); });
  return out;
}

// Given LF, CRLF, lone CR and CR CR LF ends, Then each ends exactly one line; blank LF lines stay.
TEST(LineSplitterTest, LineEnds) {
  LineSplitter s;
  EXPECT_EQ(Split(s, "a\nb\r\nc\rd\r\r\ne\n\nf"),
            (std::vector<std::string>{"a", "b", "c", "d", "e", ""}));
  EXPECT_EQ(s.pending(), "f");
}

// Given a CRLF split across two reads, Then it is one line end, not two.
TEST(LineSplitterTest, CrLfSplitAcrossReads) {
  LineSplitter s;
  EXPECT_EQ(Split(s, "one\r"), std::vector<std::string>{"one"});
  EXPECT_EQ(Split(s, "\ntwo\r"), std::vector<std::string>{"two"});
  EXPECT_EQ(Split(s, "\n"), std::vector<std::string>{});
  EXPECT_EQ(s.pending(), "");
}

// Given VT100 colour, cursor, OSC title, DCS, charset and two-byte sequences, NULs and other
// controls, Then only the text (and tabs) remains.
TEST(LineSplitterTest, StripsEscapesAndControls) {
  LineSplitter s;
  const std::string in =
      "\x1b[1;32mOK\x1b[0m\tdone\x07\n"  // SGR + BEL
      "\x1b]0;title\x07"
      "after-osc\n"                 // OSC ended by BEL
      "\x1b]2;t\x1b\\after-st\n"    // OSC ended by ST
      "\x1bP1$r0m\x1b\\dcs-gone\n"  // DCS
      "\x1b(Bcharset\x1b"
      "7saved\x1b"
      "8\n"                             // ESC ( B, ESC 7, ESC 8
      "nul\0byte\x7f\x08\n"s            // NUL, DEL, BS
      "\x1b[2J\x1b[H\x1b[?25lclear\n";  // clear screen, home, private mode
  EXPECT_EQ(Split(s, in), (std::vector<std::string>{"OK\tdone", "after-osc", "after-st", "dcs-gone",
                                                    "charsetsaved", "nulbyte", "clear"}));
}

// Given an escape sequence split byte by byte across reads, Then it is still removed.
TEST(LineSplitterTest, EscapeSplitAcrossReads) {
  LineSplitter s;
  std::string in = "x\x1b[38;5;196my\n";
  std::vector<std::string> lines;
  for (char c : in) {
    for (auto& l : Split(s, std::string_view(&c, 1))) lines.push_back(l);
  }
  EXPECT_EQ(lines, std::vector<std::string>{"xy"});
}

// Given a line longer than the cap, Then it is cut at the cap and continues as the next line;
// a UTF-8 character is never split.
TEST(LineSplitterTest, CapsLongLines) {
  LineSplitter s(16);
  auto lines = Split(s, std::string(40, 'a') + "\n");
  EXPECT_EQ(lines, (std::vector<std::string>{std::string(16, 'a'), std::string(16, 'a'),
                                             std::string(8, 'a')}));
  LineSplitter u(16);
  // 15 ASCII bytes then "é" (2 bytes): the cut goes before the é.
  auto utf = Split(u, std::string(15, 'b') + "\xc3\xa9" + "z\n");
  ASSERT_EQ(utf.size(), 2u);
  EXPECT_EQ(utf[0], std::string(15, 'b'));
  EXPECT_EQ(utf[1], "\xc3\xa9z");
  // The default cap is 4 KiB.
  LineSplitter d;
  auto big = Split(d, std::string(5000, 'c') + "\n");
  ASSERT_EQ(big.size(), 2u);
  EXPECT_EQ(big[0].size(), 4096u);
  EXPECT_EQ(big[1].size(), 5000u - 4096u);
}

// Given a garbage CSI that never ends, Then text is shown again after the sequence limit.
TEST(LineSplitterTest, RunawaySequenceIsBounded) {
  LineSplitter s;
  auto lines = Split(s, "\x1b[" + std::string(100, '1') + "\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_FALSE(lines[0].empty());
}

}  // namespace
}  // namespace fruix::console
