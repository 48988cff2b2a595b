#include "tests/support/deploy_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "tests/support/sim_harness.h"

namespace fruix::testing {

using nlohmann::json;

namespace {

json Line(const std::string& text, int delay_ms = 5) {
  return {{"delay_ms", delay_ms}, {"line", text}};
}

json Vm(const char* uuid, const char* mac, json guest) {
  return {{"uuid", uuid},
          {"name_label", std::string("guest-") + mac},
          {"domain_type", "pv"},
          {"actions_after_crash", "destroy"},
          {"vifs", json::array({{{"network", kDeployNet}, {"device", "0"}, {"MAC", mac}}})},
          {"guest", std::move(guest)}};
}

json Vdi(const char* uuid, const char* name) {
  return {{"uuid", uuid},
          {"name_label", name},
          {"virtual_size", 8388608},
          {"sr", SimHarness::kSharedSr}};
}

}  // namespace

json ScriptedFreeBsdGuest(int slow_ms, bool panic) {
  std::vector<json> lines = {
      Line("FreeBSD 15.0-STABLE stable/15-n282801-29dce45d8c50 GENERIC amd64"),
      Line("Trying to mount root from ufs:/dev/gpt/fruix-root [rw]...")};
  if (panic) {
    lines.push_back(Line("panic: vm_fault: fault on nofault entry, addr: 0xfffffe00deadb000", 20));
  }
  lines.push_back(Line("DHCPACK from 127.0.0.254", slow_ms));
  lines.push_back(Line("bound to 127.0.0.1 -- renewal in 600 seconds."));
  lines.push_back(Line("Starting sshd."));
  return {{"console", lines}, {"console_scrollback_bytes", 65536}};
}

std::string DeployFixture(json guest1, json guest2, const std::string& password) {
  json f = {{"credentials", {{"username", "root"}, {"password", password}}},
            {"pool", {{"uuid", SimHarness::kPool}, {"master", SimHarness::kMaster}}},
            {"hosts", json::array({{{"uuid", SimHarness::kMaster}, {"address", "127.0.0.1"}}})},
            {"networks", json::array({{{"uuid", kDeployNet}, {"name_label", "net0"}}})},
            {"srs",
             json::array(
                 {{{"uuid", SimHarness::kSharedSr}, {"shared", true}, {"backing_dir", "shared"}}})},
            {"vdis", json::array({Vdi(kDeployVdi1, "disk"), Vdi(kDeployVdi2, "disk2")})},
            {"vms", json::array({Vm(kDeployVm1, "aa:00:00:00:00:51", std::move(guest1)),
                                 Vm(kDeployVm2, "aa:00:00:00:00:52", std::move(guest2))})}};
  return f.dump();
}

std::string DeployTargetToml(const std::string& name, const char* vm, const char* vdi,
                             const ssh::Endpoint& sshd, const std::string& marker_path) {
  const std::string t = "[targets." + name;
  return t + "]\npool = \"sim\"\nvm = \"" + vm + "\"\nvdi = \"" + vdi + "\"\nnetwork = \"" +
         kDeployNet + "\"\n" + t + ".console]\nos = \"freebsd\"\n" + t + ".ssh]\nuser = \"" +
         sshd.user + "\"\nkey = \"" + sshd.private_key_file +
         "\"\nport = " + std::to_string(sshd.port) + "\nmarker = \"" + marker_path + "\"\n" + t +
         ".timeouts]\nboot = \"20s\"\nnetwork = \"20s\"\nssh = \"20s\"\n\n";
}

std::unique_ptr<DeployWorld> DeployWorld::Create(const std::string& marker) {
  std::unique_ptr<DeployWorld> w(new DeployWorld());
  w->sshd_ = SshdHarness::Create();
  if (w->sshd_ == nullptr) {
    ADD_FAILURE() << "the sshd harness could not be created";
    return nullptr;
  }
  if (auto started = w->sshd_->Start(); !started.ok()) {
    ADD_FAILURE() << "sshd did not start: " << started.error().ToString();
    return nullptr;
  }
  w->sshd_->WriteMarker(marker);
  char tmpl[] = "/tmp/fruix-deploy-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return nullptr;
  }
  w->dir_ = tmpl;
  w->image_ = w->dir_ + "/disk.raw";
  std::ofstream(w->image_) << kTestImagePayload;
  if (::truncate(w->image_.c_str(), 3 * 1024 * 1024) != 0) {
    ADD_FAILURE() << "cannot size " << w->image_;
    return nullptr;
  }
  return w;
}

DeployWorld::~DeployWorld() {
  sshd_.reset();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

}  // namespace fruix::testing
