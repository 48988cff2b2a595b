#include "daemon/pool_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "tests/support/sim_harness.h"

namespace fruix::daemon {
namespace {

using testing::SimHarness;

class PoolRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    pool_.name = "sim";
    pool_.url = sim_->HttpUrl();
    pool_.user = SimHarness::kUsername;
  }
  PoolRegistry::PasswordFn Password(std::string password) {
    return [this, password](const PoolConfig&) -> Result<std::string> {
      ++password_reads_;
      return password;
    };
  }
  std::unique_ptr<SimHarness> sim_;
  PoolConfig pool_;
  std::atomic<int> password_reads_{0};
};

// Given 16 jobs asking for the same pool at once, When they Get it, Then one login serves them
// all (one password read, one shared connection) and health says connected.
TEST_F(PoolRegistryTest, ConcurrentCallersShareOneLogin) {
  PoolRegistry registry(Password(SimHarness::kPassword));
  std::vector<std::shared_ptr<PoolConnection>> got(16);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      auto c = registry.Get(pool_);
      if (c.ok()) got[i] = *c;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& c : got) {
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c, got[0]);
  }
  EXPECT_EQ(password_reads_.load(), 1);
  Config config;
  config.pools["sim"] = pool_;
  auto health = registry.Health(config);
  ASSERT_EQ(health.size(), 1u);
  EXPECT_EQ(health[0].state, "connected");
}

// Given a wrong password, When several callers Get the pool at once, Then all fail with xapi's
// SESSION_AUTHENTICATION_FAILED naming the pool, health shows the error, and a later Get with
// the right password (a fixed password file) connects.
TEST_F(PoolRegistryTest, FailedLoginIsSharedAndNotCached) {
  std::string password = "wrong";
  PoolRegistry registry([&](const PoolConfig&) -> Result<std::string> {
    ++password_reads_;
    return password;
  });
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::latch start(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto c = registry.Get(pool_);
      if (!c.ok() && c.error().IsXapi("SESSION_AUTHENTICATION_FAILED") &&
          c.error().message().find("pool sim") != std::string::npos) {
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 8);
  EXPECT_LT(password_reads_.load(), 8);  // waiters took the in-flight login's answer
  Config config;
  config.pools["sim"] = pool_;
  EXPECT_EQ(registry.Health(config)[0].state, "error");
  password = SimHarness::kPassword;
  auto ok = registry.Get(pool_);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(registry.Health(config)[0].state, "connected");
}

// Given a connection, When the pool's configuration changes (SIGHUP), Then the next Get makes a
// new connection and the old one stays usable by whoever holds it.
TEST_F(PoolRegistryTest, ChangedConfigMakesANewConnection) {
  PoolRegistry registry(Password(SimHarness::kPassword));
  auto first = registry.Get(pool_);
  ASSERT_TRUE(first.ok());
  pool_.call_timeout = std::chrono::seconds(30);
  auto second = registry.Get(pool_);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*first, *second);
  EXPECT_TRUE((*first)->session->Call("pool.get_all", {}).ok());
}

}  // namespace
}  // namespace fruix::daemon
