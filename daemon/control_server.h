// daemon::ControlServer — the transport layer of fruixd's control socket: a Unix stream socket
// (created with the configured mode and group) whose connections carry one JSON-RPC message per
// line. It frames bytes into lines (proto::LineBuffer: 1 MiB per message), reads each peer's
// credentials (SO_PEERCRED) once when it connects, collects descriptors passed with SCM_RIGHTS
// and hands every complete line, with its peer and descriptors, to the Dispatcher. Answers and
// notifications go back through the connection's Outbox: a write queue bounded by
// max_outbox_bytes (a peer that stops reading is disconnected rather than buffered without end).
//
// Passed descriptors: send them in the same sendmsg() as the request line they belong to. They go
// to the request whose line contains the last byte of the recvmsg() that delivered them; at most
// 4 per request (more, or a truncated control message, refuses the request with -32600). Those
// not taken by a request are closed.
//
// A peer that shuts down its sending side (socat at the end of its input) still gets the answers
// to the requests it sent; the connection then ends.
//
// Threads: the io_context must be run by one thread, "the io thread", which owns every
// connection. Start, Stop, CloseAll and the destructor run on the io thread or while the
// io_context is not running; connections() may be called from any thread. Outbox handles may
// outlive the server (they are then closed), not the io_context.
#pragma once

#include <sys/types.h>

#include <asio/io_context.hpp>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "daemon/dispatcher.h"
#include "lib/core/result.h"

namespace fruix::daemon {

struct ServerOptions {
  std::filesystem::path socket;  // e.g. /run/fruixd/fruixd.sock
  mode_t mode = 0660;            // permission bits of the socket file
  std::string group;             // group owning the socket file ("" = leave the creator's)
  size_t max_connections = 256;  // more are answered with one error line and closed
  size_t max_outbox_bytes = size_t{8} << 20;  // per connection; over it the peer is dropped
  int backlog = 1024;  // listen() backlog (the kernel caps it at net.core.somaxconn)
};

// The largest number of descriptors one request may carry.
inline constexpr size_t kMaxFdsPerRequest = 4;

class ControlServer {
 public:
  // `io` and `dispatcher` must outlive the server.
  ControlServer(asio::io_context& io, Dispatcher& dispatcher, ServerOptions options);
  // Stop() and CloseAll().
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates the socket and starts accepting. The parent directory is created if missing (mode
  // 0755); a stale socket file (nobody listening) is replaced; the file gets `mode` and `group`.
  // Errors: kFailedPrecondition when the dispatcher lacks a handler (Dispatcher::CheckComplete),
  // when another process listens on the path (naming it), when the path exists and is not a
  // socket, or when already started; kInvalidArgument for an unknown group or a path too long
  // for a Unix socket; kIo when the file system or the kernel refuses.
  Result<void> Start();
  // Closes the acceptor (no new connections) and removes the socket file (if it is still the one
  // this server created); open connections carry on. Idempotent.
  void Stop();
  // Ends every open connection now (queued output is dropped); their OnClose callbacks run.
  void CloseAll();
  // Open connections (not counting refused ones).
  size_t connections() const;
  const std::filesystem::path& socket_path() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fruix::daemon
