#include "daemon/peer.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>

#include "daemon/unique_fd.h"

namespace fruix::daemon {
namespace {

constexpr uid_t kNobody = 65534;

bool Contains(const std::vector<gid_t>& v, gid_t g) {
  return std::find(v.begin(), v.end(), g) != v.end();
}

// A uid without a passwd entry (searching upwards from a high number).
uid_t UnusedUid() {
  for (uid_t uid = 3'900'000'000u;; ++uid) {
    if (::getpwuid(uid) == nullptr) return uid;
  }
}

TEST(PeerOfTest, ReadsTheCredentialsOfTheOtherEnd) {
  // Given a connected AF_UNIX socket pair created by this process
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  // When reading the peer of one end
  auto peer = PeerOf(a.get());
  // Then it is this process, with its user's name and primary group
  ASSERT_TRUE(peer.ok()) << peer.error().ToString();
  EXPECT_EQ(peer->uid, ::geteuid());
  EXPECT_EQ(peer->gid, ::getegid());
  EXPECT_EQ(peer->pid, ::getpid());
  const passwd* pw = ::getpwuid(::geteuid());
  ASSERT_NE(pw, nullptr);
  EXPECT_EQ(peer->user, pw->pw_name);
  EXPECT_TRUE(Contains(peer->groups, ::getegid()));
}

TEST(PeerOfTest, RefusesADescriptorThatIsNotASocket) {
  // Given a pipe
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  // When asking for its peer
  auto peer = PeerOf(r.get());
  // Then it is an invalid argument
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.error().code(), ErrorCode::kInvalidArgument);
}

TEST(PeerOfTest, SeesTheUidOfAnUnprivilegedClient) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to setuid() a child";
  // Given a listening socket in a directory anyone may traverse
  char tmpl[] = "/tmp/fruix-peer-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  ASSERT_EQ(::chmod(tmpl, 0755), 0);
  const std::string path = (dir / "s.sock").string();
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  // When a child that became nobody connects
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::alarm(10);
    if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) {
      ::_exit(2);
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::_exit(3);
    }
    char c;
    (void)!::read(fd, &c, 1);  // until the parent closes
    ::_exit(0);
  }
  pollfd pfd{listener.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 10'000), 1) << "the child did not connect";
  UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());
  auto peer = PeerOf(conn.get());
  conn.Reset();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  std::filesystem::remove_all(dir);
  // Then the server sees the child's uid, gid, pid and name
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(peer.ok()) << peer.error().ToString();
  EXPECT_EQ(peer->uid, kNobody);
  EXPECT_EQ(peer->gid, kNobody);
  EXPECT_EQ(peer->pid, child);
  const passwd* pw = ::getpwuid(kNobody);
  if (pw != nullptr) {
    EXPECT_EQ(peer->user, pw->pw_name);
  }
  EXPECT_NE(PeerName(*peer).find("65534"), std::string::npos);
}

TEST(DescribePeerTest, AUidWithoutPasswdEntryIsNamedByNumber) {
  // Given a uid nobody has in the user database
  const uid_t uid = UnusedUid();
  // When describing it
  Peer p = DescribePeer(uid, 4242, 77);
  // Then its name is "uid:<n>" and its only group is its gid
  EXPECT_EQ(p.user, "uid:" + std::to_string(uid));
  EXPECT_EQ(p.groups, std::vector<gid_t>{4242});
  EXPECT_EQ(p.pid, 77);
  EXPECT_EQ(PeerName(p), "uid " + std::to_string(uid));
}

TEST(DescribePeerTest, RootHasItsNameAndGroups) {
  // Given uid 0
  // When describing it
  Peer p = DescribePeer(0, 0, 1);
  // Then it is root, member of group 0, and named so
  EXPECT_EQ(p.user, "root");
  EXPECT_TRUE(Contains(p.groups, 0));
  EXPECT_EQ(PeerName(p), "uid 0 (root)");
}

Peer MakePeer(uid_t uid, gid_t gid, std::vector<gid_t> groups) {
  return Peer{uid, gid, 1, "u" + std::to_string(uid), std::move(groups)};
}

TEST(AccessPolicyTest, DecidesMutatingAccessByUidAndGroups) {
  // Given a policy listing uid 1001 and gid 2002, for a daemon running as uid 500
  AccessPolicy policy;
  policy.mutating_uids = {1001};
  policy.mutating_gids = {2002};
  policy.daemon_uid = 500;
  struct Case {
    const char* what;
    Peer peer;
    bool mutating_allowed;
  };
  const Case cases[] = {
      {"root", MakePeer(0, 0, {0}), true},
      {"the daemon's own uid", MakePeer(500, 500, {500}), true},
      {"a listed uid", MakePeer(1001, 1001, {1001}), true},
      {"a listed primary gid", MakePeer(1500, 2002, {2002}), true},
      {"a listed supplementary gid", MakePeer(1600, 1600, {1600, 2002}), true},
      {"anyone else", MakePeer(1700, 1700, {1700, 3003}), false},
  };
  for (const auto& c : cases) {
    // When asking about read-only and mutating access
    // Then read-only is always allowed, mutating as listed
    EXPECT_TRUE(policy.Allows(c.peer, proto::Access::kReadOnly)) << c.what;
    EXPECT_EQ(policy.Allows(c.peer, proto::Access::kMutating), c.mutating_allowed) << c.what;
  }
}

TEST(MakeAccessPolicyTest, ResolvesNamesAndNumbers) {
  // Given known names and a numeric id without entry
  const uid_t unused = UnusedUid();
  // When building the policy
  auto policy = MakeAccessPolicy({"root", std::to_string(unused)}, {"root"});
  // Then names become ids and digits are taken as ids
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->mutating_uids, (std::vector<uid_t>{0, unused}));
  EXPECT_EQ(policy->mutating_gids, std::vector<gid_t>{0});
  EXPECT_EQ(policy->daemon_uid, ::geteuid());
}

TEST(MakeAccessPolicyTest, AnUnknownNameIsInvalidAndNamed) {
  // Given an unknown user, then an unknown group
  // When building the policy
  auto bad_user = MakeAccessPolicy({"root", "no-such-user-fruix"}, {});
  auto bad_group = MakeAccessPolicy({}, {"no-such-group-fruix"});
  // Then each is refused naming the setting and the name
  ASSERT_FALSE(bad_user.ok());
  EXPECT_EQ(bad_user.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_user.error().message().find("no-such-user-fruix"), std::string::npos);
  EXPECT_NE(bad_user.error().message().find("daemon.mutating_users"), std::string::npos);
  ASSERT_FALSE(bad_group.ok());
  EXPECT_EQ(bad_group.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_group.error().message().find("no-such-group-fruix"), std::string::npos);
  EXPECT_NE(bad_group.error().message().find("daemon.mutating_groups"), std::string::npos);
}

}  // namespace
}  // namespace fruix::daemon
