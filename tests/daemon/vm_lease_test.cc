#include "daemon/vm_lease.h"

#include <gtest/gtest.h>

#include "lib/http/curl_http_client.h"
#include "tests/support/sim_harness.h"

namespace fruix::daemon {
namespace {

using std::chrono::minutes;
using testing::SimHarness;

class VmLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = SimHarness::Start();
    ASSERT_NE(sim_, nullptr);
    auto http = http::CurlHttpClient::Create({});
    ASSERT_TRUE(http.ok());
    http_ = std::move(http).value();
    xenapi::SessionOptions o;
    o.url = sim_->HttpUrl();
    o.username = SimHarness::kUsername;
    o.password = SimHarness::kPassword;
    session_ = std::make_unique<xenapi::Session>(*http_, o);
  }
  LeaseRequest Req(const std::string& owner, const std::string& job, WallTime now) {
    return {SimHarness::kPvVm, owner, job, minutes(10), now};
  }
  std::unique_ptr<SimHarness> sim_;
  std::unique_ptr<http::HttpClient> http_;
  std::unique_ptr<xenapi::Session> session_;
  const WallTime t0_ = FromUnixMillis(1795465276000);
};

// Given a free VM, When host A leases it, Then host B is refused naming A's owner, job and
// expiry, while A (even for another job of its own) may take it over; Release by B leaves it.
TEST_F(VmLeaseTest, AcquireIsExclusiveAcrossOwners) {
  auto a = AcquireLease(*session_, Req("host-a", "j1", t0_));
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->expires, t0_ + minutes(10));
  auto b = AcquireLease(*session_, Req("host-b", "j2", t0_ + minutes(1)));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(b.error().message().find("\"host-a\" (job j1) until 2026-11-23T20:31:16.000Z"),
            std::string::npos)
      << b.error().message();
  ASSERT_TRUE(ReleaseLease(*session_, Req("host-b", "j2", t0_)).ok());
  auto held = ReadLease(*session_, SimHarness::kPvVm);
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->job_id, "j1");
  auto again = AcquireLease(*session_, Req("host-a", "j3", t0_ + minutes(2)));
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->job_id, "j3");
}

// Given a lease of another owner that has expired, or a malformed value, When acquired, Then
// it is taken over.
TEST_F(VmLeaseTest, ExpiredOrMalformedLeasesAreTakenOver) {
  ASSERT_TRUE(AcquireLease(*session_, Req("host-a", "j1", t0_)).ok());
  auto later = AcquireLease(*session_, Req("host-b", "j2", t0_ + minutes(11)));
  ASSERT_TRUE(later.ok()) << later.error().ToString();
  EXPECT_EQ(later->owner, "host-b");
  auto s = sim_->Login();
  ASSERT_TRUE(s.ok());
  const std::string vm = sim_->RefOf("VM", SimHarness::kPvVm);
  ASSERT_TRUE(sim_->CallOk("VM.remove_from_other_config", {*s, vm, "fruix-lease"}).ok());
  ASSERT_TRUE(sim_->CallOk("VM.add_to_other_config", {*s, vm, "fruix-lease", "garbage"}).ok());
  EXPECT_FALSE(ReadLease(*session_, SimHarness::kPvVm).ok());
  auto taken = AcquireLease(*session_, Req("host-c", "j3", t0_));
  ASSERT_TRUE(taken.ok()) << taken.error().ToString();
  EXPECT_EQ(taken->owner, "host-c");
}

// Given our lease, When renewed, Then its expiry moves; When another owner has taken it, Then
// renewal is refused naming it; Release removes only our own lease.
TEST_F(VmLeaseTest, RenewAndReleaseOnlyOurs) {
  ASSERT_TRUE(AcquireLease(*session_, Req("host-a", "j1", t0_)).ok());
  auto renewed = RenewLease(*session_, Req("host-a", "j1", t0_ + minutes(5)));
  ASSERT_TRUE(renewed.ok()) << renewed.error().ToString();
  EXPECT_EQ(renewed->expires, t0_ + minutes(15));
  auto wrong = RenewLease(*session_, Req("host-b", "j9", t0_ + minutes(6)));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("host-a"), std::string::npos);
  ASSERT_TRUE(ReleaseLease(*session_, Req("host-a", "j1", t0_)).ok());
  auto gone = ReadLease(*session_, SimHarness::kPvVm);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST(LeaseCodecTest, RoundTripsAndRefusesOtherValues) {
  // Given a lease, When encoded and decoded, Then it is equal; other text is refused quoting it.
  const Lease l{"host-a", "j-1", FromUnixMillis(1795465276042)};
  auto back = DecodeLease(EncodeLease(l));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->owner, "host-a");
  EXPECT_EQ(back->job_id, "j-1");
  EXPECT_EQ(back->expires, l.expires);
  auto bad = DecodeLease("{\"owner\":1}");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("{\"owner\":1}"), std::string::npos);
}

}  // namespace
}  // namespace fruix::daemon
