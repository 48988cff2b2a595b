#include "lib/image/allocation_map.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace fruix::image {
namespace {

AllocationMap Make(uint64_t n, std::initializer_list<uint64_t> blocks) {
  AllocationMap m(n);
  for (uint64_t b : blocks) m.Set(b);
  return m;
}

// Given a map with some blocks set, When queried, Then Test/Count/Blocks/Ranges agree, blocks past
// the end test false, and Resize drops or adds unallocated blocks.
TEST(AllocationMapTest, Basics) {
  AllocationMap m = Make(130, {0, 1, 2, 64, 100, 129});
  EXPECT_EQ(m.Count(), 6u);
  EXPECT_TRUE(m.Test(64));
  EXPECT_FALSE(m.Test(65));
  EXPECT_FALSE(m.Test(5000));
  EXPECT_EQ(m.Blocks(), (std::vector<uint64_t>{0, 1, 2, 64, 100, 129}));
  EXPECT_EQ(m.Ranges(),
            (std::vector<std::pair<uint64_t, uint64_t>>{{0, 2}, {64, 64}, {100, 100}, {129, 129}}));
  m.Clear(1);
  EXPECT_EQ(m.Count(), 5u);
  m.Resize(100);
  EXPECT_EQ(m.Blocks(), (std::vector<uint64_t>{0, 2, 64}));
  m.Resize(200);
  EXPECT_FALSE(m.Test(129));  // not resurrected
  EXPECT_EQ(AllocationMap::Full(70).Count(), 70u);
  EXPECT_EQ(BlocksForSize(0), 0u);
  EXPECT_EQ(BlocksForSize(1), 1u);
  EXPECT_EQ(BlocksForSize(kBlockSize), 1u);
  EXPECT_EQ(BlocksForSize(kBlockSize + 1), 2u);
}

// Given a few runs, When encoded, Then the text is the documented range form and parses back.
TEST(AllocationMapTest, RangeEncoding) {
  const AllocationMap m = Make(1024, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 40, 44, 45, 46});
  EXPECT_EQ(m.Encode(), "am1;n=1024;r=0-12,40,44-46");
  auto back = AllocationMap::Parse(m.Encode());
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, m);
  EXPECT_EQ(AllocationMap(7).Encode(), "am1;n=7;r=");
  EXPECT_EQ(*AllocationMap::Parse("am1;n=7;r="), AllocationMap(7));
  EXPECT_EQ(AllocationMap(0).Encode(), "am1;n=0;r=");
}

// Given a 20 GiB disk with ~1000 scattered blocks, When encoded, Then the bitmap form is chosen,
// stays under 2 KB and parses back to the same map; a dense map is short too.
TEST(AllocationMapTest, ScatteredMapIsCompact) {
  const uint64_t n = BlocksForSize(20ULL << 30);  // 10240 blocks
  AllocationMap m(n);
  std::mt19937 rng(5);
  for (int i = 0; i < 1000; ++i) m.Set(rng() % n);
  const std::string text = m.Encode();
  EXPECT_EQ(text.rfind("am1;n=10240;b=", 0), 0u) << text.substr(0, 40);
  EXPECT_LT(text.size(), 2000u);
  auto back = AllocationMap::Parse(text);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, m);
  EXPECT_EQ(AllocationMap::Full(n).Encode(), "am1;n=10240;r=0-10239");
}

// Given bitmap encodings of every length modulo 3 (all base64 padding cases), When round-tripped,
// Then each map comes back equal.
TEST(AllocationMapTest, BitmapPaddingCases) {
  for (uint64_t n : {8u, 16u, 24u, 9u, 33u, 100u}) {
    AllocationMap m(n);
    for (uint64_t b = 0; b < n; b += 2) m.Set(b);  // alternate: forces the bitmap form
    const std::string text = m.Encode();
    ASSERT_NE(text.find(";b="), std::string::npos) << text;
    auto back = AllocationMap::Parse(text);
    ASSERT_TRUE(back.ok()) << n << ": " << back.error().message();
    EXPECT_EQ(*back, m) << text;
  }
}

// Given malformed texts, When parsed, Then each fails with kInvalidArgument naming what is wrong
// and where.
TEST(AllocationMapTest, ParseErrorsNameTheBadInput) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"", "prefix"},
      {"am2;n=4;r=1", "prefix"},
      {"am1;n=x;r=1", "block count"},
      {"am1;n=4", "\";r=\" or \";b=\""},
      {"am1;n=4;r=1,", "block index"},
      {"am1;n=4;r=4", "past the block count 4"},
      {"am1;n=4;r=2-1", "greater than its start"},
      {"am1;n=9;r=3,1", "increasing"},
      {"am1;n=9;r=1-2,3", "touch"},
      {"am1;n=9;r=1;2", "expected ','"},
      {"am1;n=9;r=1-", "end of a range"},
      {"am1;n=8;b=AA", "base64 characters"},
      {"am1;n=8;b=A!==", "invalid base64"},
      {"am1;n=4;b=/w==", "past the block count"},
      {"am1;n=99999999999;r=", "too large"},
  };
  for (const Case& c : cases) {
    auto r = AllocationMap::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos)
        << c.text << " -> " << r.error().message();
    EXPECT_NE(r.error().message().find("at character"), std::string::npos);
  }
}

// Given two maps of different sizes, When combined, Then union takes the larger size and both
// sets, difference keeps a's size and removes b's blocks, intersection keeps the common blocks.
TEST(AllocationMapTest, SetOperations) {
  const AllocationMap a = Make(10, {1, 2, 3, 8});
  const AllocationMap b = Make(20, {2, 8, 15});
  const AllocationMap u = Union(a, b);
  EXPECT_EQ(u.block_count(), 20u);
  EXPECT_EQ(u.Blocks(), (std::vector<uint64_t>{1, 2, 3, 8, 15}));
  const AllocationMap d = Difference(a, b);
  EXPECT_EQ(d.block_count(), 10u);
  EXPECT_EQ(d.Blocks(), (std::vector<uint64_t>{1, 3}));
  const AllocationMap d2 = Difference(b, a);
  EXPECT_EQ(d2.Blocks(), (std::vector<uint64_t>{15}));
  EXPECT_EQ(Intersection(a, b).Blocks(), (std::vector<uint64_t>{2, 8}));
}

}  // namespace
}  // namespace fruix::image
