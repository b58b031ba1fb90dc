// The notifiers' outbox on the Asio loop: posts, and one wake-up timer.
// Header-only so the end-to-end benchmark drives the same one.
#pragma once

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "notifiers/outbox.hpp"

namespace herald::app {

class loop_scheduler final : public notifiers::scheduler {
 public:
  explicit loop_scheduler(boost::asio::io_context& io) : io_(io), timer_(io) {}
  core::time_point now() const override { return core::clock::now(); }
  void post(std::function<void()> fn) override { boost::asio::post(io_, std::move(fn)); }
  void wake_at(core::time_point t, std::function<void()> fn) override {
    timer_.expires_after(std::max(t - core::clock::now(), core::clock::duration::zero()));
    timer_.async_wait([fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  }

 private:
  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
};

}  // namespace herald::app
