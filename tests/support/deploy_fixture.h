// testing deploy fixture — the small pool the end-to-end deployment tests share: one host
// (127.0.0.1), one shared SR with two 8 MiB VDIs, one network, and two PV-style VMs whose scripted
// FreeBSD boots announce 127.0.0.1 as their DHCP lease (where a test's real sshd listens); plus
// the fruixd.toml targets "one" and "two" for them. Plain functions; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "lib/ssh/ssh_client.h"

namespace fruix::testing {

inline constexpr const char* kDeployVm1 = "aaaaaaaa-0000-4000-8000-000000000051";
inline constexpr const char* kDeployVm2 = "aaaaaaaa-0000-4000-8000-000000000052";
inline constexpr const char* kDeployVdi1 = "aaaaaaaa-0000-4000-8000-000000000041";
inline constexpr const char* kDeployVdi2 = "aaaaaaaa-0000-4000-8000-000000000042";
inline constexpr const char* kDeployNet = "aaaaaaaa-0000-4000-8000-000000000021";

// A FreeBSD boot whose lease line comes `slow_ms` after the root mount; with `panic`, a kernel
// panic line comes first.
nlohmann::json ScriptedFreeBsdGuest(int slow_ms = 5, bool panic = false);
// The pool with VM 1 and VM 2 running the given guests; `password` is root's.
std::string DeployFixture(nlohmann::json guest1, nlohmann::json guest2,
                          const std::string& password);
// [targets.NAME] for `vm`/`vdi` with an SSH check against `sshd` (user, key, port) and its
// marker at `marker_path`; generous phase timeouts.
std::string DeployTargetToml(const std::string& name, const char* vm, const char* vdi,
                             const ssh::Endpoint& sshd, const std::string& marker_path);

}  // namespace fruix::testing
