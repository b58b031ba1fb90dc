// The in-process event feed: numbers each event and hands it to every subscriber.
// Runs on the event-loop thread; a throwing subscriber is logged and skipped.
// Subscribe and unsubscribe outside of delivery, not from within a handler.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>

#include "core/event.hpp"

namespace herald::core {

class feed {
 public:
  using handler = std::function<void(const event&)>;
  using error_handler = std::function<void(const char* what)>;

  // Keeps a subscriber registered while it lives.
  class subscription {
   public:
    subscription() = default;
    subscription(subscription&&) noexcept = default;
    subscription& operator=(subscription&&) noexcept = default;
    ~subscription() { reset(); }
    void reset();

   private:
    friend class feed;
    struct state;
    std::shared_ptr<state> state_;
  };

  // `last_seq` is the highest sequence number already persisted.
  explicit feed(std::uint64_t last_seq = 0, error_handler on_error = {});

  [[nodiscard]] subscription subscribe(handler h);
  // Assigns the next sequence number (and the time, if unset), then delivers.
  std::uint64_t publish(event e);
  std::uint64_t last_seq() const noexcept { return seq_; }

 private:
  struct entry {
    handler h;
  };
  std::uint64_t seq_;
  error_handler on_error_;
  std::shared_ptr<std::list<entry>> entries_;
};

}  // namespace herald::core
