#include "core/feed.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace herald::core {
namespace {

build_started started(std::string builder, std::int64_t n) {
  build_started e;
  e.header.builder = std::move(builder);
  e.header.number = n;
  return e;
}

TEST(Feed, NumbersEventsFromLastPersisted) {
  feed f(41);
  std::vector<std::uint64_t> seen;
  auto sub = f.subscribe([&](const event& e) { seen.push_back(header_of(e).seq); });
  f.publish(started("a", 1));
  f.publish(started("a", 2));
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{42, 43}));
  EXPECT_EQ(f.last_seq(), 43u);
}

TEST(Feed, SetsTimeWhenUnset) {
  feed f;
  time_point t{};
  auto sub = f.subscribe([&](const event& e) { t = header_of(e).time; });
  f.publish(started("a", 1));
  EXPECT_NE(t, time_point{});
}

TEST(Feed, ThrowingSubscriberDoesNotStopOthers) {
  std::vector<std::string> errors;
  feed f(0, [&](const char* what) { errors.emplace_back(what); });
  int calls = 0;
  auto s1 = f.subscribe([](const event&) { throw std::runtime_error("boom"); });
  auto s2 = f.subscribe([&](const event&) { ++calls; });
  f.publish(started("a", 1));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(errors, (std::vector<std::string>{"boom"}));
}

TEST(Feed, SubscriptionEndsWithItsToken) {
  feed f;
  int calls = 0;
  {
    auto sub = f.subscribe([&](const event&) { ++calls; });
    f.publish(started("a", 1));
  }
  f.publish(started("a", 2));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace herald::core
