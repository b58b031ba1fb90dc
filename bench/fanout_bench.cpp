// Event fan-out from the feed to 1,000 subscribed channels through the chat
// core onto an in-memory transport. Target: >= 1,000,000 matched events/s.
#include <benchmark/benchmark.h>

#include "core/feed.hpp"
#include "tests/support/fakes.hpp"

namespace {

struct counting_transport final : herald::bot::transport {
  std::size_t lines = 0;
  std::string current_nick() const override { return "herald"; }
  void send(herald::bot::outgoing m) override {
    lines += 1;
    benchmark::DoNotOptimize(m.text.data());
  }
  void join(const std::string&, const std::string&) override {}
  void part(const std::string&, const std::string&) override {}
};

void BM_FanOutFinished(benchmark::State& state) {
  const auto channels = static_cast<int>(state.range(0));
  auto cfg = herald::testing::test_config();
  cfg.irc.channels.clear();
  cfg.irc.channels.resize(static_cast<std::size_t>(channels));
  for (int i = 0; i < channels; ++i) cfg.irc.channels[static_cast<std::size_t>(i)].name = "#chan" + std::to_string(i);
  counting_transport t;
  herald::bot::chat chat(cfg, t, herald::testing::null_logger());
  chat.restore({});
  herald::core::feed feed;
  auto sub = feed.subscribe([&](const herald::core::event& e) { chat.on_event(e); });
  std::int64_t n = 0;
  for (auto _ : state) {
    herald::core::build_finished f;
    f.header.builder = "quick";
    f.header.number = ++n;
    f.outcome = herald::core::result::failure;
    f.previous_on_branch = herald::core::result::success;
    f.text = "step `compile` failed (exit 2)";
    feed.publish(std::move(f));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(t.lines));
  state.counters["matched_per_s"] = benchmark::Counter(static_cast<double>(t.lines), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_FanOutFinished)->Arg(1000);

}  // namespace
