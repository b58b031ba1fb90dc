// A hand-driven event loop for the notifiers' outbox: a manual clock, posts
// (thread-safe: the store's writer thread posts its commit callbacks) and one
// wake-up.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "notifiers/outbox.hpp"
#include "storage/store.hpp"

namespace herald::testing {

// A loop with a hand-driven clock. post() may come from the store's writer thread.
class manual_loop final : public notifiers::scheduler {
 public:
  core::time_point now() const override { return now_; }
  void post(std::function<void()> fn) override {
    std::lock_guard lock(m_);
    posted_.push_back(std::move(fn));
  }
  void wake_at(core::time_point t, std::function<void()> fn) override {
    wake_time_ = t;
    wake_ = std::move(fn);
  }
  // Runs what was posted (after the store committed), then due wake-ups.
  void settle(storage::store& s) {
    for (int round = 0; round < 10; ++round) {
      s.flush();
      if (!run_posted()) break;
    }
  }
  // Runs what has been posted so far, without waiting for the store; false if nothing was.
  bool run_posted() {
    std::deque<std::function<void()>> batch;
    {
      std::lock_guard lock(m_);
      batch.swap(posted_);
    }
    for (auto& f : batch) f();
    return !batch.empty();
  }
  void advance(core::clock::duration d, storage::store& s) {
    now_ += d;
    if (wake_ && wake_time_ <= now_) std::exchange(wake_, nullptr)();
    settle(s);
  }
  std::optional<core::time_point> wake_time() const {
    if (!wake_) return std::nullopt;
    return wake_time_;
  }

 private:
  core::time_point now_ = core::clock::now();
  mutable std::mutex m_;
  std::deque<std::function<void()>> posted_;
  core::time_point wake_time_{};
  std::function<void()> wake_;
};

}  // namespace herald::testing
