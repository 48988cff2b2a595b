#include "lib/sim/fixture.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/sim/record_util.h"

namespace fruix::sim {
namespace {

struct Env {
  Database db;
  SimConfig config;
  Storage storage;
  FaultInjector faults;
  std::string dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "fruix-fixture-test.XXXXXX").string();
    return std::string(mkdtemp(t.data()));
  }();
  ~Env() { std::filesystem::remove_all(dir); }
  Result<LoadedFixture> Load(const std::string& json) {
    return LoadFixture(json, dir, db, config, storage, faults);
  }
};

std::string ReadSample() {
  std::ifstream in(std::string(FRUIX_SOURCE_DIR) + "/config/sim-fixture.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Given the shipped sample fixture, Then it loads: 2 hosts (127.0.0.1 master), a control domain
// per host, SR backing files of the VDIs' sizes, guest scripts, and a local SR seen by one host.
TEST(FixtureTest, ShippedSampleLoads) {
  Env env;
  auto loaded = env.Load(ReadSample());
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  ASSERT_EQ(loaded->hosts.size(), 2u);
  EXPECT_EQ(loaded->hosts[0].address, "127.0.0.1");
  EXPECT_TRUE(loaded->hosts[0].master);
  env.db.Read([&](const Database::Txn& t) {
    int control = 0;
    for (const ObjectRow* vm : t.All("VM")) control += BoolField(vm->record, "is_control_domain");
    EXPECT_EQ(control, 2);
    auto sr = t.RefOfUuid("SR", "2f4c6e8a-1b3d-4f5a-9c7e-0a1b2c3d4e02");
    ASSERT_TRUE(sr.ok());
    EXPECT_EQ(StrSetField(t.Find("SR", *sr)->record, "PBDs").size(), 1u);
  });
  EXPECT_EQ(
      std::filesystem::file_size(std::filesystem::path(env.dir) / "srs/local-host-2/scratch.raw"),
      4294967296u);
  const GuestScript* g = env.config.GuestFor("7d9e1f3a-4b5c-4d6e-8f0a-1b2c3d4e5f01");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->console.back().text.find("FreeBSD fruix-freebsd"), 0u);
  EXPECT_EQ(env.config.credentials.password, "password");
}

// Given fixture mistakes, Then loading fails naming the path.
TEST(FixtureTest, RejectsMistakes) {
  Env a;
  auto typo = a.Load(R"({"hosts":[{"address":"127.0.0.1","nmae_label":"x"}]})");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().message().find("hosts[0].nmae_label"), std::string::npos);
  Env b;
  auto remote = b.Load(R"({"hosts":[{"address":"10.0.0.1"}]})");
  ASSERT_FALSE(remote.ok());
  EXPECT_NE(remote.error().message().find("not a loopback address"), std::string::npos);
  Env c;
  EXPECT_FALSE(
      c.Load(R"({"hosts":[{"address":"127.0.0.1"}],"vdis":[{"sr":"nope","virtual_size":1}]})")
          .ok());
  Env d;
  EXPECT_FALSE(d.Load("[1,2").ok());
  Env e;
  EXPECT_FALSE(e.Load(R"({"hosts":[{"address":"127.0.0.1"}],"bogus":1})").ok());
}

// Given a VM declared Running, Then the loader reports it with its host for adoption.
TEST(FixtureTest, RunningVmsAreReported) {
  Env env;
  auto loaded =
      env.Load(R"({"hosts":[{"uuid":"aaaaaaaa-0000-4000-8000-000000000011","address":"127.0.0.1"}],
    "vms":[{"uuid":"aaaaaaaa-0000-4000-8000-0000000000b1","power_state":"Running"}],
    "faults":[{"method":"VM.start","error":["X"]}]})");
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  ASSERT_EQ(loaded->running.size(), 1u);
  EXPECT_EQ(loaded->running[0].second, loaded->hosts[0].ref);
  EXPECT_EQ(env.faults.List().size(), 1u);
}

}  // namespace
}  // namespace fruix::sim
