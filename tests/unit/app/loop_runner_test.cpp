#include "app/loop_runner.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <vector>

namespace herald::app {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// `count` timers, `step` apart, all armed before the loop runs (as answers to
// requests sent earlier arrive one by one); returns the loop's statistics.
loop_runner_stats timers_through(int count, steady::duration step, bool worth_napping, const loop_runner_options& o,
                                 int* fired) {
  boost::asio::io_context io(1);
  std::vector<std::unique_ptr<boost::asio::steady_timer>> timers;
  const auto start = steady::now() + 5ms;
  for (int i = 0; i < count; ++i) {
    timers.push_back(std::make_unique<boost::asio::steady_timer>(io, start + i * step));
    timers.back()->async_wait([fired](const boost::system::error_code& ec) {
      if (!ec) ++*fired;
    });
  }
  return run_loop(io, [worth_napping] { return worth_napping; }, o);
}

TEST(LoopRunner, WhileBusyOneWakeUpGathersWhatArrivedDuringANap) {
  loop_runner_options o;
  o.busy_wait = 1ms;
  o.nap = 2ms;
  int awake_fired = 0, napping_fired = 0;
  const auto awake = timers_through(60, 500us, false, o, &awake_fired);
  const auto napping = timers_through(60, 500us, true, o, &napping_fired);
  EXPECT_EQ(awake_fired, 60);
  EXPECT_EQ(napping_fired, 60);
  EXPECT_EQ(awake.naps, 0u);
  EXPECT_GT(napping.naps, 0u);
  // Without naps about one wake-up per timer; with 2 ms naps about four timers each.
  EXPECT_LE(napping.passes * 2, awake.passes) << napping.passes << " against " << awake.passes;
}

TEST(LoopRunner, AQuietLoopNeverNaps) {
  // Even with work in flight: events 10 ms apart are not a busy loop. On a
  // loaded machine a wake-up can come so late that the next event follows it
  // closely, which is a busy moment; then it runs again.
  loop_runner_stats st;
  for (int tries = 0; tries < 5; ++tries) {
    int fired = 0;
    st = timers_through(6, 10ms, true, {}, &fired);
    EXPECT_EQ(fired, 6);
    if (st.naps == 0) break;
  }
  EXPECT_EQ(st.naps, 0u);
  EXPECT_GE(st.passes, 6u);
}

TEST(LoopRunner, NothingInFlightMeansNoNapEvenInAQuickExchange) {
  // A chat exchange: each handler answers at once and the next message comes
  // 100 µs later. Nothing is in flight, so no reply waits for a nap.
  int fired = 0;
  const auto st = timers_through(50, 100us, false, {}, &fired);
  EXPECT_EQ(fired, 50);
  EXPECT_EQ(st.naps, 0u);
}

// One timer, then 1 ms later two more due together: the first of those wakes
// the loop after a short wait (busy), the second runs in the same pass and
// takes 3 ms. Returns the loop's statistics.
loop_runner_stats short_wait_then_long_pass() {
  boost::asio::io_context io(1);
  const auto start = steady::now() + 5ms;
  boost::asio::steady_timer first(io, start), second(io, start + 1ms), third(io, start + 1ms);
  int ran = 0;
  const auto handler = [&](const boost::system::error_code& ec) {
    if (ec) return;
    if (++ran == 3)  // the later of the two due together: run by poll(), after the wake-up
      for (const auto until = steady::now() + 3ms; steady::now() < until;) {
      }
  };
  first.async_wait(handler);
  second.async_wait(handler);
  third.async_wait(handler);
  loop_runner_options o;
  o.busy_wait = 3ms;
  o.nap = 2ms;
  const auto st = run_loop(io, [] { return true; }, o);
  EXPECT_EQ(ran, 3);
  return st;
}

TEST(LoopRunner, APassLongerThanANapIsNotFollowedByOne) {
  // Whatever a nap could gather has arrived during the long pass, so a nap
  // would only add latency. On a loaded machine the loop can wake so late that
  // all three timers fall into one pass; then the case did not arise, and it
  // runs again.
  int tries = 0;
  loop_runner_stats st;
  do {
    st = short_wait_then_long_pass();
  } while (st.passes != 2 && ++tries < 20);
  ASSERT_EQ(st.passes, 2u) << "the loop never woke twice in " << tries << " tries";
  EXPECT_EQ(st.naps, 0u);
}

TEST(LoopRunner, ReturnsWhenStoppedOrOutOfWork) {
  boost::asio::io_context io(1);
  int ran = 0;
  boost::asio::post(io, [&] { ++ran; });
  boost::asio::post(io, [&] {
    ++ran;
    io.stop();
  });
  boost::asio::post(io, [&] { ++ran; });  // after the stop: not run
  run_loop(io, [] { return true; });
  EXPECT_EQ(ran, 2);

  boost::asio::io_context idle(1);
  int chain = 0;
  std::function<void()> next = [&] {
    if (++chain < 100) boost::asio::post(idle, next);
  };
  boost::asio::post(idle, next);
  const auto st = run_loop(idle, [] { return true; });  // returns once nothing is left
  EXPECT_EQ(chain, 100);
  EXPECT_EQ(st.passes, 1u);  // a chain of posts is one pass: nothing to wait for between them
}

TEST(LoopRunner, ZeroNapRunsLikeRun) {
  boost::asio::io_context io(1);
  int ran = 0;
  boost::asio::post(io, [&] { ++ran; });
  loop_runner_options o;
  o.nap = 0us;
  const auto st = run_loop(io, [] { return true; }, o);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(st.passes, 0u);
  EXPECT_EQ(st.naps, 0u);
}

}  // namespace
}  // namespace herald::app
