// The reporters' outbox: what persisting a delivery costs (stored before the
// first attempt, removed once delivered), and what wording and planning one
// costs per reporter type. The burst through the whole path is
// bench/outbox_burst.cpp.
#include <benchmark/benchmark.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <filesystem>
#include <string>

#include "notifiers/format.hpp"
#include "notifiers/providers.hpp"
#include "notifiers/reporters.hpp"
#include "storage/store.hpp"

namespace {

using namespace herald;

std::shared_ptr<spdlog::logger> quiet() {
  return std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// CPU time of every thread of this process (here: mostly the SQLite writer).
double process_cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Store then remove deliveries; the writer thread commits in batches. Wall
// time per item, flush included, so the writer's work is counted;
// cpu_us_per_item is the process's CPU (the writer's, mostly), which the
// batch window does not inflate. `later`: each delivery is removed in the
// batch after the one that stored it, as in the service (the first attempt
// waits for the commit), instead of in the same batch.
void persist(benchmark::State& state, bool later) {
  const auto dir = std::filesystem::temp_directory_path() / "herald-bench-outbox";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = storage::open_sqlite(dir / "herald.db", quiet());
  const auto batch = state.range(0);
  storage::delivery d;
  d.reporter = "github";
  d.key = "github:octo/repo|0123456789abcdef0123456789abcdef01234567|herald/linux";
  d.request = std::string(600, 'x');
  d.summary = "github status success for linux#7";
  std::int64_t n = 0;
  auto id = [](std::int64_t i) { return "github/linux/" + std::to_string(i) + "/finished"; };
  const double cpu0 = process_cpu_us();
  for (auto _ : state) {
    for (std::int64_t i = 0; i < batch; ++i) {
      d.id = id(++n);
      d.seq = static_cast<std::uint64_t>(n);
      d.created = d.next_attempt = core::clock::now();
      store->add_delivery(std::make_shared<storage::delivery>(d), nullptr);
      if (!later)
        store->remove_delivery(d.id);
      else if (n > batch)
        store->remove_delivery(id(n - batch));
    }
    store->flush();
  }
  const double items = static_cast<double>(state.iterations() * batch);
  state.counters["cpu_us_per_item"] = (process_cpu_us() - cpu0) / items;
  state.SetItemsProcessed(state.iterations() * batch);
  store.reset();
  std::filesystem::remove_all(dir);
}

// One delivery's whole life in the outbox when the first attempt succeeds.
void BM_OutboxPersist(benchmark::State& state) { persist(state, false); }
BENCHMARK(BM_OutboxPersist)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The same, each removal committed after the store, as under a burst.
void BM_OutboxPersistRemovedLater(benchmark::State& state) { persist(state, true); }
BENCHMARK(BM_OutboxPersistRemovedLater)->Arg(30)->Arg(100)->UseRealTime()->Unit(benchmark::kMicrosecond);

notifiers::report sample_report() {
  notifiers::report r;
  r.kind = notifiers::report_kind::finished;
  r.title = "herald";
  r.builder = "linux";
  r.number = 1234;
  r.request.branch = "main";
  r.request.revision = "0123456789abcdef0123456789abcdef01234567";
  r.request.owner = "alice";
  r.request.reason = "force by alice";
  r.outcome = core::result::failure;
  r.previous = core::result::success;
  r.status_detected = "new failure";
  r.blame = {"alice"};
  r.steps = {{0, "checkout", core::result::success, "", core::seconds(1.5)},
             {1, "compile", core::result::failure, "exit 2", core::seconds(42)}};
  r.failed_step = "compile";
  r.log_excerpt = "main.cpp:12: error: expected ';'\nninja: build stopped\n";
  r.build_url = "https://ci.example.org/#/builders/linux/builds/1234";
  return r;
}

// Wording and planning one report, then serializing its request: the loop's
// CPU per delivery before the outbox and the transfer thread take over.
// A reporter of each type, with what every type needs.
core::reporter_spec sample_spec(std::int64_t type) {
  core::reporter_spec spec;
  spec.name = "r";
  spec.type = static_cast<core::reporter_type>(type);
  spec.repository = "octo/repo";
  spec.url = core::secret("https://hooks.example.org/x");
  spec.token = core::secret("t0ken");
  spec.room = "!room:example.org";
  spec.from = "ci@example.org";
  spec.to = {"dev@example.org"};
  return spec;
}

void BM_PlanReport(benchmark::State& state) {
  const auto spec = sample_spec(state.range(0));
  notifiers::formatter fmt(spec, quiet());
  auto r = sample_report();
  r.request.props["gerrit_change"] = "42";
  for (auto _ : state) {
    auto plans = spec.type == core::reporter_type::mail ? notifiers::plan_mail(spec, fmt, r, core::clock::now())
                                                        : notifiers::plan(spec, fmt, r);
    for (auto& p : plans) benchmark::DoNotOptimize(notifiers::serialize(p.req));
  }
  state.SetLabel(std::string(core::reporter_type_name(spec.type)));
}
BENCHMARK(BM_PlanReport)->DenseRange(0, 13)->Unit(benchmark::kMicrosecond);

// Each attempt, before the transfer: the stored request read back and resolved
// against the reporter (its URL, extra headers and credentials), as
// reporters::send does.
void BM_PrepareAttempt(benchmark::State& state) {
  const auto spec = sample_spec(state.range(0));
  notifiers::formatter fmt(spec, quiet());
  auto r = sample_report();
  r.request.props["gerrit_change"] = "42";
  const auto stored = notifiers::serialize(notifiers::plan(spec, fmt, r).at(0).req);
  for (auto _ : state) {
    auto req = notifiers::deserialize(stored);
    benchmark::DoNotOptimize(notifiers::resolve(spec, std::move(*req)));
  }
  state.SetLabel(std::string(core::reporter_type_name(spec.type)));
}
BENCHMARK(BM_PrepareAttempt)->Arg(1)->Arg(2)->Arg(7)->Unit(benchmark::kMicrosecond);

}  // namespace
