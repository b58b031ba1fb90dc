// Flood control for what we write: a token bucket (burst, then a steady rate), with the
// time passed in by the caller so it is pure and testable without sleeping.
#pragma once

#include <chrono>

namespace herald::bot::irc {

class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  // Starts full. burst < 1 counts as 1; rate <= 0 counts as one line per 1000 s.
  explicit token_bucket(int burst = 4, double rate_per_second = 1.0);

  // Takes one token if one is available at `now`.
  bool try_take(clock::time_point now);
  // How long from `now` until try_take succeeds (zero if it would now).
  clock::duration until_available(clock::time_point now) const;
  // Tokens available at `now` (fractional).
  double available(clock::time_point now) const;

 private:
  double tokens_at(clock::time_point now) const;

  double burst_;
  double rate_;
  double tokens_;
  clock::time_point last_{};
  bool started_ = false;  // `last_` is meaningful only after the first call
};

}  // namespace herald::bot::irc
