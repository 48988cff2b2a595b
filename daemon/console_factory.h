// daemon console factory — builds the console source a job's ConsoleSpec asks for, bound to the
// job's pool connection: "xapi-vt100" (the VM's XenAPI text console through an HTTP CONNECT
// tunnel), "dom0-ssh" (`xl console` in dom0 of the host the VM runs on, reached with the spec's
// dom0 SSH endpoint whose host is the resident host's address), "none". The returned factory
// borrows `session`, `http` and `ssh`, which must outlive every source it makes. Any thread.
#pragma once

#include "lib/http/http_client.h"
#include "lib/job/runner.h"
#include "lib/ssh/ssh_client.h"
#include "lib/xenapi/session.h"

namespace fruix::daemon {

job::ConsoleSourceFactory MakeConsoleFactory(xenapi::Session& session, http::HttpClient& http,
                                             ssh::SshClient& ssh);

}  // namespace fruix::daemon
