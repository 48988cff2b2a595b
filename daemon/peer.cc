#include "daemon/peer.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace fruix::daemon {

namespace {

// Buffer size for the *_r lookups; grown on ERANGE up to a sane bound.
size_t InitialBufferSize(int name) {
  long n = ::sysconf(name);
  return n > 0 ? static_cast<size_t>(n) : 16384;
}
constexpr size_t kMaxLookupBuffer = 1 << 20;

// A numeric id: all digits, below (id_t)-1 (which means "no id" to the kernel).
std::optional<uint32_t> NumericId(std::string_view s) {
  uint64_t value = 0;
  if (s.empty() || s.size() > 10) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value >= UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(value);
}

// Calls `lookup(buffer, size, &result)` (a getpw*_r / getgr*_r wrapper) with a growing buffer.
// Returns the errno-style code; *found tells whether an entry exists.
template <typename Entry, typename Lookup>
int LookupEntry(int size_name, Entry* entry, std::vector<char>* buffer, bool* found,
                Lookup lookup) {
  buffer->resize(InitialBufferSize(size_name));
  for (;;) {
    Entry* result = nullptr;
    int rc = lookup(entry, buffer->data(), buffer->size(), &result);
    if (rc == ERANGE && buffer->size() < kMaxLookupBuffer) {
      buffer->resize(buffer->size() * 2);
      continue;
    }
    *found = rc == 0 && result != nullptr;
    // "Not found" is reported as 0, ENOENT, ESRCH, EBADF or EPERM depending on the NSS module.
    return (rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) ? 0 : rc;
  }
}

std::vector<gid_t> GroupsOf(const char* user, gid_t gid) {
  int n = 32;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  for (int attempt = 0; attempt < 8; ++attempt) {
    int count = n;
    if (::getgrouplist(user, gid, groups.data(), &count) >= 0) {
      groups.resize(static_cast<size_t>(count));
      return groups;
    }
    n = std::max(count, n * 2);
    groups.resize(static_cast<size_t>(n));
  }
  return {gid};
}

}  // namespace

Peer DescribePeer(uid_t uid, gid_t gid, pid_t pid) {
  Peer p{uid, gid, pid, "uid:" + std::to_string(uid), {gid}};
  passwd pw{};
  std::vector<char> buf;
  bool found = false;
  LookupEntry(
      _SC_GETPW_R_SIZE_MAX, &pw, &buf, &found,
      [uid](passwd* e, char* b, size_t n, passwd** r) { return ::getpwuid_r(uid, e, b, n, r); });
  if (found) {
    p.user = pw.pw_name;
    p.groups = GroupsOf(pw.pw_name, gid);
    if (std::find(p.groups.begin(), p.groups.end(), gid) == p.groups.end()) {
      p.groups.push_back(gid);
    }
  }
  return p;
}

Result<Peer> PeerOf(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    int err = errno;
    if (err == ENOTSOCK || err == EBADF || err == ENOPROTOOPT) {
      return Error::InvalidArgument("descriptor " + std::to_string(fd) +
                                    " is not a connected AF_UNIX socket: " + std::strerror(err));
    }
    return Error::Io(std::string("SO_PEERCRED: ") + std::strerror(err));
  }
  if (len != sizeof(cred) || cred.pid == 0) {
    return Error::InvalidArgument("descriptor " + std::to_string(fd) +
                                  " has no peer credentials (not a connected AF_UNIX socket)");
  }
  return DescribePeer(cred.uid, cred.gid, cred.pid);
}

std::string PeerName(const Peer& peer) {
  std::string s = "uid " + std::to_string(peer.uid);
  if (peer.user != "uid:" + std::to_string(peer.uid)) s += " (" + peer.user + ")";
  return s;
}

bool AccessPolicy::Allows(const Peer& peer, proto::Access access) const {
  if (access == proto::Access::kReadOnly) return true;
  if (peer.uid == 0 || peer.uid == daemon_uid) return true;
  if (std::find(mutating_uids.begin(), mutating_uids.end(), peer.uid) != mutating_uids.end()) {
    return true;
  }
  auto listed = [this](gid_t g) {
    return std::find(mutating_gids.begin(), mutating_gids.end(), g) != mutating_gids.end();
  };
  return listed(peer.gid) || std::any_of(peer.groups.begin(), peer.groups.end(), listed);
}

Result<uid_t> UserId(const std::string& name) {
  passwd pw{};
  std::vector<char> buf;
  bool found = false;
  int rc = LookupEntry(_SC_GETPW_R_SIZE_MAX, &pw, &buf, &found,
                       [&name](passwd* e, char* b, size_t n, passwd** r) {
                         return ::getpwnam_r(name.c_str(), e, b, n, r);
                       });
  if (found) return pw.pw_uid;
  if (rc != 0) {
    return Error::Io("looking up user \"" + name + "\": " + std::strerror(rc));
  }
  if (auto id = NumericId(name)) return static_cast<uid_t>(*id);
  return Error::InvalidArgument("unknown user \"" + name + "\"");
}

Result<gid_t> GroupId(const std::string& name) {
  group gr{};
  std::vector<char> buf;
  bool found = false;
  int rc = LookupEntry(_SC_GETGR_R_SIZE_MAX, &gr, &buf, &found,
                       [&name](group* e, char* b, size_t n, group** r) {
                         return ::getgrnam_r(name.c_str(), e, b, n, r);
                       });
  if (found) return gr.gr_gid;
  if (rc != 0) {
    return Error::Io("looking up group \"" + name + "\": " + std::strerror(rc));
  }
  if (auto id = NumericId(name)) return static_cast<gid_t>(*id);
  return Error::InvalidArgument("unknown group \"" + name + "\"");
}

Result<AccessPolicy> MakeAccessPolicy(const std::vector<std::string>& users,
                                      const std::vector<std::string>& groups) {
  AccessPolicy policy;
  for (const auto& u : users) {
    auto uid = UserId(u);
    if (!uid.ok()) return uid.error().WithContext("daemon.mutating_users");
    policy.mutating_uids.push_back(*uid);
  }
  for (const auto& g : groups) {
    auto gid = GroupId(g);
    if (!gid.ok()) return gid.error().WithContext("daemon.mutating_groups");
    policy.mutating_gids.push_back(*gid);
  }
  return policy;
}

}  // namespace fruix::daemon
