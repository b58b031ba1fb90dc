// Token bucket arithmetic for outgoing IRC lines.
#include "bot/irc/flood.hpp"

#include <algorithm>

namespace herald::bot::irc {

token_bucket::token_bucket(int burst, double rate_per_second)
    : burst_(static_cast<double>(std::max(burst, 1))),
      rate_(rate_per_second > 0 ? rate_per_second : 0.001),
      tokens_(burst_) {}

double token_bucket::tokens_at(clock::time_point now) const {
  if (!started_ || now <= last_) return tokens_;
  std::chrono::duration<double> elapsed = now - last_;
  return std::min(burst_, tokens_ + elapsed.count() * rate_);
}

double token_bucket::available(clock::time_point now) const { return tokens_at(now); }

bool token_bucket::try_take(clock::time_point now) {
  double t = tokens_at(now);
  // Time never runs backwards for the bucket, so an out-of-order `now` cannot mint tokens.
  if (!started_ || now > last_) last_ = now;
  started_ = true;
  tokens_ = t;
  // A small epsilon absorbs rounding in the refill, so waiting exactly
  // until_available() always succeeds.
  if (tokens_ < 1.0 - 1e-9) return false;
  tokens_ = std::max(0.0, tokens_ - 1.0);
  return true;
}

token_bucket::clock::duration token_bucket::until_available(clock::time_point now) const {
  double t = tokens_at(now);
  if (t >= 1.0 - 1e-9) return clock::duration::zero();
  std::chrono::duration<double> wait((1.0 - t) / rate_);
  // Round up so the caller never wakes a hair too early and spins.
  return std::chrono::ceil<clock::duration>(wait);
}

}  // namespace herald::bot::irc
