// testing deploy fixture — the small pool the end-to-end deployment tests share: one host
// (127.0.0.1), one shared SR with two 8 MiB VDIs, one network, and two PV-style VMs whose scripted
// FreeBSD boots announce 127.0.0.1 as their DHCP lease (where a test's real sshd listens); plus
// the fruixd.toml targets "one" and "two" for them. Plain functions; any thread.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "lib/ssh/ssh_client.h"
#include "tests/support/sshd_harness.h"

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

// The first bytes of DeployWorld's image (what a test finds in the VDI after the upload).
inline constexpr std::string_view kTestImagePayload = "fruix image payload";

// The guest side of one end-to-end deployment test: a real sshd (the guests' SSH server) whose
// readiness marker holds `marker`, and a scratch directory with a 3 MiB sparse raw image starting
// with kTestImagePayload. Everything is stopped and removed by the destructor. One test thread.
class DeployWorld {
 public:
  // Reports a gtest failure and returns nullptr when the sshd or the image cannot be made.
  static std::unique_ptr<DeployWorld> Create(const std::string& marker = "build-42");
  ~DeployWorld();
  DeployWorld(const DeployWorld&) = delete;
  DeployWorld& operator=(const DeployWorld&) = delete;

  SshdHarness& sshd() { return *sshd_; }
  const std::string& image() const { return image_; }

 private:
  DeployWorld() = default;
  std::unique_ptr<SshdHarness> sshd_;
  std::string dir_;
  std::string image_;
};

}  // namespace fruix::testing
