#include "app/loop_scheduler.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace herald::app {
namespace {

using namespace std::chrono_literals;

TEST(LoopScheduler, ALaterWakeUpReplacesTheEarlierOne) {
  boost::asio::io_context io;
  loop_scheduler s(io);
  const auto start = core::clock::now();
  int first = 0, second = 0;
  core::time_point ran_at{};
  s.wake_at(start + 20ms, [&] { ++first; });
  s.wake_at(start + 80ms, [&] {
    ++second;
    ran_at = core::clock::now();
  });
  io.run_for(5s);
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  EXPECT_GE(ran_at - start, 80ms);  // the timer armed for 20 ms fired early and waited again
}

TEST(LoopScheduler, AnEarlierWakeUpReArmsTheTimer) {
  boost::asio::io_context io;
  loop_scheduler s(io);
  const auto start = core::clock::now();
  int first = 0, second = 0;
  s.wake_at(start + 10s, [&] { ++first; });
  s.wake_at(start + 20ms, [&] { ++second; });
  io.run_for(5s);  // returns once nothing is pending: the 10 s wait was cancelled
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  EXPECT_LT(core::clock::now() - start, 5s);
}

TEST(LoopScheduler, AWakeUpInThePastRunsAtOnceAndOnlyOnce) {
  boost::asio::io_context io;
  loop_scheduler s(io);
  int runs = 0;
  s.wake_at(core::clock::now() - 1s, [&] {
    ++runs;
    s.wake_at(core::clock::now() + 10ms, [&] { ++runs; });  // asked again from the wake-up itself
  });
  io.run_for(5s);
  EXPECT_EQ(runs, 2);
}

}  // namespace
}  // namespace herald::app
