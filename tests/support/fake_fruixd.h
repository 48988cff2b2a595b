// Test support: FakeFruixd, a scripted stand-in for fruixd's control socket, for client tests.
// It listens on an AF_UNIX stream socket in a fresh temporary directory, records every request
// line with the file descriptors that came with it (SCM_RIGHTS), and answers from a script keyed
// by method: a result, a JSON-RPC error, nothing at all (silence), notifications before or after
// the answer, and/or closing the connection. Tests can also push lines (job.event notifications)
// to every open connection, or close them all, at any time. Unknown methods are answered with
// kMethodNotFound.
//
// Threads: one server thread owned by the fake runs the sockets and the scripts (a script runs on
// that thread; it must not call back into the fake). Every public method is safe from any thread.
// The destructor stops the thread, closes every socket and received descriptor, and removes the
// directory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "proto/jsonrpc.h"
#include "proto/messages.h"

namespace fruix::testing {

struct FakeRequest {
  std::string line;  // as received, without the newline
  nlohmann::json id;
  std::string method;
  nlohmann::json params;
  std::vector<int> fds;   // received with this request; owned by the fake (valid until destroyed)
  int connection = 0;     // 1-based, in accept order
  size_t call_index = 0;  // 0 for the first request of this method, 1 for the second, ...
};

struct FakeReply {
  std::vector<std::string> before;  // lines sent before the answer (e.g. notifications)
  std::optional<nlohmann::json> result;
  std::optional<proto::RpcError> error;
  std::vector<std::string> after;  // lines sent after the answer
  bool close = false;              // close the connection once the lines are sent
  // Neither result nor error: no answer (the fake stays silent).

  static FakeReply Result(nlohmann::json r) {
    FakeReply reply;
    reply.result = std::move(r);
    return reply;
  }
  static FakeReply Error(proto::RpcError e) {
    FakeReply reply;
    reply.error = std::move(e);
    return reply;
  }
  static FakeReply Silent() { return {}; }
};

using FakeScript = std::function<FakeReply(const FakeRequest&)>;

class FakeFruixd {
 public:
  FakeFruixd();
  ~FakeFruixd();
  FakeFruixd(const FakeFruixd&) = delete;
  FakeFruixd& operator=(const FakeFruixd&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  // The temporary directory holding the socket (tests may put other files there).
  const std::string& dir() const { return dir_; }

  // Sets how `method` is answered (replacing an earlier script).
  void On(const std::string& method, FakeScript script);
  // Shorthand: always answer `method` with `result`.
  void OnResult(const std::string& method, nlohmann::json result);

  // Sends `line` (a newline is added when missing) to every open connection.
  void Push(std::string line);
  // Closes every open connection (the listener stays open).
  void CloseConnections();

  // Every request so far, in arrival order.
  std::vector<FakeRequest> requests() const;
  // Blocks until at least `n` requests arrived or `timeout` passed; true if they did.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const;

  // A job.event notification line.
  static std::string Event(const proto::JobEvent& event);
  // Every byte readable through `fd` from offset 0 (pread; the descriptor's offset is unchanged).
  static std::string ReadAll(int fd);

 private:
  struct Connection;
  void Run();
  void Wake();
  void Accept();
  // Reads what is available; false when the connection ended.
  bool Receive(Connection& c);
  void Handle(Connection& c, const std::string& line, std::vector<int> fds);
  void SendLine(Connection& c, std::string line);

  std::string dir_;
  std::string socket_path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd
  std::thread thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, FakeScript> scripts_;
  std::map<std::string, size_t> calls_;
  std::vector<FakeRequest> requests_;
  std::vector<std::string> pushes_;
  bool close_all_ = false;
  std::vector<int> received_fds_;

  // Server thread only.
  std::vector<std::unique_ptr<Connection>> connections_;
  int next_connection_ = 1;
};

}  // namespace fruix::testing
