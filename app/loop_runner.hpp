// Runs the Asio loop, coalescing wake-ups while it is busy.
//
// On this kind of machine (a paravirtualized VM) a thread that blocks in
// epoll_wait and is woken again costs several µs of CPU, more than a send or a
// recv. Under a stream of answers (the outbox pushing over many connections to
// a receiver that answers one request per 100 µs) the loop woke for almost
// every answer, handled it in a few µs and slept again. So while many answers
// are due (`worth_napping`, for herald: several HTTP requests in flight) and
// the loop's last wait for work was short, it naps for a moment before it
// waits again, and one wake-up handles every answer that arrived meanwhile:
// interrupt moderation, as network cards and the kernel's NAPI do it.
//
// A loop that waits long between events never naps, and neither does one
// without requests in flight: a chat command to herald is answered at once,
// even in a quick exchange. While deliveries stream out, a reply waits at most
// one nap (0.5 ms by default) more, and timers run up to that much late.
// Header-only so the end-to-end benchmark drives the same one.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>

namespace herald::app {

struct loop_runner_options {
  // A wait for work shorter than this means the loop is busy. Zero turns
  // napping off: the loop then runs as io_context::run() does.
  std::chrono::microseconds busy_wait{250};
  std::chrono::microseconds nap{500};
};

// herald naps while at least this many HTTP requests wait for their answers
// (notifiers::transfer::http_in_flight): with fewer, a nap has little to
// gather.
inline constexpr std::size_t nap_when_in_flight = 4;

struct loop_runner_stats {
  std::uint64_t passes = 0;  // wake-ups: each runs everything that is ready
  std::uint64_t naps = 0;
};

// Returns when the io_context is stopped or runs out of work, as run() does.
// `worth_napping` runs on the loop's thread, after each wake-up.
inline loop_runner_stats run_loop(boost::asio::io_context& io, const std::function<bool()>& worth_napping,
                                  const loop_runner_options& o = {}) {
  using clock = std::chrono::steady_clock;
  loop_runner_stats st;
  if (!worth_napping || o.busy_wait.count() <= 0 || o.nap.count() <= 0) {
    io.run();
    return st;
  }
  bool busy = false;
  clock::time_point woke{};
  for (;;) {
    // A pass that took as long as a nap has let as much arrive as a nap
    // would: napping after it would only add to the wait.
    if (busy && clock::now() - woke < o.nap) {
      std::this_thread::sleep_for(o.nap);
      ++st.naps;
    }
    const auto before = clock::now();
    if (io.run_one() == 0) break;  // waits when nothing is ready
    woke = clock::now();
    // The wait, plus the first handler (which is usually short): an
    // overestimate, so a long handler errs towards not napping.
    const bool short_wait = woke - before < o.busy_wait;
    io.poll();  // everything else that is ready, without waiting
    ++st.passes;
    busy = short_wait && worth_napping();
  }
  return st;
}

}  // namespace herald::app
