// The SQLite writer's group commit: how long the next batch of writes may
// fill before it is committed. A commit costs far more than a statement.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace herald::storage::group_commit {

// A batch this big is committed at once.
inline constexpr std::size_t full_batch = 512;
// A batch this big means writes are coming fast.
inline constexpr std::size_t busy_batch = 32;
inline constexpr std::chrono::microseconds min_window{1000}, max_window{16000};

// 1 ms while writes are few, so that a lone write waits little. Doubled after
// each busy batch, up to 16 ms: under a burst, fewer and larger commits cut the
// writer's CPU per delivery nearly in half (bench/outbox_writer.cpp: about 18
// µs with a fixed 1 ms window, 10 µs with this one). Only a push delivery's
// first attempt waits for its commit; chat lines and builds do not.
constexpr std::chrono::microseconds next_window(std::chrono::microseconds window, std::size_t batch) {
  return batch >= busy_batch ? std::min(window * 2, max_window) : min_window;
}

}  // namespace herald::storage::group_commit
