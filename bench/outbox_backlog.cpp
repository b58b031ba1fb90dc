// The outbox's memory during an outage, and at the restart after it. Two
// phases, each its own process, so that each reports its own peak RSS:
//
//     build/herald_outbox_backlog fill DATA_DIR DELIVERIES MEMORY_MIB
//     build/herald_outbox_backlog restore DATA_DIR MEMORY_MIB [all]
//
// fill: DELIVERIES deliveries of about 1.1 KB (the http reporter's request for
// a finished build) are added one per loop turn, with the real SQLite store,
// while the receiver is down: every first attempt fails with a 503 and the
// next one is an hour away. Ends when each has failed once.
// restore: a restarted herald takes the backlog up (as app/service.cpp does,
// or with `all` the way it did before: every request read at start) and the
// receiver is back: ends when each delivery has been sent once.
//
// MEMORY_MIB is [herald] outbox_memory_mib. Prints one JSON line: peak and
// final RSS, and what is live at the end (live_mib: jemalloc's count, without
// the freed pages it keeps for a while).
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <jemalloc/jemalloc.h>
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "app/heap.hpp"
#include "app/loop_scheduler.hpp"
#include "notifiers/outbox.hpp"
#include "storage/store.hpp"

using namespace herald;
using namespace std::chrono;
namespace asio = boost::asio;

namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// What is allocated and live now, MiB (jemalloc's count: no freed pages it
// still holds, which RSS includes until they decay).
double live_mib() {
  std::uint64_t epoch = 1;
  std::size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len);
  std::size_t allocated = 0;
  len = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0) return -1;
  return static_cast<double>(allocated) / (1024.0 * 1024.0);
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// About what the http reporter stores for a finished build.
std::string request_for(std::size_t i) {
  std::string r = "herald-request-1\nPOST\n/hook\n\n0\n2\ncontent-type: application/json\nidempotency-key: hook/linux/" +
                  std::to_string(i) + "/finished\n{\"builder\":\"linux\",\"number\":" + std::to_string(i) +
                  ",\"result\":\"failure\",\"text\":\"";
  r.resize(1100, 'x');
  r += "\"}";
  r.shrink_to_fit();  // one allocation of its size, as notifiers::serialize makes it
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: herald_outbox_backlog fill DATA_DIR DELIVERIES MEMORY_MIB\n"
                 "       herald_outbox_backlog restore DATA_DIR MEMORY_MIB [all]\n";
    return 2;
  }
  app::populate_heap_growth();  // as herald does (app/main.cpp)
  const std::string phase = argv[1];
  const std::filesystem::path dir = argv[2];
  const bool fill = phase == "fill";
  if (fill) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  const std::size_t count = fill ? std::stoul(argv[3]) : 0;
  const std::size_t memory = std::stoul(argv[fill ? 4 : 3]) << 20;
  const bool all = !fill && argc > 4 && std::string(argv[4]) == "all";

  auto log = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto store = storage::open_sqlite(dir / "herald.db", log);
  asio::io_context io(1);
  app::loop_scheduler sched(io);
  notifiers::outbox box(sched, *store, log, memory);
  std::size_t sent = 0;
  box.add_reporter("hook", {.initial = core::seconds(3600), .max = core::seconds(3600)},
                   [&](const storage::delivery& d, std::function<void(notifiers::attempt_outcome)> done) {
                     ++sent;
                     if (d.request.size() < 1000) std::abort();  // never sent without its request
                     notifiers::attempt_outcome o;
                     if (fill) o = {notifiers::attempt_outcome::kind::retry, "HTTP 503", {}};
                     asio::post(io, [done = std::move(done), o] { done(o); });
                   },
                   8);

  const double rss0 = rss_mib();
  const double cpu0 = cpu_seconds();
  const auto t0 = steady_clock::now();
  std::size_t next = 0;
  std::function<void()> add = [&] {
    storage::delivery d;
    d.id = "hook/linux/" + std::to_string(next) + "/finished";
    d.reporter = "hook";
    d.seq = next + 1;
    d.request = request_for(next);
    d.summary = d.id;
    d.created = d.next_attempt = core::clock::now();
    box.add(std::move(d));
    if (++next < count) asio::post(io, add);
  };
  std::size_t restored = 0;
  if (fill) {
    asio::post(io, add);
  } else {
    auto pending = all ? store->deliveries(false) : store->deliveries_without_requests(false);
    restored = pending.size();
    box.restore(std::move(pending));
  }
  asio::steady_timer poll(io);
  std::function<void()> check = [&] {
    poll.expires_after(10ms);
    poll.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      const auto& st = box.stats();
      if (fill ? next >= count && st.retried >= count : box.pending() == 0) {
        io.stop();
        return;
      }
      check();
    });
  };
  check();
  io.run();
  store->flush();
  const auto& st = box.stats();
  nlohmann::json out = {
      {"phase", phase},
      {"outbox_memory_mib", memory >> 20},
      {"deliveries", fill ? count : restored},
      {"attempts", sent},
      {"delivered", st.delivered},
      {"requests_read_back", st.reloaded},
      {"request_bytes_held", box.request_bytes()},
      {"pending", box.pending()},
      {"rss_before_mib", rss0},
      {"rss_mib", rss_mib()},
      {"live_mib", live_mib()},
      {"peak_rss_mib", peak_rss_mib()},
      {"wall_s", duration<double>(steady_clock::now() - t0).count()},
      {"cpu_us_per_delivery", (cpu_seconds() - cpu0) * 1e6 / static_cast<double>(std::max<std::size_t>(sent, 1))},
      {"left_pending_in_db", fill ? 0 : store->deliveries(false).size()},
  };
  std::cout << out.dump() << '\n';
  return 0;
}
