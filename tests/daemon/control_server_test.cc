#include "daemon/control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace fruix::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using proto::RpcCode;

constexpr auto kWait = std::chrono::seconds(10);
constexpr uid_t kNobody = 65534;

int Code(RpcCode c) { return static_cast<int>(c); }

// A blocking control-socket client with bounded reads and writes (SO_RCVTIMEO/SO_SNDTIMEO).
class Client {
 public:
  explicit Client(const fs::path& path) {
    fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      connect_errno_ = errno;
      fd_.Reset();
      return;
    }
    timeval tv{10, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  bool connected() const { return fd_.valid(); }
  int connect_errno() const { return connect_errno_; }
  int fd() const { return fd_.get(); }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0) << std::strerror(errno);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // One sendmsg() carrying `bytes` and the descriptors.
  void SendWithFds(std::string_view bytes, const std::vector<int>& fds) {
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    ASSERT_EQ(::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()))
        << std::strerror(errno);
  }
  void Call(const json& id, std::string_view method, const json& params = json::object()) {
    Send(proto::EncodeRequest(id, method, params));
  }
  // The next line (without newline); nullopt at end of stream, on error or after the timeout.
  std::optional<std::string> ReadLine() {
    for (;;) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      char chunk[65536];
      ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      eof_ = n == 0;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }
  json ReadJson() {
    auto line = ReadLine();
    EXPECT_TRUE(line.has_value()) << "no line from fruixd";
    if (!line) return json();
    return json::parse(*line);
  }
  // True when the server ended the connection (after any lines still buffered).
  bool ReadsEof() {
    while (ReadLine()) {
    }
    return eof_;
  }
  void ShutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }
  void Close() { fd_.Reset(); }

 private:
  UniqueFd fd_;
  int connect_errno_ = 0;
  std::string buffer_;
  bool eof_ = false;  // the last read saw the end of the stream
};

fs::path MakeTempDir() {
  char tmpl[] = "/tmp/fruix-control-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

size_t OpenDescriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

json DeployParams() { return {{"target", "t"}, {"image", {{"passed_fd", true}}}}; }

// A server on a temporary socket, its io thread, and handlers whose behaviour tests steer.
class ControlServerTest : public ::testing::Test {
 protected:
  ControlServerTest() : dir_(MakeTempDir()), dispatcher_(AccessPolicy{}) {
    options_.socket = dir_ / "run" / "fruixd.sock";
    RegisterHandlers();
  }
  ~ControlServerTest() override {
    if (thread_.joinable()) {
      RunOnIo([this] {
        if (server_) {
          server_->Stop();
          server_->CloseAll();
        }
      });
      work_.reset();
      io_.stop();
      thread_.join();
    }
    if (flood_.joinable()) flood_.join();
    server_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void StartServer() {
    server_ = std::make_unique<ControlServer>(io_, dispatcher_, options_);
    auto started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    thread_ = std::thread([this] { io_.run(); });
  }

  // Runs `fn` on the io thread and waits (bounded) for it.
  template <typename F>
  void RunOnIo(F fn) {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    asio::post(io_, [&fn, done] {
      fn();
      done->set_value();
    });
    ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  }

  void RegisterHandlers() {
    dispatcher_.Register(proto::kDaemonVersion, [this](auto, CallContext& ctx, auto reply) {
      {
        std::lock_guard lock(mu_);
        last_peer_ = ctx.peer;
        last_fd_count_ = ctx.fds.size();
      }
      reply.Ok(proto::VersionResult{"test", 1, "fruix.job-report/1"});
    });
    dispatcher_.Register(proto::kDaemonHealth, [](auto, CallContext&, auto reply) {
      proto::HealthResult h;
      h.status = "ok";
      reply.Ok(h);
    });
    dispatcher_.Register(proto::kTargetsList, [](auto, CallContext&, auto reply) { reply.Ok({}); });
    // Answers "fds=<n>:<first bytes of the first descriptor>".
    dispatcher_.Register(proto::kDeployStart, [](auto, CallContext& ctx, auto reply) {
      std::string content;
      if (!ctx.fds.empty()) {
        char buf[32];
        ssize_t n = ::pread(ctx.fds[0].get(), buf, sizeof(buf), 0);
        if (n > 0) content.assign(buf, static_cast<size_t>(n));
      }
      reply.Ok({"fds=" + std::to_string(ctx.fds.size()) + ":" + content, "running", 0});
    });
    // job_id "slow" keeps its reply for the test to complete.
    dispatcher_.Register(proto::kJobGet, [this](proto::JobGetParams p, CallContext&, auto reply) {
      if (p.job_id == "slow") {
        std::lock_guard lock(mu_);
        slow_reply_ = reply;
        return;
      }
      proto::JobGetResult r;
      r.job.job_id = p.job_id;
      r.job.state = "ready";
      reply.Ok(r);
    });
    dispatcher_.Register(proto::kJobList, [](auto, CallContext&, auto reply) { reply.Ok({}); });
    dispatcher_.Register(proto::kJobCancel, [](proto::JobCancelParams p, CallContext&, auto reply) {
      reply.Ok({p.job_id, "cancelled"});
    });
    // Keeps the outbox and reports its end; job_id "flood" floods it from another thread.
    dispatcher_.Register(proto::kJobWatch,
                         [this](proto::JobWatchParams p, CallContext& ctx, auto reply) {
                           {
                             std::lock_guard lock(mu_);
                             watch_outbox_ = ctx.outbox;
                           }
                           ctx.outbox->OnClose([this] {
                             if (!watch_close_seen_.exchange(true))
                               watch_closed_promise_.set_value();
                           });
                           proto::JobWatchResult r;
                           r.job.job_id = p.job_id;
                           r.job.state = "running";
                           r.watching = true;
                           reply.Ok(r);
                           if (p.job_id == "flood") StartFlood(ctx.outbox);
                         });
    dispatcher_.Register(proto::kJobLog, [](auto, CallContext&, auto) -> void {
      throw std::runtime_error("handler exploded");
    });
  }

  void StartFlood(std::shared_ptr<Outbox> outbox) {
    flood_ = std::thread([this, outbox] {
      const json params = {{"job_id", "flood"},
                           {"kind", "console"},
                           {"console", {{"seq", 1}, {"text", std::string(64 * 1024, 'x')}}}};
      const std::string line = proto::EncodeNotification("job.event", params);
      flood_line_bytes_ = line.size();
      for (int i = 0; i < kFloodLines; ++i) {
        if (!outbox->SendLine(line)) break;
        ++flood_accepted_;
      }
    });
  }

  // Ready once the (first) watching connection has ended.
  std::shared_future<void> WatchClosed() { return watch_closed_; }
  std::shared_ptr<Outbox> WatchOutbox() {
    std::lock_guard lock(mu_);
    return watch_outbox_;
  }

  static constexpr int kFloodLines = 4000;  // 256 MiB if nothing stopped it

  fs::path dir_;
  ServerOptions options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  Dispatcher dispatcher_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;

  std::mutex mu_;
  std::optional<Peer> last_peer_;
  size_t last_fd_count_ = 0;
  std::optional<Reply<proto::JobGetResult>> slow_reply_;
  std::shared_ptr<Outbox> watch_outbox_;
  std::promise<void> watch_closed_promise_;
  std::shared_future<void> watch_closed_ = watch_closed_promise_.get_future().share();
  std::atomic<bool> watch_close_seen_{false};
  std::thread flood_;
  std::atomic<size_t> flood_accepted_{0};
  std::atomic<size_t> flood_line_bytes_{0};
};

TEST_F(ControlServerTest, AnswersPipelinedRequestsByIdAndNotNotifications) {
  StartServer();
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  // Given four requests in one write: a slow job.get (id 1), daemon.version (id 2), a
  // notification, daemon.health (id "three")
  c.Send(proto::EncodeRequest(1, "job.get", {{"job_id", "slow"}}) +
         proto::EncodeRequest(2, "daemon.version", json::object()) +
         proto::EncodeRequest(nullptr, "daemon.version", json::object()) +
         proto::EncodeRequest("three", "daemon.health", json::object()));
  // When the fast ones are answered first
  json first = c.ReadJson();
  json second = c.ReadJson();
  EXPECT_EQ(first["id"], 2);
  EXPECT_EQ(first["result"]["version"], "test");
  EXPECT_EQ(second["id"], "three");
  EXPECT_EQ(second["result"]["status"], "ok");
  // And the slow one is completed later from this (non-io) thread
  std::optional<Reply<proto::JobGetResult>> slow;
  {
    std::lock_guard lock(mu_);
    slow = slow_reply_;
    slow_reply_.reset();
  }
  ASSERT_TRUE(slow.has_value());
  proto::JobGetResult r;
  r.job.job_id = "slow";
  r.job.state = "running";
  EXPECT_TRUE(slow->Ok(r));
  slow.reset();
  // Then its answer arrives matched by id 1, and the notification never got one
  json third = c.ReadJson();
  EXPECT_EQ(third["id"], 1);
  EXPECT_EQ(third["result"]["job"]["job_id"], "slow");
  c.Call(4, "daemon.version");
  EXPECT_EQ(c.ReadJson()["id"], 4);
}

TEST_F(ControlServerTest, HandlersSeeTheRealPeerCredentials) {
  StartServer();
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  // Given a connection from this process
  // When it calls daemon.version
  c.Call(1, "daemon.version");
  ASSERT_EQ(c.ReadJson()["id"], 1);
  // Then the handler saw this process's uid, gid and pid
  std::lock_guard lock(mu_);
  ASSERT_TRUE(last_peer_.has_value());
  EXPECT_EQ(last_peer_->uid, ::geteuid());
  EXPECT_EQ(last_peer_->gid, ::getegid());
  EXPECT_EQ(last_peer_->pid, ::getpid());
}

TEST_F(ControlServerTest, ProtocolErrorsAreAnsweredAndTheConnectionStaysUsable) {
  StartServer();
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  const json bad_params = {{"job_id", 5}};
  const auto decoder = proto::Decode<proto::JobGetParams>(bad_params, "params");
  ASSERT_FALSE(decoder.ok());
  // Given blank lines, broken JSON, an unknown method, bad params and a throwing handler
  c.Send("\n   \r\n{\"jsonrpc\":\"2.0\",\"id\":1,nope\n");
  c.Call(2, "job.explode");
  c.Call(3, "job.get", bad_params);
  c.Call(4, "job.log", {{"job_id", "j"}});
  c.Call(5, "daemon.version");
  // When reading the answers
  json parse = c.ReadJson();
  json unknown = c.ReadJson();
  json params = c.ReadJson();
  json thrown = c.ReadJson();
  json version = c.ReadJson();
  // Then each error is the JSON-RPC one (blank lines ignored) and the last call succeeds
  EXPECT_TRUE(parse["id"].is_null());
  EXPECT_EQ(parse["error"]["code"], Code(RpcCode::kParseError));
  EXPECT_EQ(unknown["id"], 2);
  EXPECT_EQ(unknown["error"]["code"], Code(RpcCode::kMethodNotFound));
  EXPECT_NE(unknown["error"]["message"].get<std::string>().find("job.explode"), std::string::npos);
  EXPECT_EQ(params["id"], 3);
  EXPECT_EQ(params["error"]["code"], Code(RpcCode::kInvalidParams));
  EXPECT_EQ(params["error"]["message"], decoder.error().message());
  EXPECT_EQ(thrown["id"], 4);
  EXPECT_EQ(thrown["error"]["code"], Code(RpcCode::kInternalError));
  EXPECT_EQ(version["id"], 5);
  EXPECT_EQ(version["result"]["version"], "test");
}

TEST_F(ControlServerTest, ALineOverOneMebibyteIsRefusedOnceAndTheNextRequestAnswered) {
  StartServer();
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  // Given a 2 MiB line followed by a valid request on the same connection
  c.Send(std::string(size_t{2} << 20, 'x') + "\n");
  c.Call(7, "daemon.version");
  // When reading the answers
  json refused = c.ReadJson();
  json next = c.ReadJson();
  // Then one -32600 "message exceeds 1 MiB" with id null, then the answer to id 7
  EXPECT_TRUE(refused["id"].is_null());
  EXPECT_EQ(refused["error"]["code"], Code(RpcCode::kInvalidRequest));
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("message exceeds 1 MiB"),
            std::string::npos);
  EXPECT_EQ(next["id"], 7);
  EXPECT_EQ(next["result"]["version"], "test");
}

// A temporary file holding `content`, open for reading.
UniqueFd TempFile(const fs::path& dir, const std::string& name, const std::string& content) {
  const fs::path path = dir / name;
  std::ofstream(path) << content;
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

TEST_F(ControlServerTest, APassedDescriptorReachesTheRequestItCameWith) {
  StartServer();
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  UniqueFd image = TempFile(dir_, "image.raw", "image-bytes");
  ASSERT_TRUE(image.valid());
  // Given three deploy.start requests sent back to back, only the second with a descriptor
  c.Call(1, "deploy.start", DeployParams());
  c.SendWithFds(proto::EncodeRequest(2, "deploy.start", DeployParams()), {image.get()});
  c.Call(3, "deploy.start", DeployParams());
  // When reading the answers
  json a = c.ReadJson();
  json b = c.ReadJson();
  json d = c.ReadJson();
  // Then only request 2's handler got the descriptor, and could read the file through it
  EXPECT_EQ(a["result"]["job_id"], "fds=0:");
  EXPECT_EQ(b["result"]["job_id"], "fds=1:image-bytes");
  EXPECT_EQ(d["result"]["job_id"], "fds=0:");
}

TEST_F(ControlServerTest, DescriptorsNobodyTakesAreClosed) {
  StartServer();
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  c.Call(0, "daemon.version");
  ASSERT_EQ(c.ReadJson()["id"], 0);
  UniqueFd file = TempFile(dir_, "f", "data");
  ASSERT_TRUE(file.valid());
  const int f = file.get();
  const size_t before = OpenDescriptors();
  // Given descriptors passed with: a method that ignores them, a blank line, broken JSON,
  // five at once (over the limit), and a request split over two sends with one each
  c.SendWithFds(proto::EncodeRequest(1, "daemon.version", json::object()), {f, f});
  c.SendWithFds("\n", {f});
  c.SendWithFds("{broken\n", {f});
  c.SendWithFds(proto::EncodeRequest(2, "deploy.start", DeployParams()), {f, f, f, f, f});
  const std::string split = proto::EncodeRequest(3, "deploy.start", DeployParams());
  c.SendWithFds(split.substr(0, 10), {f});
  c.SendWithFds(split.substr(10), {f});
  // When the answers arrive (and one more round trip has passed through the io thread)
  json ignored = c.ReadJson();
  json broken = c.ReadJson();
  json too_many = c.ReadJson();
  json split_answer = c.ReadJson();
  c.Call(4, "daemon.version");
  ASSERT_EQ(c.ReadJson()["id"], 4);
  // Then each got its answer and no descriptor is left open in the daemon
  EXPECT_EQ(ignored["id"], 1);
  EXPECT_EQ(broken["error"]["code"], Code(RpcCode::kParseError));
  EXPECT_EQ(too_many["id"], 2);
  EXPECT_EQ(too_many["error"]["code"], Code(RpcCode::kInvalidRequest));
  EXPECT_NE(too_many["error"]["message"].get<std::string>().find("at most 4"), std::string::npos);
  EXPECT_EQ(split_answer["id"], 3);
  EXPECT_EQ(split_answer["result"]["job_id"], "fds=2:data");
  EXPECT_EQ(OpenDescriptors(), before);

  // And when a second client sends half a line with a descriptor and hangs up
  {
    Client d(options_.socket);
    ASSERT_TRUE(d.connected());
    d.Call(1, "job.watch", {{"job_id", "w"}});
    ASSERT_EQ(d.ReadJson()["id"], 1);
    d.SendWithFds("{\"jsonrpc\":\"2.0\",\"id\":2,", {f});
  }
  // Then once the daemon has ended that connection, nothing is left open either
  ASSERT_EQ(WatchClosed().wait_for(kWait), std::future_status::ready);
  {
    std::lock_guard lock(mu_);
    watch_outbox_.reset();
  }
  EXPECT_EQ(OpenDescriptors(), before);
}

TEST_F(ControlServerTest, ASlowWatcherIsDisconnectedAndOthersAreUnaffected) {
  options_.max_outbox_bytes = size_t{1} << 20;
  StartServer();
  // Given a watcher that never reads while fruixd floods it with 64 KiB notifications
  Client slow(options_.socket);
  ASSERT_TRUE(slow.connected());
  slow.Call(1, "job.watch", {{"job_id", "flood"}});
  // When its outbox passes max_outbox_bytes
  ASSERT_EQ(WatchClosed().wait_for(kWait), std::future_status::ready);
  flood_.join();
  // Then it was disconnected early: fruixd accepted no more than the limit plus what the
  // kernel's socket buffers absorbed, far from the 256 MiB the flood would have queued
  const size_t accepted_bytes = flood_accepted_.load() * flood_line_bytes_.load();
  EXPECT_LT(flood_accepted_.load(), static_cast<size_t>(kFloodLines));
  EXPECT_LE(accepted_bytes, options_.max_outbox_bytes + (size_t{8} << 20));
  EXPECT_TRUE(WatchOutbox()->closed());
  EXPECT_FALSE(WatchOutbox()->SendNotification("job.event", json::object()));
  EXPECT_TRUE(slow.ReadsEof());
  // And another client is served normally
  Client other(options_.socket);
  ASSERT_TRUE(other.connected());
  other.Call(2, "daemon.version");
  EXPECT_EQ(other.ReadJson()["result"]["version"], "test");
}

TEST_F(ControlServerTest, NotificationsFromAnotherThreadFollowTheReply) {
  StartServer();
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  // Given a watch whose reply has arrived
  c.Call(1, "job.watch", {{"job_id", "j-1"}});
  ASSERT_EQ(c.ReadJson()["result"]["watching"], true);
  // When a worker thread sends two events through the kept outbox
  std::thread worker([outbox = WatchOutbox()] {
    for (const char* waiting : {"dhcp", "ssh"}) {
      proto::JobEvent e;
      e.job_id = "j-1";
      e.kind = "waiting";
      e.waiting = waiting;
      EXPECT_TRUE(outbox->SendNotification(proto::kJobEventNotification, proto::ToJson(e)));
    }
  });
  worker.join();
  // Then the client reads them in order, as notifications
  json first = c.ReadJson();
  json second = c.ReadJson();
  EXPECT_EQ(first["method"], "job.event");
  EXPECT_FALSE(first.contains("id"));
  EXPECT_EQ(first["params"]["waiting"], "dhcp");
  EXPECT_EQ(second["params"]["waiting"], "ssh");
}

TEST_F(ControlServerTest, StopAndCloseAllEndEverythingPromptly) {
  StartServer();
  Client watcher(options_.socket);
  Client idle(options_.socket);
  ASSERT_TRUE(watcher.connected() && idle.connected());
  watcher.Call(1, "job.watch", {{"job_id", "j"}});
  ASSERT_EQ(watcher.ReadJson()["id"], 1);
  idle.Call(1, "daemon.version");
  ASSERT_EQ(idle.ReadJson()["id"], 1);
  ASSERT_EQ(server_->connections(), 2u);
  // Given two open connections, when Stop() runs
  RunOnIo([this] { server_->Stop(); });
  // Then the socket file is gone and nobody new can connect, but open connections still work
  EXPECT_FALSE(fs::exists(options_.socket));
  EXPECT_FALSE(Client(options_.socket).connected());
  idle.Call(2, "daemon.version");
  EXPECT_EQ(idle.ReadJson()["id"], 2);
  // When CloseAll() runs
  RunOnIo([this] { server_->CloseAll(); });
  // Then the OnClose callback fires, both clients see the end, and no connection is left
  EXPECT_EQ(WatchClosed().wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(watcher.ReadsEof());
  EXPECT_TRUE(idle.ReadsEof());
  EXPECT_EQ(server_->connections(), 0u);
  // And an OnClose registered afterwards still runs (once, on the io thread)
  std::promise<std::thread::id> late;
  WatchOutbox()->OnClose([&late] { late.set_value(std::this_thread::get_id()); });
  auto late_future = late.get_future();
  ASSERT_EQ(late_future.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(late_future.get(), thread_.get_id());
}

TEST_F(ControlServerTest, APeerThatEndsItsInputStillGetsItsAnswers) {
  StartServer();
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  // Given a slow request and an unterminated last line, then the end of the client's input
  c.Call(1, "job.get", {{"job_id", "slow"}});
  std::string last = proto::EncodeRequest(2, "daemon.version", json::object());
  last.pop_back();
  c.Send(last);
  c.ShutdownWrite();
  // When the daemon answers the quick one and the slow one completes afterwards
  json quick = c.ReadJson();
  EXPECT_EQ(quick["id"], 2);
  std::optional<Reply<proto::JobGetResult>> slow;
  {
    std::lock_guard lock(mu_);
    slow = slow_reply_;
    slow_reply_.reset();
  }
  ASSERT_TRUE(slow.has_value());
  proto::JobGetResult r;
  r.job.job_id = "slow";
  r.job.state = "ready";
  slow->Ok(r);
  slow.reset();
  // Then both answers arrived and then the connection ended
  EXPECT_EQ(c.ReadJson()["id"], 1);
  EXPECT_TRUE(c.ReadsEof());
}

TEST_F(ControlServerTest, ConnectionsOverTheLimitGetAnErrorLineAndAreClosed) {
  options_.max_connections = 2;
  StartServer();
  Client a(options_.socket);
  Client b(options_.socket);
  ASSERT_TRUE(a.connected() && b.connected());
  a.Call(1, "job.watch", {{"job_id", "j"}});
  ASSERT_EQ(a.ReadJson()["id"], 1);
  b.Call(1, "daemon.version");
  ASSERT_EQ(b.ReadJson()["id"], 1);
  // Given two open connections and a limit of two, when a third connects
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  // Then it reads one error line naming the limit, then the end
  json refused = c.ReadJson();
  EXPECT_TRUE(refused["id"].is_null());
  EXPECT_EQ(refused["error"]["code"], Code(RpcCode::kUnavailable));
  EXPECT_EQ(refused["error"]["data"]["max_connections"], 2);
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_EQ(server_->connections(), 2u);
  // And once one of the two leaves, a new client is served
  a.Close();
  ASSERT_EQ(WatchClosed().wait_for(kWait), std::future_status::ready);
  Client d(options_.socket);
  ASSERT_TRUE(d.connected());
  d.Call(2, "daemon.version");
  EXPECT_EQ(d.ReadJson()["id"], 2);
}

TEST_F(ControlServerTest, ASecondServerOnALiveSocketIsRefused) {
  StartServer();
  // Given a listening server, when a second one starts on the same path
  ControlServer second(io_, dispatcher_, options_);
  std::optional<Result<void>> started;
  RunOnIo([&] { started = second.Start(); });
  // Then it is refused naming the path, and the first still serves
  ASSERT_TRUE(started.has_value());
  ASSERT_FALSE(started->ok());
  EXPECT_EQ(started->error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(started->error().message().find(options_.socket.string()), std::string::npos);
  RunOnIo([&] { second.Stop(); });  // must not remove the first server's socket
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  c.Call(1, "daemon.version");
  EXPECT_EQ(c.ReadJson()["id"], 1);
}

TEST_F(ControlServerTest, AStaleSocketFileLeftByACrashIsReplaced) {
  // Given a socket file nobody listens on (bound, then its process "crashed")
  fs::create_directories(options_.socket.parent_path());
  {
    UniqueFd s(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, options_.socket.c_str());
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ASSERT_TRUE(fs::is_socket(options_.socket));
  // When the server starts
  StartServer();
  // Then it listens there
  Client c(options_.socket);
  ASSERT_TRUE(c.connected());
  c.Call(1, "daemon.version");
  EXPECT_EQ(c.ReadJson()["id"], 1);
}

TEST_F(ControlServerTest, APathThatIsNotASocketIsLeftAlone) {
  // Given a regular file at the socket path
  fs::create_directories(options_.socket.parent_path());
  std::ofstream(options_.socket) << "keep me";
  // When the server starts
  ControlServer server(io_, dispatcher_, options_);
  auto started = server.Start();
  // Then it refuses, and the file is untouched
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(fs::is_regular_file(options_.socket));
}

// A group other than the process's own, to see chown take effect ("" if none).
std::string OtherGroup() {
  for (const char* name : {"nogroup", "daemon", "users", "adm"}) {
    const group* g = ::getgrnam(name);
    if (g != nullptr && g->gr_gid != ::getegid()) return name;
  }
  return "";
}

TEST_F(ControlServerTest, TheSocketGetsItsModeGroupAndParentDirectory) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown the socket to another group";
  const std::string group = OtherGroup();
  if (group.empty()) GTEST_SKIP() << "no second group on this system";
  // Given mode 0640, a group, and a socket directory that does not exist yet
  options_.mode = 0640;
  options_.group = group;
  options_.socket = dir_ / "a" / "b" / "fruixd.sock";
  // When the server starts
  StartServer();
  // Then the file has that mode and group, and the created directories are 0755
  struct stat st {};
  ASSERT_EQ(::stat(options_.socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_gid, ::getgrnam(group.c_str())->gr_gid);
  ASSERT_EQ(::stat((dir_ / "a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((dir_ / "a" / "b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(ControlServerTest, AnUnknownGroupIsRefused) {
  // Given a group that does not exist
  options_.group = "no-such-group-fruix";
  // When the server starts
  ControlServer server(io_, dispatcher_, options_);
  auto started = server.Start();
  // Then it is an invalid argument naming the group, and no socket was created
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(started.error().message().find("no-such-group-fruix"), std::string::npos);
  EXPECT_FALSE(fs::exists(options_.socket));
}

TEST_F(ControlServerTest, AnIncompleteDispatcherIsRefused) {
  // Given a dispatcher without handlers
  Dispatcher empty{AccessPolicy{}};
  // When a server on it starts
  ControlServer server(io_, empty, options_);
  auto started = server.Start();
  // Then it refuses, naming a missing method
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(started.error().message().find("deploy.start"), std::string::npos);
}

// Runs `requests` as uid/gid nobody in a forked child; returns what the daemon answered.
std::string ExchangeAsNobody(const fs::path& socket, const std::string& requests, size_t answers) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  pid_t child = ::fork();
  if (child == 0) {
    // Only async-signal-safe calls from here on.
    ::alarm(10);
    if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) {
      ::_exit(2);
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::_exit(3);
    }
    if (::write(fd, requests.data(), requests.size()) != static_cast<ssize_t>(requests.size())) {
      ::_exit(4);
    }
    static char buf[65536];
    size_t got = 0, newlines = 0;
    while (newlines < answers && got < sizeof(buf)) {
      ssize_t n = ::read(fd, buf + got, sizeof(buf) - got);
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i) newlines += buf[got + static_cast<size_t>(i)] == '\n';
      got += static_cast<size_t>(n);
    }
    (void)!::write(out[1], buf, got);
    ::_exit(0);
  }
  ::close(out[1]);
  std::string result;
  pollfd p{out[0], POLLIN, 0};
  while (::poll(&p, 1, 15'000) == 1) {
    char buf[4096];
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    result.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "child failed with status " + std::to_string(status);
  }
  return result;
}

TEST_F(ControlServerTest, AnUnprivilegedPeerMayReadButNotMutate) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to setuid() a child to nobody";
  const group* nogroup = ::getgrgid(kNobody);
  if (nogroup == nullptr) GTEST_SKIP() << "no group 65534";
  // Given a socket open to group 65534 and an empty policy (no one listed for mutating calls)
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  options_.group = nogroup->gr_name;
  StartServer();
  // When a process running as uid 65534 calls deploy.start, then daemon.version
  const std::string answers =
      ExchangeAsNobody(options_.socket,
                       proto::EncodeRequest(1, "deploy.start", DeployParams()) +
                           proto::EncodeRequest(2, "daemon.version", json::object()),
                       2);
  // Then deploy.start is refused with -32003 naming the uid and the method, version answers
  const size_t nl = answers.find('\n');
  ASSERT_NE(nl, std::string::npos) << answers;
  json refused = json::parse(answers.substr(0, nl));
  json version = json::parse(answers.substr(nl + 1));
  EXPECT_EQ(refused["id"], 1);
  EXPECT_EQ(refused["error"]["code"], Code(RpcCode::kPermissionDenied));
  const std::string message = refused["error"]["message"];
  EXPECT_NE(message.find("65534"), std::string::npos) << message;
  EXPECT_NE(message.find("deploy.start"), std::string::npos) << message;
  EXPECT_EQ(refused["error"]["data"]["uid"], kNobody);
  EXPECT_EQ(version["id"], 2);
  EXPECT_EQ(version["result"]["version"], "test");
  std::lock_guard lock(mu_);
  ASSERT_TRUE(last_peer_.has_value());
  EXPECT_EQ(last_peer_->uid, kNobody);
}

}  // namespace
}  // namespace fruix::daemon
