// ssh::ShellQuote — quoting of arguments for the remote POSIX shell that runs SSH commands
// (OpenSSH, dropbear and busybox all hand the command string to `$SHELL -c`). Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace fruix::ssh {

// Quotes `s` as one single-quoted POSIX shell word ('it'\''s'), safe for any byte string
// (spaces, quotes, `$`, newlines). The empty string becomes ''.
std::string ShellQuote(std::string_view s);

}  // namespace fruix::ssh
