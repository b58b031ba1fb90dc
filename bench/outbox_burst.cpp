// End-to-end driver for the reporters' outbox (issue 4): a burst of build
// events fanned out to several HTTP reporters, through the real feed, SQLite
// outbox, and HTTP over Boost.Beast on the Asio loop, to a receiver in another
// process (bench/e2e/outbox_burst.py starts it). Prints one JSON line:
// deliveries per second, herald's CPU per delivery and the worst loop stall.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "app/heap.hpp"
#include "app/loop_runner.hpp"
#include "app/loop_scheduler.hpp"
#include "bench/thread_cpu.hpp"
#include "core/feed.hpp"
#include "notifiers/outbox.hpp"
#include "notifiers/reporters.hpp"
#include "notifiers/transfer.hpp"
#include "storage/store.hpp"

namespace asio = boost::asio;
using namespace herald;
using namespace std::chrono;

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);  // every thread of this process: loop, SQLite writer, transfer
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The loop thread's context switches: waits for work (voluntary) and preemptions.
std::pair<long, long> loop_switches() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return {u.ru_nvcsw, u.ru_nivcsw};
}

// The process's peak resident set, MiB.
double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A fixed amount of pure computation, in ms of this thread's CPU: about 11 ms
// when this VM runs at full speed. Its vCPUs often run at half that speed
// (the host is shared; the same binary then measures twice the CPU), so each
// run reports this before and after the burst, to tell slow runs apart.
double calibration_ms() {
  const double t0 = thread_cpu_seconds();
  volatile std::uint64_t x = 0;
  for (std::uint64_t i = 0; i < 30'000'000; ++i) x = x + i * i;
  return (thread_cpu_seconds() - t0) * 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: herald_outbox_burst RECEIVER_URL EVENTS [REPORTERS] [DATA_DIR] [PROBE_MS]\n";
    return 2;
  }
  // As herald does (app/main.cpp); HERALD_POPULATE=0 leaves jemalloc's heap
  // growth as it comes, page fault by page fault, for comparison.
  const char* populate = std::getenv("HERALD_POPULATE");
  const bool populated = (populate == nullptr || std::string(populate) != "0") && app::populate_heap_growth();
  const std::string url = argv[1];
  const int events = std::stoi(argv[2]);
  const int reporter_count = argc > 3 ? std::stoi(argv[3]) : 3;
  const std::filesystem::path dir = argc > 4 ? argv[4] : std::filesystem::temp_directory_path() / "herald-burst";
  // The stall probe's period; 0 turns it off. Waking an idle loop 1,000 times a
  // second costs about 3 µs per delivery here, which is the probe's, not herald's.
  const milliseconds probe_period(argc > 5 ? std::stoi(argv[5]) : 1);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  auto log = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto store = storage::open_sqlite(dir / "herald.db", log);
  asio::io_context io(1);
  app::loop_scheduler sched(io);
  notifiers::transfer transfers(io, 64);
  // HERALD_OUTBOX_MEMORY_MIB as [herald] outbox_memory_mib (default 64: the burst never passes it).
  const char* memory_mib = std::getenv("HERALD_OUTBOX_MEMORY_MIB");
  notifiers::outbox box(sched, *store, log,
                        memory_mib ? static_cast<std::size_t>(std::atoll(memory_mib)) << 20
                                   : notifiers::outbox::default_request_memory);
  core::feed feed(0, [](const char*) {});
  auto store_sub = feed.subscribe([&](const core::event& e) { store->record(e); });

  std::vector<core::reporter_spec> specs;
  for (int i = 0; i < reporter_count; ++i) {
    core::reporter_spec s;
    s.name = "push" + std::to_string(i);
    s.type = core::reporter_type::http;
    s.url = core::secret(url + "/r" + std::to_string(i));
    s.retry_initial = core::seconds(0.2);
    specs.push_back(std::move(s));
  }
  notifiers::reporters reps(specs, {{"linux", {"fast"}}}, {"herald", "https://ci.example.org"}, box, transfers,
                            sched, log);
  auto reps_sub = feed.subscribe([&](const core::event& e) { reps.on_event(e); });

  // The loop's responsiveness: a ticker (1 ms by default). Two measures:
  // - lateness: how far each tick runs behind the chain of due times (t0 +
  //   k ms). This is the measure of the earlier sessions (loop_stall_*). It
  //   adds up: while each loop round takes longer than the period, every tick
  //   is later than the one before, although the loop never stopped (a
  //   17 ms "stall" made of ten rounds of 1.7 ms each).
  // - gap: the time between two ticks, less the period: how long a timer
  //   armed on the loop waited past its time (loop_gap_*). It is what a chat
  //   message or any other event waits, at most, before the loop runs it.
  // For the worst gap, where the loop thread's time went (/proc schedstat):
  // running (its CPU clock), runnable but waiting for a CPU (run_delay), or
  // neither (asleep: a nap, or a wake-up that came late because the vCPU
  // itself was not running).
  asio::steady_timer ticker(io);
  auto expected = steady_clock::now();
  steady_clock::duration worst{};
  steady_clock::duration worst_gap{};
  steady_clock::time_point worst_at{};  // when the worst gap ended (CLOCK_MONOTONIC, as `perf record -k mono` stamps)
  const int schedstat = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  auto run_delay_ms = [schedstat] {
    char buf[128];
    const auto n = schedstat < 0 ? -1 : ::pread(schedstat, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1.0;
    buf[n] = 0;
    unsigned long long on_cpu = 0, waiting = 0;
    if (std::sscanf(buf, "%llu %llu", &on_cpu, &waiting) != 2) return -1.0;
    return static_cast<double>(waiting) / 1e6;
  };
  steady_clock::time_point last_tick_at = steady_clock::now();
  double last_tick_cpu = thread_cpu_seconds();
  double last_tick_wait = run_delay_ms();
  double worst_cpu_ms = 0, worst_wait_ms = 0;
  std::vector<double> lateness_ms, gap_ms;
  bool done = false;
  std::function<void()> tick = [&] {
    expected += probe_period;
    ticker.expires_at(expected);
    ticker.async_wait([&](const boost::system::error_code& ec) {
      if (ec || done) return;
      const auto now = steady_clock::now();
      const auto late = now - expected;
      const auto gap = now - last_tick_at - probe_period;
      const double cpu_now = thread_cpu_seconds();
      const double wait_now = run_delay_ms();
      worst = std::max(worst, late);
      if (gap > worst_gap) {
        worst_gap = gap;
        worst_cpu_ms = (cpu_now - last_tick_cpu) * 1000.0;
        worst_wait_ms = wait_now - last_tick_wait;
        worst_at = now;
      }
      last_tick_at = now;
      last_tick_cpu = cpu_now;
      last_tick_wait = wait_now;
      lateness_ms.push_back(duration<double, std::milli>(late).count());
      gap_ms.push_back(duration<double, std::milli>(gap).count());
      tick();
    });
  };

  const double calibration_before = calibration_ms();
  const auto by_thread0 = bench::thread_cpu_by_name();
  const auto expected_deliveries = static_cast<std::uint64_t>(events) * static_cast<std::uint64_t>(reporter_count);
  const double cpu0 = cpu_seconds();
  const double loop_cpu0 = thread_cpu_seconds();
  const auto switches0 = loop_switches();
  const auto t0 = steady_clock::now();
  steady_clock::time_point published_at{};
  // Events arrive one per loop turn, as from build processes: a chain of posts.
  int next = 0;
  std::function<void()> publish = [&] {
    core::build_finished f;
    f.header.builder = "linux";
    f.header.number = next + 1;
    f.request.builder = "linux";
    f.request.branch = "main";
    f.request.revision = "0123456789abcdef0123456789abcdef01234567";
    f.request.owner = "alice";
    f.outcome = next % 3 == 0 ? core::result::failure : core::result::success;
    f.previous_on_branch = core::result::success;
    feed.publish(f);
    if (++next < events)
      asio::post(io, publish);
    else
      published_at = steady_clock::now();
  };
  // Finished when every delivery left the outbox.
  asio::steady_timer poll(io);
  std::function<void()> check = [&] {
    poll.expires_after(5ms);
    poll.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      const auto& st = box.stats();
      if (next >= events && st.delivered + st.dead >= expected_deliveries && box.pending() == 0) {
        done = true;
        ticker.cancel();
        io.stop();
        return;
      }
      if (steady_clock::now() - t0 > 600s) {
        std::cerr << "timed out\n";
        io.stop();
        return;
      }
      check();
    });
  };
  expected = steady_clock::now();  // the probe starts with the burst
  last_tick_at = steady_clock::now();
  last_tick_cpu = thread_cpu_seconds();
  last_tick_wait = run_delay_ms();
  if (probe_period.count() > 0) tick();
  asio::post(io, publish);
  check();
  // The loop runs as herald's does; HERALD_NAP_US sets the nap (0: none, for comparisons).
  app::loop_runner_options run_opts;
  if (const char* nap = std::getenv("HERALD_NAP_US")) run_opts.nap = microseconds(std::atoi(nap));
  const auto run_stats = app::run_loop(
      io, [&] { return transfers.http_in_flight() >= app::nap_when_in_flight; }, run_opts);
  const double wall = duration<double>(steady_clock::now() - t0).count();
  const double loop_cpu = thread_cpu_seconds() - loop_cpu0;
  const auto switches = loop_switches();
  store->flush();
  const double cpu = cpu_seconds() - cpu0;
  auto by_thread = bench::thread_cpu_by_name();
  for (const auto& [name, secs] : by_thread0) by_thread[name] -= secs;
  const double calibration_after = calibration_ms();

  auto pct = [](std::vector<double>& v, double p) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
  };
  const double worst_gap_ms = duration<double, std::milli>(worst_gap).count();
  // The worst gap's window: from the tick before to its end.
  const double window_ms = worst_gap_ms + duration<double, std::milli>(probe_period).count();
  const auto& st = box.stats();
  nlohmann::json out = {
      {"events", events},
      {"reporters", reporter_count},
      {"deliveries", st.delivered},
      {"dead", st.dead},
      {"retried", st.retried},
      {"wall_s", wall},
      {"loop_passes", run_stats.passes},
      {"loop_naps", run_stats.naps},
      {"loop_blocked", switches.first - switches0.first},  // naps included
      {"loop_preempted", switches.second - switches0.second},
      {"publish_s", duration<double>(published_at - t0).count()},
      {"deliveries_per_s", static_cast<double>(st.delivered) / wall},
      {"cpu_s", cpu},
      {"cpu_us_per_delivery", cpu * 1e6 / static_cast<double>(std::max<std::uint64_t>(st.delivered, 1))},
      {"loop_cpu_us_per_delivery", loop_cpu * 1e6 / static_cast<double>(std::max<std::uint64_t>(st.delivered, 1))},
      {"loop_stall_max_ms", duration<double, std::milli>(worst).count()},
      {"loop_stall_p99_ms", pct(lateness_ms, 0.99)},
      {"loop_gap_max_ms", worst_gap_ms},
      {"loop_gap_p99_ms", pct(gap_ms, 0.99)},
      {"loop_gap_max_ended_at_s", duration<double>(worst_at.time_since_epoch()).count()},
      // From the tick before the worst gap to its end: running, waiting for a CPU, asleep.
      {"worst_gap_loop_cpu_ms", worst_cpu_ms},
      {"worst_gap_waiting_for_cpu_ms", worst_wait_ms},
      {"worst_gap_asleep_ms", window_ms - worst_cpu_ms - worst_wait_ms},
      {"left_pending_in_db", store->deliveries(false).size()},
      {"requests_read_back", st.reloaded},
      {"peak_rss_mib", peak_rss_mib()},
      {"heap_populated", populated},
      {"calibration_ms", {calibration_before, calibration_after}},
  };
  if (probe_period.count() == 0)  // not measured
    for (const char* k : {"loop_stall_max_ms", "loop_stall_p99_ms", "loop_gap_max_ms", "loop_gap_p99_ms",
                          "loop_gap_max_ended_at_s", "worst_gap_loop_cpu_ms", "worst_gap_waiting_for_cpu_ms",
                          "worst_gap_asleep_ms"})
      out[k] = nullptr;
  for (const auto& [name, secs] : by_thread)
    out["thread_cpu_us_per_delivery"][name] = secs * 1e6 / static_cast<double>(std::max<std::uint64_t>(st.delivered, 1));
  std::cout << out.dump() << '\n';
  return st.delivered == expected_deliveries ? 0 : 1;
}
