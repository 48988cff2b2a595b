// Tests of job::FindLease / LookupLease (lib/job/lease_file.h).
#include "lib/job/lease_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fruix::job {
namespace {

// Given a dnsmasq lease file with two MACs, When looking up one (in upper case), Then its
// address and line come back; an unknown MAC has no lease.
TEST(LeaseFileTest, DnsmasqByMac) {
  const char* text =
      "1763900000 52:54:00:aa:bb:01 10.0.0.11 guest1 01:52:54:00:aa:bb:01\n"
      "1763900100 52:54:00:aa:bb:02 10.0.0.12 * *\n"
      "duid 00:01:00:01:2c:aa:bb:cc\n";
  auto r = FindLease(text, "52:54:00:AA:BB:02");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->address, "10.0.0.12");
  EXPECT_EQ((*r)->raw, "1763900100 52:54:00:aa:bb:02 10.0.0.12 * *");
  auto none = FindLease(text, "52:54:00:aa:bb:03");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

// Given an ISC dhcpd.leases file where the MAC has an old free lease and a newer active one,
// When looking it up, Then the newest active lease wins.
TEST(LeaseFileTest, IscNewestActiveBlock) {
  const char* text =
      "# The format of this file is documented in the dhcpd.leases(5) manual page.\n"
      "lease 192.168.213.60 {\n  starts 4 2026/11/19 10:00:00;\n  binding state active;\n"
      "  hardware ethernet 52:54:00:12:34:56;\n}\n"
      "lease 192.168.213.61 {\n  starts 4 2026/11/19 11:00:00;\n  binding state free;\n"
      "  hardware ethernet 52:54:00:12:34:56;\n}\n"
      "lease 192.168.213.62 {\n  starts 4 2026/11/19 12:00:00;\n  binding state active;\n"
      "  hardware ethernet 52:54:00:12:34:56;\n}\n"
      "lease 192.168.213.63 {\n  binding state active;\n  hardware ethernet "
      "52:54:00:00:00:01;\n}\n";
  auto r = FindLease(text, "52:54:00:12:34:56");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->address, "192.168.213.62");
  EXPECT_NE((*r)->raw.find("12:00:00"), std::string::npos);
}

// Given a malformed MAC, Then the error names it; Given a missing file, Then there is no lease
// (not an error); Given a real file, Then LookupLease reads it.
TEST(LeaseFileTest, BadMacMissingFileAndRealFile) {
  auto bad = FindLease("", "52-54-00-12-34-56");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("52-54-00-12-34-56"), std::string::npos);

  auto dir = std::filesystem::temp_directory_path() / ("fruix-lease-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto missing = LookupLease((dir / "none.leases").string(), "52:54:00:12:34:56");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
  {
    std::ofstream out(dir / "dnsmasq.leases");
    out << "0 52:54:00:12:34:56 10.9.9.9 g *\n";
  }
  auto found = LookupLease((dir / "dnsmasq.leases").string(), "52:54:00:12:34:56");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(*found);
  EXPECT_EQ((*found)->address, "10.9.9.9");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fruix::job
