// daemon::Peer and daemon::AccessPolicy — who is on the other end of a control connection, and
// whether they may call a method.
//
// A Peer is read from the kernel (SO_PEERCRED: the credentials the client had when it connected)
// and completed with the user's name and supplementary groups from the user database. The policy
// is the daemon's `mutating_users` / `mutating_groups` resolved to ids: read-only methods are open
// to anyone who can connect (the socket's mode and group are that gate); mutating methods are for
// root, the daemon's own uid, the listed uids, and members (primary or supplementary) of the
// listed gids.
//
// Plain values and free functions; any thread. PeerOf and MakeAccessPolicy consult the user
// database (NSS), which may block briefly.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "lib/core/result.h"
#include "proto/methods.h"

namespace fruix::daemon {

struct Peer {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
  std::string user;           // the passwd name, or "uid:<n>" when the uid has no entry
  std::vector<gid_t> groups;  // primary and supplementary groups (at least {gid})
};

// The peer of a connected AF_UNIX socket (SO_PEERCRED). kInvalidArgument when `fd` is not such a
// socket, kIo when the kernel refuses.
Result<Peer> PeerOf(int fd);

// A Peer for known credentials: looks up the user's name and groups (getpwuid_r, getgrouplist).
// A uid without a passwd entry gets user "uid:<n>" and groups {gid}.
Peer DescribePeer(uid_t uid, gid_t gid, pid_t pid);

// "uid 1000 (alice)": how logs and error messages name a peer.
std::string PeerName(const Peer& peer);

struct AccessPolicy {
  std::vector<uid_t> mutating_uids;
  std::vector<gid_t> mutating_gids;
  // The daemon's own uid (may call everything, like root).
  uid_t daemon_uid = ::geteuid();

  // True when `peer` may call a method with `access`.
  bool Allows(const Peer& peer, proto::Access access) const;
};

// Resolves user and group names to ids (getpwnam_r / getgrnam_r). A name that is all digits and
// names no user (group) is taken as a numeric uid (gid). kInvalidArgument naming the first
// unknown name.
Result<AccessPolicy> MakeAccessPolicy(const std::vector<std::string>& users,
                                      const std::vector<std::string>& groups);

// One name to an id, with the same digits rule (the control server resolves its socket group
// with GroupId). kInvalidArgument naming `name` when there is no such user (group); kIo when the
// user database fails.
Result<uid_t> UserId(const std::string& name);
Result<gid_t> GroupId(const std::string& name);

}  // namespace fruix::daemon
