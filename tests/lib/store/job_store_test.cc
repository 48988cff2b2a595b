// Tests of the state helpers in lib/store/job_store.h.
#include "lib/store/job_store.h"

#include <gtest/gtest.h>

namespace fruix::store {
namespace {

// Given each state spelling, When classified, Then the six states are known, exactly the four
// end states are terminal, and anything else (phase names, case variants) is neither.
TEST(JobStoreTest, StatesAreClassified) {
  for (std::string_view s : {kStateQueued, kStateRunning}) {
    EXPECT_TRUE(IsKnownState(s)) << s;
    EXPECT_FALSE(IsTerminalState(s)) << s;
  }
  for (std::string_view s : {kStateReady, kStateFailed, kStateCancelled, kStateInterrupted}) {
    EXPECT_TRUE(IsKnownState(s)) << s;
    EXPECT_TRUE(IsTerminalState(s)) << s;
  }
  for (std::string_view s : {"", "upload", "Ready", "done"}) {
    EXPECT_FALSE(IsKnownState(s)) << s;
    EXPECT_FALSE(IsTerminalState(s)) << s;
  }
}

// Given a default JobRow and JobFilter, Then a new job is queued with an unknown uid, and a list
// returns the default page size of any job.
TEST(JobStoreTest, Defaults) {
  JobRow j;
  EXPECT_EQ(j.state, kStateQueued);
  EXPECT_EQ(j.requested_by_uid, -1);
  JobFilter f;
  EXPECT_EQ(f.limit, kDefaultListLimit);
  EXPECT_TRUE(f.states.empty());
  EXPECT_TRUE(f.before.empty());
}

}  // namespace
}  // namespace fruix::store
