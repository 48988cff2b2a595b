#include "daemon/dispatcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace fruix::daemon {
namespace {

using nlohmann::json;
using proto::RpcCode;

// Collects the lines a dispatch sends, from any thread.
class Sink {
 public:
  std::function<void(std::string)> Fn() {
    return [this](std::string line) {
      std::lock_guard lock(mu_);
      lines_.push_back(std::move(line));
      cv_.notify_all();
    };
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }
  // Waits (bounded) until `n` lines arrived.
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return lines_.size() >= n; });
  }
  json Only() const {
    auto l = lines();
    EXPECT_EQ(l.size(), 1u);
    if (l.empty()) return json();
    EXPECT_EQ(l[0].back(), '\n');
    return json::parse(l[0]);
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

Peer PeerWithUid(uid_t uid, std::vector<gid_t> groups = {}) {
  gid_t gid = groups.empty() ? uid : groups[0];
  if (groups.empty()) groups = {gid};
  return Peer{uid, gid, 1234, "user" + std::to_string(uid), std::move(groups)};
}

std::string Request(const json& id, std::string_view method, const json& params = json::object()) {
  std::string line = proto::EncodeRequest(id, method, params);
  line.pop_back();  // the transport hands lines without their newline
  return line;
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : dispatcher_(Policy()) { RegisterDefaults(); }

  static AccessPolicy Policy() {
    AccessPolicy p;
    p.mutating_uids = {1001};
    p.mutating_gids = {2002};
    p.daemon_uid = 500;
    return p;
  }

  // Every method answers with a default result; tests override the ones they exercise.
  void RegisterDefaults() {
    dispatcher_.Register(proto::kDaemonVersion, [this](auto, CallContext&, auto reply) {
      ++calls_;
      reply.Ok(proto::VersionResult{"test", 1, "r"});
    });
    dispatcher_.Register(proto::kDaemonHealth,
                         [](auto, CallContext&, auto reply) { reply.Ok({}); });
    dispatcher_.Register(proto::kTargetsList, [](auto, CallContext&, auto reply) { reply.Ok({}); });
    dispatcher_.Register(proto::kDeployStart, [this](auto, CallContext&, auto reply) {
      ++calls_;
      reply.Ok(proto::DeployStartResult{"job-1", "running", 0});
    });
    dispatcher_.Register(proto::kJobGet, [this](proto::JobGetParams p, CallContext&, auto reply) {
      ++calls_;
      proto::JobGetResult r;
      r.job.job_id = p.job_id;
      r.job.state = "ready";
      reply.Ok(r);
    });
    dispatcher_.Register(proto::kJobList, [](auto, CallContext&, auto reply) { reply.Ok({}); });
    dispatcher_.Register(proto::kJobCancel, [](proto::JobCancelParams p, CallContext&, auto reply) {
      reply.Ok({p.job_id, "cancelled"});
    });
    dispatcher_.Register(proto::kJobWatch, [](auto, CallContext&, auto reply) { reply.Ok({}); });
    dispatcher_.Register(proto::kJobLog, [](auto, CallContext&, auto reply) { reply.Ok({}); });
  }

  void Dispatch(std::string_view line, Peer peer = PeerWithUid(0)) {
    dispatcher_.Dispatch(line, CallContext{std::move(peer), {}, nullptr}, sink_.Fn());
  }

  Dispatcher dispatcher_;
  Sink sink_;
  std::atomic<int> calls_{0};
};

TEST_F(DispatcherTest, CallsTheHandlerWithDecodedParamsAndAnswersItsResult) {
  // Given a job.get request with id 7
  // When it is dispatched
  Dispatch(Request(7, "job.get", {{"job_id", "j-1"}}));
  // Then one response line answers id 7 with the handler's typed result
  json r = sink_.Only();
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(r["id"], 7);
  EXPECT_EQ(r["result"]["job"]["job_id"], "j-1");
  EXPECT_EQ(r["result"]["job"]["state"], "ready");
}

TEST_F(DispatcherTest, MalformedJsonIsAParseErrorWithNullId) {
  // Given a line that is not JSON
  // When it is dispatched
  Dispatch("{\"jsonrpc\": \"2.0\", nope");
  // Then the answer is -32700 with id null
  json r = sink_.Only();
  EXPECT_TRUE(r["id"].is_null());
  EXPECT_EQ(r["error"]["code"], static_cast<int>(RpcCode::kParseError));
}

TEST_F(DispatcherTest, BlankLinesAreIgnored) {
  // Given empty and whitespace-only lines
  // When they are dispatched
  Dispatch("");
  Dispatch("  \t\r");
  // Then nothing is answered
  EXPECT_TRUE(sink_.lines().empty());
}

TEST_F(DispatcherTest, AnUnknownMethodIsNamed) {
  // Given a request for a method fruixd does not have
  // When it is dispatched
  Dispatch(Request("a", "job.explode"));
  // Then the answer is -32601 naming it
  json r = sink_.Only();
  EXPECT_EQ(r["id"], "a");
  EXPECT_EQ(r["error"]["code"], static_cast<int>(RpcCode::kMethodNotFound));
  EXPECT_NE(r["error"]["message"].get<std::string>().find("\"job.explode\""), std::string::npos);
  EXPECT_EQ(r["error"]["data"]["method"], "job.explode");
}

TEST_F(DispatcherTest, BadParamsCarryTheDecodersMessageAndSkipTheHandler) {
  // Given job.get with a job_id that is a number
  const json params = {{"job_id", 5}};
  const auto expected = proto::Decode<proto::JobGetParams>(params, "params");
  ASSERT_FALSE(expected.ok());
  // When it is dispatched
  Dispatch(Request(3, "job.get", params));
  // Then the answer is -32602 with the decoder's message, and the handler never ran
  json r = sink_.Only();
  EXPECT_EQ(r["error"]["code"], static_cast<int>(RpcCode::kInvalidParams));
  EXPECT_EQ(r["error"]["message"], expected.error().message());
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(DispatcherTest, AThrowingHandlerIsAnInternalErrorAndLaterCallsWork) {
  // Given a job.log handler that throws
  dispatcher_.Register(proto::kJobLog, [](auto, CallContext&, auto) -> void {
    throw std::runtime_error("disk on fire");
  });
  // When it is called, then another method
  Dispatch(Request(1, "job.log", {{"job_id", "j"}}));
  Dispatch(Request(2, "daemon.version"));
  // Then the first is answered -32603 with the reason, the second normally
  ASSERT_EQ(sink_.lines().size(), 2u);
  json first = json::parse(sink_.lines()[0]);
  json second = json::parse(sink_.lines()[1]);
  EXPECT_EQ(first["id"], 1);
  EXPECT_EQ(first["error"]["code"], static_cast<int>(RpcCode::kInternalError));
  EXPECT_NE(first["error"]["message"].get<std::string>().find("disk on fire"), std::string::npos);
  EXPECT_EQ(second["result"]["version"], "test");
}

TEST_F(DispatcherTest, NotificationsRunButAreNeverAnswered) {
  // Given requests without id: a valid one, an unknown method, a refused mutating one
  // When they are dispatched
  Dispatch(Request(nullptr, "daemon.version"));
  Dispatch(Request(nullptr, "no.such"));
  Dispatch(Request(nullptr, "deploy.start", {{"target", "t"}, {"image", {{"passed_fd", true}}}}),
           PeerWithUid(4000));
  // Then the valid one ran and nothing was sent
  EXPECT_EQ(calls_.load(), 1);
  EXPECT_TRUE(sink_.lines().empty());
}

TEST_F(DispatcherTest, MutatingMethodsNeedThePolicyReadOnlyOnesDoNot) {
  const json deploy = {{"target", "t"}, {"image", {{"passed_fd", true}}}};
  // Given an unlisted peer (uid 4000)
  // When it calls deploy.start and daemon.version
  Dispatch(Request(1, "deploy.start", deploy), PeerWithUid(4000));
  Dispatch(Request(2, "daemon.version"), PeerWithUid(4000));
  // Then deploy.start is refused with -32003 naming the uid and the method; version answers
  ASSERT_EQ(sink_.lines().size(), 2u);
  json refused = json::parse(sink_.lines()[0]);
  EXPECT_EQ(refused["error"]["code"], static_cast<int>(RpcCode::kPermissionDenied));
  const std::string message = refused["error"]["message"];
  EXPECT_NE(message.find("uid 4000"), std::string::npos) << message;
  EXPECT_NE(message.find("deploy.start"), std::string::npos) << message;
  EXPECT_EQ(refused["error"]["data"]["uid"], 4000);
  EXPECT_EQ(refused["error"]["data"]["method"], "deploy.start");
  EXPECT_EQ(json::parse(sink_.lines()[1])["result"]["version"], "test");
  EXPECT_EQ(calls_.load(), 1);  // only daemon.version ran

  // And listed uids, members of listed groups, root and the daemon's uid may deploy
  for (const Peer& ok :
       {PeerWithUid(1001), PeerWithUid(4001, {4001, 2002}), PeerWithUid(0), PeerWithUid(500)}) {
    Sink sink;
    dispatcher_.Dispatch(Request(3, "deploy.start", deploy), CallContext{ok, {}, nullptr},
                         sink.Fn());
    EXPECT_EQ(sink.Only()["result"]["job_id"], "job-1") << ok.uid;
  }
}

TEST_F(DispatcherTest, SetPolicyAppliesToLaterCalls) {
  const json deploy = {{"target", "t"}, {"image", {{"passed_fd", true}}}};
  // Given uid 4000 refused under the first policy
  Dispatch(Request(1, "deploy.start", deploy), PeerWithUid(4000));
  // When the policy is replaced by one listing uid 4000
  AccessPolicy p = Policy();
  p.mutating_uids.push_back(4000);
  dispatcher_.SetPolicy(p);
  Dispatch(Request(2, "deploy.start", deploy), PeerWithUid(4000));
  // Then the second call is allowed
  ASSERT_EQ(sink_.lines().size(), 2u);
  EXPECT_EQ(json::parse(sink_.lines()[0])["error"]["code"],
            static_cast<int>(RpcCode::kPermissionDenied));
  EXPECT_EQ(json::parse(sink_.lines()[1])["result"]["job_id"], "job-1");
  EXPECT_EQ(dispatcher_.policy().mutating_uids.back(), 4000u);
}

TEST_F(DispatcherTest, AReplyMayCompleteLaterFromAnotherThreadExactlyOnce) {
  // Given a job.get handler that keeps its reply
  std::optional<Reply<proto::JobGetResult>> kept;
  dispatcher_.Register(proto::kJobGet,
                       [&](auto, CallContext&, Reply<proto::JobGetResult> r) { kept = r; });
  Dispatch(Request(11, "job.get", {{"job_id", "slow"}}));
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(sink_.lines().empty());
  // When two threads race to complete it (one Ok, one Fail)
  std::atomic<int> won{0};
  proto::JobGetResult result;
  result.job.job_id = "slow";
  result.job.state = "running";
  std::thread a([&] { won += kept->Ok(result); });
  std::thread b([&] { won += kept->Fail(Error::NotFound("gone")); });
  a.join();
  b.join();
  kept.reset();
  // Then exactly one answer was sent for id 11
  ASSERT_TRUE(sink_.WaitFor(1));
  EXPECT_EQ(won.load(), 1);
  json r = sink_.Only();
  EXPECT_EQ(r["id"], 11);
  EXPECT_TRUE(r.contains("result") != r.contains("error"));
}

TEST_F(DispatcherTest, AnErrorReplyUsesTheProtocolMapping) {
  // Given a job.cancel handler failing with NotFound
  dispatcher_.Register(proto::kJobCancel, [](auto, CallContext&, auto reply) {
    reply.Fail(Error::NotFound("no job j-9"));
  });
  // When called
  Dispatch(Request(4, "job.cancel", {{"job_id", "j-9"}}));
  // Then the error is -32001 with the message
  json r = sink_.Only();
  EXPECT_EQ(r["error"]["code"], static_cast<int>(RpcCode::kNotFound));
  EXPECT_EQ(r["error"]["message"], "no job j-9");
}

TEST_F(DispatcherTest, ADroppedReplyIsAnsweredWithAnInternalError) {
  // Given a handler that neither answers nor keeps its reply
  dispatcher_.Register(proto::kJobList, [](auto, CallContext&, auto) {});
  // When it is called
  Dispatch(Request(5, "job.list"));
  // Then the caller still gets an answer: -32603
  json r = sink_.Only();
  EXPECT_EQ(r["id"], 5);
  EXPECT_EQ(r["error"]["code"], static_cast<int>(RpcCode::kInternalError));
}

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST_F(DispatcherTest, DescriptorsNotTakenByTheHandlerAreClosedWhenTheCallEnds) {
  // Given two calls each carrying one end of a pipe; the deploy.start handler takes its fd
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd taken;
  dispatcher_.Register(proto::kDeployStart, [&](auto, CallContext& ctx, auto reply) {
    ASSERT_EQ(ctx.fds.size(), 1u);
    taken = std::move(ctx.fds[0]);
    reply.Ok({"job-2", "running", 0});
  });
  std::vector<UniqueFd> first;
  first.emplace_back(p[0]);
  std::vector<UniqueFd> second;
  second.emplace_back(p[1]);
  // When daemon.version (which ignores its fd) and deploy.start are dispatched
  dispatcher_.Dispatch(Request(1, "daemon.version"),
                       CallContext{PeerWithUid(0), std::move(first), nullptr}, sink_.Fn());
  dispatcher_.Dispatch(
      Request(2, "deploy.start", {{"target", "t"}, {"image", {{"passed_fd", true}}}}),
      CallContext{PeerWithUid(0), std::move(second), nullptr}, sink_.Fn());
  // Then the ignored descriptor is closed and the taken one is still open
  EXPECT_FALSE(IsOpen(p[0]));
  EXPECT_TRUE(IsOpen(p[1]));
  EXPECT_EQ(taken.get(), p[1]);
}

class RecordingOutbox : public Outbox {
 public:
  bool SendLine(std::string line) override {
    lines.push_back(std::move(line));
    return true;
  }
  bool closed() const override { return false; }
  void OnClose(std::function<void()>) override {}
  void Close() override {}
  std::vector<std::string> lines;
};

TEST_F(DispatcherTest, HandlersReachTheirConnectionsOutbox) {
  // Given a job.watch handler that answers, then sends a notification through the outbox
  dispatcher_.Register(proto::kJobWatch, [](proto::JobWatchParams p, CallContext& ctx, auto r) {
    r.Ok({});
    proto::JobEvent e;
    e.job_id = p.job_id;
    e.kind = "waiting";
    e.waiting = "dhcp";
    ctx.outbox->SendNotification(proto::kJobEventNotification, proto::ToJson(e));
  });
  auto outbox = std::make_shared<RecordingOutbox>();
  // When job.watch is dispatched with that outbox
  dispatcher_.Dispatch(Request(1, "job.watch", {{"job_id", "j"}}),
                       CallContext{PeerWithUid(0), {}, outbox}, sink_.Fn());
  // Then the reply went to `send` and the notification to the outbox
  EXPECT_EQ(sink_.Only()["id"], 1);
  ASSERT_EQ(outbox->lines.size(), 1u);
  json n = json::parse(outbox->lines[0]);
  EXPECT_EQ(n["method"], "job.event");
  EXPECT_FALSE(n.contains("id"));
  EXPECT_EQ(n["params"]["waiting"], "dhcp");
}

TEST(DispatcherCompletenessTest, ListsMissingHandlers) {
  // Given a dispatcher with only daemon.version registered
  Dispatcher d{AccessPolicy{}};
  d.Register(proto::kDaemonVersion, [](auto, CallContext&, auto reply) { reply.Ok({}); });
  // When checking completeness
  auto r = d.CheckComplete();
  // Then it fails naming a missing method, not the registered one
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message().find("\"job.log\""), std::string::npos);
  EXPECT_EQ(r.error().message().find("\"daemon.version\""), std::string::npos);
}

TEST(DispatcherCompletenessTest, RefusesAMethodOutsideTheTable) {
  // Given a complete dispatcher plus a method that is not in proto::kMethods
  Dispatcher d{AccessPolicy{}};
  auto ok = [](auto, CallContext&, auto reply) { reply.Ok({}); };
  d.Register(proto::kDaemonVersion, ok);
  d.Register(proto::kDaemonHealth, ok);
  d.Register(proto::kTargetsList, ok);
  d.Register(proto::kDeployStart, ok);
  d.Register(proto::kJobGet, ok);
  d.Register(proto::kJobList, ok);
  d.Register(proto::kJobCancel, ok);
  d.Register(proto::kJobWatch, ok);
  d.Register(proto::kJobLog, ok);
  ASSERT_TRUE(d.CheckComplete().ok());
  constexpr proto::Method<proto::VersionParams, proto::VersionResult> kBogus{
      "daemon.bogus", proto::Access::kReadOnly, "not in the table"};
  // When it is registered
  d.Register(kBogus, ok);
  // Then completeness fails naming it
  auto r = d.CheckComplete();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("\"daemon.bogus\""), std::string::npos);
}

}  // namespace
}  // namespace fruix::daemon
