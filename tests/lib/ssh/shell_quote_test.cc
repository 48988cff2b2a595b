#include "lib/ssh/shell_quote.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <string>

namespace fruix::ssh {
namespace {

// Runs `printf %s <quoted>` through /bin/sh and returns what it printed.
std::string EchoThroughShell(const std::string& value) {
  std::string command = "printf %s " + ShellQuote(value);
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return "<popen failed>";
  std::string out;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(ShellQuoteTest, QuotesAsOneSingleQuotedWord) {
  // Given plain, empty and quote-bearing strings
  // When quoted
  // Then each is one single-quoted word with embedded quotes spelled '\''.
  EXPECT_EQ(ShellQuote("abc"), "'abc'");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

TEST(ShellQuoteTest, RealShellGetsTheExactBytesBack) {
  // Given strings full of shell syntax (spaces, quotes, $, backticks, globs, newlines)
  // When quoted and handed to /bin/sh
  // Then the shell passes each through unchanged.
  for (const std::string value : {"/var/lib/fruix/ready", "dir with space/it's \"ready\"",
                                  "$(touch /nonexistent) `id` ${HOME} *", "a\nb\tc\\d", "''"}) {
    EXPECT_EQ(EchoThroughShell(value), value);
  }
}

}  // namespace
}  // namespace fruix::ssh
