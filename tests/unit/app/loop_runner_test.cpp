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
  // Even with work in flight: events 5 ms apart are not a busy loop.
  int fired = 0;
  const auto st = timers_through(6, 5ms, true, {}, &fired);
  EXPECT_EQ(fired, 6);
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

TEST(LoopRunner, APassLongerThanANapIsNotFollowedByOne) {
  // Woken quickly (busy), then 3 ms of work in the same pass: whatever a nap
  // could gather has arrived meanwhile, so a nap would only add latency.
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
  o.busy_wait = 3ms;  // 1 ms after the first, even on a loaded machine
  o.nap = 2ms;
  const auto st = run_loop(io, [] { return true; }, o);
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(st.passes, 2u);
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
