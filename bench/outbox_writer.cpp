// The SQLite writer under the outbox burst's load, without the network: the
// store's writer thread gets the same jobs at the same pace as in
// bench/outbox_burst.cpp (each build event recorded, three 1 KB deliveries
// stored, and each removed about `lag` deliveries later, as their attempts
// finish), so that changes to the store can be compared without the noise of
// a receiver sharing the machine. Prints one JSON line with the writer
// thread's CPU per delivery.
//
//     build/herald_outbox_writer [EVENTS] [DELIVERIES_PER_MS] [LAG] [DATA_DIR]
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "app/heap.hpp"
#include "bench/thread_cpu.hpp"
#include "core/event.hpp"
#include "storage/store.hpp"

using namespace herald;
using namespace std::chrono;

int main(int argc, char** argv) {
  app::populate_heap_growth();  // as herald does (app/main.cpp)
  const int events = argc > 1 ? std::stoi(argv[1]) : 10000;
  const int per_ms = argc > 2 ? std::stoi(argv[2]) : 10;
  const std::size_t lag = argc > 3 ? std::stoul(argv[3]) : 15000;
  const std::filesystem::path dir = argc > 4 ? argv[4] : std::filesystem::temp_directory_path() / "herald-writer";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto log = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto store = storage::open_sqlite(dir / "herald.db", log);

  // A little more than the http reporter's default request for a finished
  // build (about 800 bytes with its headers).
  const std::string request(1100, 'x');
  std::deque<std::string> to_remove;
  const auto t0 = steady_clock::now();
  const double cpu0 = bench::thread_cpu_by_name()["herald-sqlite"];
  int deliveries = 0;
  for (int e = 1; e <= events; ++e) {
    core::build_finished f;
    f.header.seq = static_cast<std::uint64_t>(e);
    f.header.builder = "linux";
    f.header.number = e;
    f.outcome = core::result::success;
    store->record(f);
    for (int r = 0; r < 3; ++r) {
      auto d = std::make_shared<storage::delivery>();
      d->id = "push" + std::to_string(r) + "/linux/" + std::to_string(e) + "/finished";
      d->reporter = "push" + std::to_string(r);
      d->seq = static_cast<std::uint64_t>(e);
      d->request = request;
      d->summary = "http report of linux#" + std::to_string(e);
      d->created = d->next_attempt = core::clock::now();
      to_remove.push_back(d->id);
      store->add_delivery(std::move(d), nullptr);
      if (to_remove.size() > lag) {
        store->remove_delivery(to_remove.front());
        to_remove.pop_front();
      }
      // Paced as the burst delivers: `per_ms` deliveries a millisecond.
      if (++deliveries % per_ms == 0) std::this_thread::sleep_until(t0 + milliseconds(deliveries / per_ms));
    }
  }
  for (; !to_remove.empty(); to_remove.pop_front()) {
    store->remove_delivery(to_remove.front());
    if (++deliveries % per_ms == 0) std::this_thread::sleep_until(t0 + milliseconds(deliveries / per_ms));
  }
  store->flush();
  const double cpu = bench::thread_cpu_by_name()["herald-sqlite"] - cpu0;
  nlohmann::json out = {
      {"deliveries", events * 3},
      {"wall_s", duration<double>(steady_clock::now() - t0).count()},
      {"writer_cpu_us_per_delivery", cpu * 1e6 / (events * 3.0)},
      {"left_pending_in_db", store->deliveries(false).size()},
  };
  std::cout << out.dump() << '\n';
}
