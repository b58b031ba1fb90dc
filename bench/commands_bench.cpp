// Commands through the address check, tokenizer, registry, handler and reply,
// on an in-memory transport. Target: >= 100,000 commands per second.
#include <benchmark/benchmark.h>

#include "tests/support/fakes.hpp"

namespace {

using herald::testing::command_harness;

void run(benchmark::State& state, const char* text, const char* nick, bool op = false) {
  command_harness h;
  h.transport.sent.reserve(16);
  herald::bot::incoming_message m{"#builds", {nick, "user", "host", ""}, text, op};
  for (auto _ : state) {
    h.transport.sent.clear();
    h.chat.on_message(m);
    benchmark::DoNotOptimize(h.transport.sent.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_CommandStatus(benchmark::State& s) { run(s, "herald: status quick", "bob"); }
void BM_CommandNotifyList(benchmark::State& s) { run(s, "herald: notify list", "bob", /*op=*/true); }
void BM_CommandForce(benchmark::State& s) {
  run(s, "herald: force build --branch=main --props=a=1,b=2 quick a reason", "alice");
}
void BM_CommandDenied(benchmark::State& s) { run(s, "herald: force build quick", "mallory"); }

BENCHMARK(BM_CommandStatus);
BENCHMARK(BM_CommandNotifyList);
BENCHMARK(BM_CommandForce);
BENCHMARK(BM_CommandDenied);

}  // namespace
