// The notifiers' outbox on the Asio loop: posts, and one wake-up timer.
// Header-only so the end-to-end benchmark drives the same one.
#pragma once

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <utility>

#include "notifiers/outbox.hpp"

namespace herald::app {

class loop_scheduler final : public notifiers::scheduler {
 public:
  explicit loop_scheduler(boost::asio::io_context& io) : io_(io), timer_(io) {}
  core::time_point now() const override { return core::clock::now(); }
  void post(std::function<void()> fn) override { boost::asio::post(io_, std::move(fn)); }
  // Re-arms the timer (a cancel and a timerfd update) only when the wake-up
  // moves earlier; a timer armed for an earlier time fires, sees that the
  // wake-up is still ahead and waits again.
  void wake_at(core::time_point t, std::function<void()> fn) override {
    fn_ = std::move(fn);
    target_ = t;
    if (armed_ && armed_for_ <= t) return;
    arm(t);
  }

 private:
  void arm(core::time_point t) {
    armed_ = true;
    armed_for_ = t;
    timer_.expires_after(std::max(t - core::clock::now(), core::clock::duration::zero()));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: re-armed for an earlier time, or shutting down
      armed_ = false;
      if (target_ > core::clock::now()) {
        arm(target_);
        return;
      }
      if (auto fn = std::exchange(fn_, nullptr)) fn();
    });
  }

  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
  std::function<void()> fn_;  // the latest wake-up's; run once
  core::time_point target_{};
  bool armed_ = false;
  core::time_point armed_for_{};
};

}  // namespace herald::app
