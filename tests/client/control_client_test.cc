// ControlClient against FakeFruixd: typed calls through the method table, the image descriptor
// as SCM_RIGHTS, notifications kept and delivered, and every failure kind.
#include "client/control_client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/client/sample_jobs.h"
#include "tests/support/fake_fruixd.h"

namespace fruix::client {
namespace {

using fruix::testing::FakeFruixd;
using fruix::testing::FakeReply;
using fruix::testing::FakeRequest;
using namespace fruix::client::testing;
using std::chrono::milliseconds;
using F = ControlClient::Failure;

// Given a fake answering daemon.version, When the client calls it, Then the result is decoded
// and the request line is exactly the table's encoding with id 1.
TEST(ControlClientTest, CallDecodesResult) {
  FakeFruixd fake;
  fake.OnResult("daemon.version",
                {{"version", "0.5.0"}, {"protocol", 1}, {"report_schema", "fruix.job-report/1"}});
  ControlClient client(fake.socket_path());
  auto r = client.Call(proto::kDaemonVersion, {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->version, "0.5.0");
  EXPECT_EQ(r->report_schema, "fruix.job-report/1");
  const auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].line + "\n", proto::EncodeCall(1, proto::kDaemonVersion, {}));
  EXPECT_EQ(client.last_failure(), F::kNone);
}

// Given an image file, When deploy.start is called with its descriptor, Then the fake receives
// exactly one descriptor with that request and reads the image's bytes through it; a second call
// on the same connection carries none.
TEST(ControlClientTest, PassesDescriptorWithRequest) {
  FakeFruixd fake;
  fake.OnResult("deploy.start", {{"job_id", "j-1"}, {"state", "running"}});
  fake.OnResult("job.get", proto::ToJson(proto::JobGetResult{ReadyJob("j-1")}));
  const std::string path = fake.dir() + "/image.raw";
  const std::string bytes = "fruix image bytes \x01\x02\x03 end";
  {
    const int w = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(w, 0);
    ASSERT_EQ(::write(w, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(w);
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ControlClient client(fake.socket_path());
  proto::DeployStartParams p;
  p.target = "freebsd-nightly";
  p.image.passed_fd = true;
  p.image.path = path;
  auto r = client.Call(proto::kDeployStart, p, fd);
  ::close(fd);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->job_id, "j-1");
  ASSERT_TRUE(client.Call(proto::kJobGet, {"j-1", true}).ok());
  const auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  ASSERT_EQ(requests[0].fds.size(), 1u);
  EXPECT_EQ(FakeFruixd::ReadAll(requests[0].fds[0]), bytes);
  EXPECT_TRUE(requests[1].fds.empty());
  EXPECT_EQ(requests[0].connection, requests[1].connection);
}

// Given a fake refusing deploy.start as busy, When called, Then the error is the mapped
// fruix::Error and the RPC error (code, data.job_id) is kept.
TEST(ControlClientTest, RpcErrorKeepsCodeAndData) {
  FakeFruixd fake;
  fake.On("deploy.start", [](const FakeRequest&) {
    return FakeReply::Error(proto::RpcError::Of(proto::RpcCode::kBusy, "VM x already has job j-0",
                                                {{"job_id", "j-0"}}));
  });
  ControlClient client(fake.socket_path());
  proto::DeployStartParams p;
  p.target = "t";
  p.image.path = "/x";
  auto r = client.Call(proto::kDeployStart, p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r.error().message(), "VM x already has job j-0");
  EXPECT_EQ(client.last_failure(), F::kRpc);
  ASSERT_TRUE(client.last_rpc_error().has_value());
  EXPECT_EQ(client.last_rpc_error()->code, -32002);
  EXPECT_EQ(client.last_rpc_error()->data["job_id"], "j-0");
}

// Given no socket at the path, When a call is made, Then kUnreachable with the exact message.
TEST(ControlClientTest, MissingSocketIsUnreachable) {
  FakeFruixd fake;  // only for its temporary directory
  const std::string path = fake.dir() + "/nobody.sock";
  ControlClient client(path);
  auto r = client.Call(proto::kDaemonHealth, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client.last_failure(), F::kUnreachable);
  EXPECT_EQ(r.error().message(), "cannot reach fruixd at " + path +
                                     ": No such file or directory; is the service running?");
}

// Given a socket file nobody listens on, When a call is made, Then kUnreachable naming
// "Connection refused".
TEST(ControlClientTest, RefusedSocketIsUnreachable) {
  FakeFruixd fake;
  const std::string path = fake.dir() + "/dead.sock";
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(s);  // bound, never listened: connect is refused
  ControlClient client(path);
  auto r = client.Call(proto::kDaemonHealth, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client.last_failure(), F::kUnreachable);
  EXPECT_EQ(r.error().message(),
            "cannot reach fruixd at " + path + ": Connection refused; is the service running?");
}

// Given a fake that never answers, When called with a 200 ms call timeout, Then kNoAnswer soon
// after, naming the method.
TEST(ControlClientTest, SilentDaemonIsNoAnswer) {
  FakeFruixd fake;
  fake.On("daemon.health", [](const FakeRequest&) { return FakeReply::Silent(); });
  ControlClient client(fake.socket_path(), RealClock(), milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  auto r = client.Call(proto::kDaemonHealth, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client.last_failure(), F::kNoAnswer);
  EXPECT_NE(r.error().message().find("did not answer daemon.health"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// Given a fake that closes the connection instead of answering, When called, Then
// kConnectionLost.
TEST(ControlClientTest, ClosedConnectionIsLost) {
  FakeFruixd fake;
  fake.On("targets.list", [](const FakeRequest&) {
    FakeReply reply;
    reply.close = true;
    return reply;
  });
  ControlClient client(fake.socket_path());
  auto r = client.Call(proto::kTargetsList, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client.last_failure(), F::kConnectionLost);
  EXPECT_NE(r.error().message().find("fruixd closed it"), std::string::npos);
}

// Given a fake that answers with a line that is not JSON, When called, Then kProtocol.
TEST(ControlClientTest, GarbageIsProtocolError) {
  FakeFruixd fake;
  fake.On("daemon.version", [](const FakeRequest&) {
    FakeReply reply;
    reply.before = {"this is not json"};
    return reply;
  });
  ControlClient client(fake.socket_path());
  auto r = client.Call(proto::kDaemonVersion, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client.last_failure(), F::kProtocol);
}

// Given a result missing a required member, When decoded, Then kProtocol naming the method.
TEST(ControlClientTest, ResultNotFittingIsProtocolError) {
  FakeFruixd fake;
  fake.OnResult("deploy.start", {{"state", "running"}});
  ControlClient client(fake.socket_path());
  proto::DeployStartParams p;
  p.target = "t";
  auto r = client.Call(proto::kDeployStart, p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client.last_failure(), F::kProtocol);
  EXPECT_NE(r.error().message().find("deploy.start"), std::string::npos);
}

// Given a fake that sends a notification before job.watch's answer and two after it, When the
// client calls and then listens until the second, Then all three arrive in order and Listen
// returns ok; a further Listen with a 100 ms limit ends with kLimit.
TEST(ControlClientTest, NotificationsKeptAndDelivered) {
  FakeFruixd fake;
  fake.On("job.watch", [](const FakeRequest&) {
    FakeReply reply =
        FakeReply::Result(proto::ToJson(proto::JobWatchResult{Job("j-1", "running"), true}));
    reply.before = {FakeFruixd::Event(WaitingEvent("j-1", "waiting for one"))};
    reply.after = {FakeFruixd::Event(WaitingEvent("j-1", "waiting for two")),
                   FakeFruixd::Event(WaitingEvent("j-1", "waiting for three"))};
    return reply;
  });
  ControlClient client(fake.socket_path());
  auto w = client.Call(proto::kJobWatch, {"j-1", false, 0});
  ASSERT_TRUE(w.ok()) << w.error().ToString();
  EXPECT_TRUE(w->watching);
  std::vector<std::string> seen;
  auto listened = client.Listen([&](const proto::Notification& n) {
    EXPECT_EQ(n.method, "job.event");
    seen.push_back(n.params["waiting"].get<std::string>());
    return seen.size() < 3;
  });
  ASSERT_TRUE(listened.ok()) << listened.error().ToString();
  EXPECT_EQ(seen,
            (std::vector<std::string>{"waiting for one", "waiting for two", "waiting for three"}));
  client.set_limit(Deadline(RealClock(), milliseconds(100)));
  auto more = client.Listen([](const proto::Notification&) { return true; });
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(client.last_failure(), F::kLimit);
  EXPECT_EQ(more.error().code(), ErrorCode::kTimeout);
}

// Given a listening client, When the test pushes an event from outside any script, Then Listen
// delivers it; When the fake closes the connection, Then Listen ends with kConnectionLost.
TEST(ControlClientTest, PushedEventsAndClose) {
  FakeFruixd fake;
  fake.OnResult("job.watch", proto::ToJson(proto::JobWatchResult{Job("j-2", "running"), true}));
  ControlClient client(fake.socket_path());
  ASSERT_TRUE(client.Call(proto::kJobWatch, {"j-2", false, 0}).ok());
  fake.Push(FakeFruixd::Event(WaitingEvent("j-2", "waiting for pushed")));
  std::string got;
  ASSERT_TRUE(client
                  .Listen([&](const proto::Notification& n) {
                    got = n.params["waiting"].get<std::string>();
                    return false;
                  })
                  .ok());
  EXPECT_EQ(got, "waiting for pushed");
  fake.CloseConnections();
  auto r = client.Listen([](const proto::Notification&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(client.last_failure(), F::kConnectionLost);
}

// Given --socket, $FRUIX_SOCKET and neither, When the path is resolved, Then the flag wins, then
// the environment, then the default.
TEST(ControlClientTest, ResolveSocketPath) {
  ::unsetenv("FRUIX_SOCKET");
  EXPECT_EQ(ResolveSocketPath(""), "/run/fruixd/fruixd.sock");
  ::setenv("FRUIX_SOCKET", "/tmp/env.sock", 1);
  EXPECT_EQ(ResolveSocketPath(""), "/tmp/env.sock");
  EXPECT_EQ(ResolveSocketPath("/tmp/flag.sock"), "/tmp/flag.sock");
  ::unsetenv("FRUIX_SOCKET");
}

}  // namespace
}  // namespace fruix::client
