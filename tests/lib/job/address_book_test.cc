// Tests of job::AddressBook and GuestMetricsAddresses (lib/job/address_book.h).
#include "lib/job/address_book.h"

#include <gtest/gtest.h>

#include <thread>

namespace fruix::job {
namespace {

using std::chrono::milliseconds;

// Given console and guest-metrics configured, When console answers first and guest metrics
// later with another address, Then console wins, both are recorded, and they disagree.
TEST(AddressBookTest, FirstWinsAllRecordedDisagreementReported) {
  AddressBook book(RealClock(), {AddressSource::kGuestMetrics, AddressSource::kConsole});
  EXPECT_EQ(book.Silent().size(), 2u);
  EXPECT_NE(book.StatusText().find("no source has answered"), std::string::npos);
  EXPECT_TRUE(book.Report(AddressSource::kConsole, "10.0.0.5", "bound to 10.0.0.5"));
  EXPECT_FALSE(book.Report(AddressSource::kConsole, "10.0.0.5", "again"));  // repeat ignored
  EXPECT_FALSE(book.Disagreement());
  EXPECT_FALSE(book.Report(AddressSource::kGuestMetrics, "10.0.0.6", "0/ip"));
  ASSERT_TRUE(book.Winner());
  EXPECT_EQ(book.Winner()->address, "10.0.0.5");
  EXPECT_EQ(book.Winner()->source, AddressSource::kConsole);
  EXPECT_EQ(book.All().size(), 2u);
  EXPECT_TRUE(book.Disagreement());
  EXPECT_TRUE(book.Silent().empty());
  EXPECT_NE(book.StatusText().find("sources disagree"), std::string::npos);
}

// Given an empty book, When another thread reports after 50 ms, Then WaitForWinner returns it;
// and Given nobody answers, Then it returns nullopt at the deadline, naming the silent sources.
TEST(AddressBookTest, WaitForWinnerWakesOrTimesOut) {
  AddressBook book(RealClock(), {AddressSource::kLeaseFile});
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(50));
    book.Report(AddressSource::kLeaseFile, "192.168.1.9", "lease");
  });
  auto w = book.WaitForWinner(RealClock().Now() + std::chrono::seconds(5), {});
  t.join();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->address, "192.168.1.9");

  AddressBook silent(RealClock(), {AddressSource::kGuestMetrics});
  auto start = RealClock().Now();
  EXPECT_FALSE(silent.WaitForWinner(start + milliseconds(150), {}));
  EXPECT_GE(RealClock().Now() - start, milliseconds(150));
  EXPECT_NE(silent.StatusText().find("guest-metrics"), std::string::npos);
}

// Given a stop request, When waiting, Then WaitForWinner returns promptly.
TEST(AddressBookTest, WaitForWinnerStops) {
  AddressBook book(RealClock(), {AddressSource::kConsole});
  std::stop_source stop;
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(50));
    stop.request_stop();
  });
  auto start = RealClock().Now();
  EXPECT_FALSE(book.WaitForWinner(start + std::chrono::seconds(10), stop.get_token()));
  t.join();
  EXPECT_LT(RealClock().Now() - start, std::chrono::seconds(2));
}

// Given guest-metrics networks for devices 0 and 1, When asking for device 1, Then only its IPv4
// addresses come back, "/ip" first, no IPv6, no duplicates.
TEST(AddressBookTest, GuestMetricsAddressesOfDevice) {
  std::map<std::string, std::string> networks = {
      {"0/ip", "10.0.0.1"},     {"1/ipv4/1", "10.1.0.3"}, {"1/ip", "10.1.0.2"},
      {"1/ipv4/0", "10.1.0.2"}, {"1/ipv6/0", "fe80::1"},  {"10/ip", "10.10.0.1"},
  };
  EXPECT_EQ(GuestMetricsAddresses(networks, "1"),
            (std::vector<std::string>{"10.1.0.2", "10.1.0.3"}));
  EXPECT_EQ(GuestMetricsAddresses(networks, "0"), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_TRUE(GuestMetricsAddresses(networks, "2").empty());
}

}  // namespace
}  // namespace fruix::job
