// Tests for the token bucket, with injected time (no sleeping).
#include "bot/irc/flood.hpp"

#include <gtest/gtest.h>

namespace herald::bot::irc {
namespace {

using namespace std::chrono_literals;
using tp = token_bucket::clock::time_point;

TEST(TokenBucket, BurstThenRate) {
  token_bucket b(4, 1.0);
  tp t0{1000s};
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.try_take(t0)) << i;
  EXPECT_FALSE(b.try_take(t0));
  EXPECT_EQ(b.until_available(t0), token_bucket::clock::duration(1s));
  EXPECT_FALSE(b.try_take(t0 + 999ms));
  EXPECT_TRUE(b.try_take(t0 + 1s));
  EXPECT_FALSE(b.try_take(t0 + 1s));
  EXPECT_EQ(b.until_available(t0 + 1500ms), token_bucket::clock::duration(500ms));
  EXPECT_TRUE(b.try_take(t0 + 2s));
}

TEST(TokenBucket, RefillsOnlyUpToBurst) {
  token_bucket b(2, 1.0);
  tp t0{10s};
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_TRUE(b.try_take(t0));
  tp later = t0 + 1h;
  EXPECT_DOUBLE_EQ(b.available(later), 2.0);
  EXPECT_TRUE(b.try_take(later));
  EXPECT_TRUE(b.try_take(later));
  EXPECT_FALSE(b.try_take(later));
}

TEST(TokenBucket, WaitingUntilAvailableAlwaysSucceeds) {
  token_bucket b(1, 3.0);  // a rate whose period is not a whole number of nanoseconds
  tp t{0s};
  t += 1s;
  int taken = 0;
  for (int i = 0; i < 100; ++i) {
    if (!b.try_take(t)) {
      t += b.until_available(t);
      ASSERT_TRUE(b.try_take(t)) << i;
    }
    ++taken;
  }
  EXPECT_EQ(taken, 100);
  // 1 from the burst, then 99 at 3 per second: about 33 s
  EXPECT_NEAR(std::chrono::duration<double>(t - tp{1s}).count(), 33.0, 0.01);
}

TEST(TokenBucket, SteadyRateOverTime) {
  token_bucket b(4, 2.0);
  tp t0{5s};
  int sent = 0;
  for (auto t = t0; t < t0 + 10s; t += 10ms)
    while (b.try_take(t)) ++sent;
  // 4 burst + 2/s for (10 s - 10 ms) -> 23
  EXPECT_EQ(sent, 23);
}

TEST(TokenBucket, TimeGoingBackwardsMintsNothing) {
  token_bucket b(1, 1.0);
  tp t0{100s};
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_FALSE(b.try_take(t0 - 50s));
  EXPECT_FALSE(b.try_take(t0 + 500ms));
  EXPECT_TRUE(b.try_take(t0 + 1s));
}

TEST(TokenBucket, Defaults) {
  token_bucket b;
  tp t0{1s};
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.try_take(t0));
  EXPECT_FALSE(b.try_take(t0));
  EXPECT_EQ(b.until_available(t0), token_bucket::clock::duration(1s));
}

TEST(TokenBucket, NonsenseSettingsAreClamped) {
  token_bucket b(0, 0.0);
  tp t0{1s};
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_FALSE(b.try_take(t0));
  EXPECT_GT(b.until_available(t0), token_bucket::clock::duration(100s));
}

}  // namespace
}  // namespace herald::bot::irc
