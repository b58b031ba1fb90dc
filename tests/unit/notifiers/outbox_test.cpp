#include "notifiers/outbox.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>

#include "tests/support/manual_loop.hpp"

namespace herald::notifiers {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using herald::testing::manual_loop;
using k = attempt_outcome::kind;

struct attempt {
  storage::delivery d;
  std::function<void(attempt_outcome)> done;
};

struct fixture {
  fs::path dir = fs::temp_directory_path() / ("herald-outbox-" + std::to_string(::getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::shared_ptr<spdlog::logger> log =
      std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::unique_ptr<storage::store> store;
  manual_loop loop;
  std::unique_ptr<outbox> box;
  std::vector<attempt> attempts;  // every attempt started, in order
  std::size_t request_memory = outbox::default_request_memory;

  fixture() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    reopen();
  }
  ~fixture() {
    box.reset();
    store.reset();
    fs::remove_all(dir);
  }
  void reopen(retry_policy p = {}) {
    box.reset();
    store.reset();
    store = storage::open_sqlite(dir / "herald.db", log);
    box = std::make_unique<outbox>(loop, *store, log, request_memory);
    box->add_reporter("gh", p, [this](const storage::delivery& d, std::function<void(attempt_outcome)> done) {
      attempts.push_back({d, std::move(done)});
    }, 2);
  }
  storage::delivery make(std::string id, std::uint64_t seq, std::string key = "") {
    storage::delivery d;
    d.id = std::move(id);
    d.reporter = "gh";
    d.key = std::move(key);
    d.seq = seq;
    d.request = "{}";
    d.summary = d.id;
    d.created = loop.now();
    d.next_attempt = loop.now();
    return d;
  }
  void add(std::string id, std::uint64_t seq, std::string key = "") { box->add(make(std::move(id), seq, std::move(key))); }
  // Stored as an earlier run (or `herald outbox --revive`) left it, behind the outbox's back.
  void store_directly(const storage::delivery& d) {
    store->add_delivery(std::make_shared<storage::delivery>(d), nullptr);
    store->flush();
  }
  void answer(std::size_t i, attempt_outcome o) {
    attempts.at(i).done(std::move(o));
    loop.settle(*store);
  }
  std::vector<std::string> ids(bool dead) {
    std::vector<std::string> out;
    for (auto& d : store->deliveries(dead)) out.push_back(d.id);
    return out;
  }
};

TEST(Outbox, StoresBeforeTheFirstAttemptAndRemovesWhenDelivered) {
  fixture f;
  f.add("a", 1);
  EXPECT_TRUE(f.attempts.empty());  // not before the store committed it
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 1u);
  EXPECT_EQ(f.ids(false), std::vector<std::string>{"a"});
  f.answer(0, {k::delivered, {}, {}});
  EXPECT_TRUE(f.ids(false).empty());
  EXPECT_EQ(f.box->stats().delivered, 1u);
  EXPECT_EQ(f.box->pending(), 0u);
}

TEST(Outbox, RetriesWithBackoffAndHonoursRetryAfter) {
  fixture f;
  f.reopen({.initial = 2s, .max = 60s});
  f.add("a", 1);
  f.loop.settle(*f.store);
  f.answer(0, {k::retry, "HTTP 500", {}});
  auto first = *f.loop.wake_time() - f.loop.now();
  EXPECT_GE(first, 1s);  // 2 s with jitter in [0.5, 1]
  EXPECT_LE(first, 2s);
  auto stored = f.store->deliveries(false);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].attempts, 1);
  EXPECT_EQ(stored[0].last_error, "HTTP 500");
  f.loop.advance(first, *f.store);
  ASSERT_EQ(f.attempts.size(), 2u);
  f.answer(1, {k::retry, "HTTP 429", f.loop.now() + 30s});
  EXPECT_EQ(*f.loop.wake_time() - f.loop.now(), 30s);  // Retry-After beats the 4 s backoff
  f.loop.advance(29s, *f.store);
  EXPECT_EQ(f.attempts.size(), 2u);
  f.loop.advance(1s, *f.store);
  ASSERT_EQ(f.attempts.size(), 3u);
  f.answer(2, {k::delivered, {}, {}});
  EXPECT_TRUE(f.ids(false).empty());
}

TEST(Outbox, PermanentFailureIsADeadLetterWithItsReason) {
  fixture f;
  f.add("a", 1);
  f.loop.settle(*f.store);
  f.answer(0, {k::permanent, "HTTP 404: Not Found", {}});
  auto dead = f.store->deliveries(true);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].last_error, "HTTP 404: Not Found");
  EXPECT_EQ(dead[0].attempts, 1);
  EXPECT_TRUE(f.ids(false).empty());
}

TEST(Outbox, GivesUpAfterMaxAttempts) {
  fixture f;
  f.reopen({.initial = 1s, .max = 1s, .max_attempts = 3});
  f.add("a", 1);
  f.loop.settle(*f.store);
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(f.attempts.size(), i + 1);
    f.answer(i, {k::retry, "timeout", {}});
    f.loop.advance(1s, *f.store);
  }
  EXPECT_EQ(f.attempts.size(), 3u);
  auto dead = f.store->deliveries(true);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].last_error, "gave up after 3 attempts: timeout");
}

TEST(Outbox, NewerStateSupersedesAQueuedOne) {
  fixture f;
  // Two in flight (parallel 2) keep the reporter busy so "pending" stays queued.
  f.add("x", 1);
  f.add("y", 2);
  f.add("pending", 3, "gh|abc|ctx");
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 2u);
  f.add("success", 4, "gh|abc|ctx");
  f.add("stale", 2, "gh|abc|ctx");  // older than what is queued: dropped
  f.loop.settle(*f.store);
  f.answer(0, {k::delivered, {}, {}});
  ASSERT_EQ(f.attempts.size(), 3u);
  EXPECT_EQ(f.attempts[2].d.id, "success");
  f.answer(1, {k::delivered, {}, {}});
  f.answer(2, {k::delivered, {}, {}});
  EXPECT_EQ(f.attempts.size(), 3u);  // "pending" was never sent
  EXPECT_TRUE(f.ids(false).empty());
}

TEST(Outbox, ARevivedStateOlderThanTheQueuedOneLeavesTheStoreToo) {
  fixture f;
  f.add("x", 1);
  f.add("y", 2);  // parallel 2: both in flight, so "success" stays queued
  f.add("success", 4, "gh|abc|ctx");
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 2u);
  // A dead "pending" revived by `herald outbox --revive`: already stored.
  const auto old = f.make("pending", 3, "gh|abc|ctx");
  f.store_directly(old);
  f.box->add(old);
  f.loop.settle(*f.store);
  f.store->flush();
  EXPECT_EQ(f.ids(false), (std::vector<std::string>{"x", "y", "success"}));  // "pending" is gone, not left for a restart
  // The same state added again under the queued one's own id: dropped, and its row stays.
  f.box->add(f.make("success", 4, "gh|abc|ctx"));
  f.loop.settle(*f.store);
  f.store->flush();
  EXPECT_EQ(f.ids(false), (std::vector<std::string>{"x", "y", "success"}));
}

TEST(Outbox, NewerStateSupersedesOneStillBeingStored) {
  fixture f;
  f.add("pending", 1, "gh|abc|ctx");
  f.add("success", 2, "gh|abc|ctx");  // before "pending" is committed
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 1u);
  EXPECT_EQ(f.attempts[0].d.id, "success");
  f.answer(0, {k::delivered, {}, {}});
  EXPECT_TRUE(f.ids(false).empty());
  EXPECT_EQ(f.box->pending(), 0u);
}

TEST(Outbox, AnIdAddedAgainWaitsForItsOwnCommit) {
  fixture f;
  // "x" is superseded while being stored, then comes back as a newer state:
  // the commit of the first "x" must not release the second before it is stored.
  f.add("x", 1, "gh|abc|ctx");
  f.add("y", 2, "gh|abc|ctx");
  f.store->flush();  // the first "x" and "y" are committed; the loop has not heard yet
  f.add("x", 3, "gh|abc|ctx");
  f.loop.run_posted();  // hears of the first "x" (the writer waits 1 ms before the next commit)
  EXPECT_TRUE(f.attempts.empty());
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 1u);
  EXPECT_EQ(f.attempts[0].d.id, "x");
  EXPECT_EQ(f.attempts[0].d.seq, 3u);
  EXPECT_EQ(f.ids(false), std::vector<std::string>{"x"});
  f.answer(0, {k::delivered, {}, {}});
  EXPECT_TRUE(f.ids(false).empty());
}

TEST(Outbox, NewerStateWaitsForTheOneInFlight) {
  fixture f;
  f.add("pending", 1, "gh|abc|ctx");
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 1u);
  f.add("success", 2, "gh|abc|ctx");
  f.loop.settle(*f.store);
  EXPECT_EQ(f.attempts.size(), 1u);  // never two states for one target at once
  f.answer(0, {k::retry, "HTTP 502", {}});  // the old state is not retried
  ASSERT_EQ(f.attempts.size(), 2u);
  EXPECT_EQ(f.attempts[1].d.id, "success");
  f.answer(1, {k::delivered, {}, {}});
  EXPECT_TRUE(f.ids(false).empty());
  EXPECT_EQ(f.attempts.size(), 2u);
}

TEST(Outbox, ADeadOlderStateCannotBeRevivedOverADeliveredNewerOne) {
  fixture f;
  f.add("pending", 1, "gh|abc|ctx");
  f.loop.settle(*f.store);
  f.answer(0, {k::permanent, "HTTP 422: no commit found", {}});
  ASSERT_EQ(f.ids(true), std::vector<std::string>{"pending"});
  f.add("success", 2, "gh|abc|ctx");
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 2u);
  f.answer(1, {k::delivered, {}, {}});
  f.store->flush();
  EXPECT_TRUE(f.ids(true).empty());
  EXPECT_EQ(f.store->revive(""), 0u);
  f.reopen();
  f.box->restore(f.store->deliveries(false));
  f.loop.settle(*f.store);
  EXPECT_EQ(f.attempts.size(), 2u);  // the stale "pending" is never sent after "success"
}

TEST(Outbox, RestartResendsWhatWasPendingOnceKeepingTheNewestState) {
  fixture f;
  f.add("a", 1);
  f.add("b", 2, "gh|abc|ctx");
  f.loop.settle(*f.store);
  f.answer(0, {k::retry, "refused", {}});
  f.answer(1, {k::retry, "refused", {}});
  // An older state for the same key left by an older herald: superseded on restore.
  f.store_directly(f.make("old", 1, "gh|abc|ctx"));

  f.reopen();
  f.attempts.clear();
  f.box->restore(f.store->deliveries(false));
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 2u);
  std::set<std::string> sent{f.attempts[0].d.id, f.attempts[1].d.id};
  EXPECT_EQ(sent, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(f.attempts[0].d.attempts, 2);  // the count survives
  f.answer(0, {k::delivered, {}, {}});
  f.answer(1, {k::delivered, {}, {}});
  EXPECT_TRUE(f.ids(false).empty());
}

TEST(Outbox, RestoredDeliveryOfARemovedReporterIsADeadLetter) {
  fixture f;
  auto d = f.make("gone/linux/1/finished", 1);
  d.reporter = "gone";
  f.store_directly(d);
  f.box->restore(f.store->deliveries(false));
  f.loop.settle(*f.store);
  auto dead = f.store->deliveries(true);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].last_error, "reporter `gone` is no longer configured");
}

// A request of `size` bytes that names its delivery.
std::string request_of(const std::string& id, std::size_t size = 1000) {
  auto r = "POST /" + id + " ";
  r.resize(size, '.');
  return r;
}

TEST(Outbox, PastItsMemoryLimitAWaitingRequestIsReadBackFromTheDatabase) {
  fixture f;
  f.request_memory = 3000;
  f.reopen();
  std::vector<std::string> added;
  for (int i = 0; i < 20; ++i) {
    auto d = f.make(fmt::format("d{:02}", i), static_cast<std::uint64_t>(i));
    d.request = request_of(d.id);
    added.push_back(d.id);
    f.box->add(std::move(d));
  }
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 2u);
  EXPECT_GE(f.box->request_bytes(), 1000u);  // the first waiting ones keep theirs
  EXPECT_LE(f.box->request_bytes(), 3000u);
  for (std::size_t i = 0; i < f.attempts.size(); ++i) {
    // Read back when needed, at most the limit plus a turn's worth (parallel 2) in memory.
    EXPECT_LE(f.box->request_bytes(), 3000u + 2 * 1000u);
    f.answer(i, {k::delivered, {}, {}});
  }
  ASSERT_EQ(f.attempts.size(), 20u);
  std::vector<std::string> sent;
  for (const auto& a : f.attempts) {
    sent.push_back(a.d.id);
    EXPECT_EQ(a.d.request, request_of(a.d.id));
  }
  EXPECT_EQ(sent, added);  // each once, in order
  EXPECT_GE(f.box->stats().reloaded, 15u);
  EXPECT_EQ(f.box->stats().delivered, 20u);
  EXPECT_EQ(f.box->request_bytes(), 0u);
  EXPECT_TRUE(f.ids(false).empty());
}

TEST(Outbox, ARetryPastTheLimitIsReadBackForItsNextAttempt) {
  fixture f;
  f.request_memory = 1500;
  f.reopen({.initial = 2s, .max = 2s});
  for (int i = 0; i < 4; ++i) {
    auto d = f.make(fmt::format("d{}", i), static_cast<std::uint64_t>(i));
    d.request = request_of(d.id);
    f.box->add(std::move(d));
  }
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 2u);  // d0 and d1; d2 waits with its request, d3 without
  f.answer(0, {k::retry, "HTTP 503", {}});
  // d0's request went to make room; d2 started, and d3's was read back.
  EXPECT_EQ(f.box->request_bytes(), 1000u);
  ASSERT_EQ(f.attempts.size(), 3u);
  f.answer(1, {k::delivered, {}, {}});
  f.answer(2, {k::delivered, {}, {}});
  f.answer(3, {k::delivered, {}, {}});
  ASSERT_EQ(f.attempts.size(), 4u);
  EXPECT_EQ(f.attempts[3].d.id, "d3");
  EXPECT_EQ(f.attempts[3].d.request, request_of("d3"));
  f.loop.advance(2s, *f.store);
  ASSERT_EQ(f.attempts.size(), 5u);
  EXPECT_EQ(f.attempts[4].d.id, "d0");
  EXPECT_EQ(f.attempts[4].d.request, request_of("d0"));
  EXPECT_EQ(f.attempts[4].d.attempts, 2);
  EXPECT_EQ(f.box->stats().reloaded, 2u);
}

TEST(Outbox, RestoredWithoutRequestsReadsThemBackAndSendsEachOnce) {
  fixture f;
  for (int i = 0; i < 5; ++i) {
    auto d = f.make(fmt::format("d{}", i), static_cast<std::uint64_t>(i));
    d.request = request_of(d.id, 100 + static_cast<std::size_t>(i));
    f.store_directly(d);
  }
  f.box->restore(f.store->deliveries_without_requests(false));
  f.loop.settle(*f.store);
  for (std::size_t i = 0; i < 5; ++i) {
    ASSERT_EQ(f.attempts.size(), std::min<std::size_t>(i + 2, 5));
    EXPECT_EQ(f.attempts[i].d.id, fmt::format("d{}", i));
    EXPECT_EQ(f.attempts[i].d.request, request_of(f.attempts[i].d.id, 100 + i));
    f.answer(i, {k::delivered, {}, {}});
  }
  EXPECT_EQ(f.box->stats().reloaded, 5u);
  EXPECT_TRUE(f.ids(false).empty());
}

TEST(Outbox, ADeliveryWhoseRowVanishedIsDroppedAndTheRestGoOn) {
  fixture f;
  for (int i = 0; i < 3; ++i) {
    auto d = f.make(fmt::format("d{}", i), static_cast<std::uint64_t>(i));
    d.request = request_of(d.id);
    f.store_directly(d);
  }
  auto listed = f.store->deliveries_without_requests(false);
  // Behind the outbox's back, before it reads d0 back. Committed before the
  // restore: removed after it, the row could still be read by the restore's
  // first batch, which the writer may take at once.
  f.store->remove_delivery("d0");
  f.store->flush();
  f.box->restore(std::move(listed));
  f.loop.settle(*f.store);
  ASSERT_EQ(f.attempts.size(), 2u);
  EXPECT_EQ(f.attempts[0].d.id, "d1");
  EXPECT_EQ(f.attempts[1].d.id, "d2");
  EXPECT_EQ(f.box->pending(), 2u);
}

TEST(Outbox, ParallelLimitPerReporter) {
  fixture f;
  for (int i = 0; i < 5; ++i) f.add("d" + std::to_string(i), static_cast<std::uint64_t>(i));
  f.loop.settle(*f.store);
  EXPECT_EQ(f.attempts.size(), 2u);
  f.answer(0, {k::delivered, {}, {}});
  EXPECT_EQ(f.attempts.size(), 3u);
}

TEST(Outbox, DrainSendsWhatIsDueAndLeavesLaterRetriesStored) {
  fixture f;
  f.add("a", 1);
  f.add("b", 2);
  f.loop.settle(*f.store);
  bool drained = false;
  f.box->drain([&] { drained = true; });
  EXPECT_FALSE(drained);
  f.add("c", 3);  // a build cancelled by the shutdown still reports
  f.loop.settle(*f.store);
  f.answer(0, {k::delivered, {}, {}});
  ASSERT_EQ(f.attempts.size(), 3u);
  f.answer(1, {k::retry, "HTTP 503", {}});
  EXPECT_FALSE(drained);
  f.answer(2, {k::delivered, {}, {}});
  EXPECT_TRUE(drained);
  EXPECT_EQ(f.ids(false), std::vector<std::string>{"b"});  // kept for the next run
}

transfer_result response(long status, std::map<std::string, std::string> headers = {}, std::string body = {}) {
  transfer_result r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

// The manual loop, counting the wake-ups asked of it.
class counting_loop final : public scheduler {
 public:
  core::time_point now() const override { return inner.now(); }
  void post(std::function<void()> fn) override { inner.post(std::move(fn)); }
  void wake_at(core::time_point t, std::function<void()> fn) override {
    ++wake_calls;
    inner.wake_at(t, std::move(fn));
  }
  manual_loop inner;
  int wake_calls = 0;
};

TEST(Outbox, AsksForAWakeUpOnlyWhenItsTimeChanges) {
  const auto dir = fs::temp_directory_path() / ("herald-outbox-wake-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto log = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto store = storage::open_sqlite(dir / "herald.db", log);
  counting_loop loop;
  std::vector<attempt> attempts;
  {
    outbox box(loop, *store, log);
    box.add_reporter("gh", {.initial = 1s, .max = 1s}, [&](const storage::delivery& d, std::function<void(attempt_outcome)> done) {
      attempts.push_back({d, std::move(done)});
    }, 8);
    for (int i = 0; i < 4; ++i) {
      storage::delivery d;
      d.id = "d" + std::to_string(i);
      d.reporter = "gh";
      d.request = "{}";
      d.created = d.next_attempt = loop.now();
      box.add(std::move(d));
    }
    loop.inner.settle(*store);
    ASSERT_EQ(attempts.size(), 4u);
    EXPECT_EQ(loop.wake_calls, 0);
    auto answer = [&](std::size_t i, core::clock::duration retry_after) {
      attempts.at(i).done({k::retry, "HTTP 429", loop.now() + retry_after});
      loop.inner.settle(*store);
    };
    // Four retries due at the same time: one wake-up.
    for (std::size_t i = 0; i < 4; ++i) answer(i, 60s);
    EXPECT_EQ(loop.wake_calls, 1);
    EXPECT_EQ(*loop.inner.wake_time() - loop.now(), 60s);
    loop.inner.advance(60s, *store);
    ASSERT_EQ(attempts.size(), 8u);  // the wake-up ran: all four tried again
    // A later retry keeps the pending wake-up; an earlier one moves it.
    answer(4, 30s);
    EXPECT_EQ(loop.wake_calls, 2);
    answer(5, 40s);
    EXPECT_EQ(loop.wake_calls, 2);
    answer(6, 10s);
    EXPECT_EQ(loop.wake_calls, 3);
    EXPECT_EQ(*loop.inner.wake_time() - loop.now(), 10s);
    loop.inner.advance(10s, *store);
    ASSERT_EQ(attempts.size(), 9u);
    EXPECT_EQ(attempts.back().d.id, "d2");
    EXPECT_EQ(*loop.inner.wake_time() - loop.now(), 20s);  // asked again after it ran
    EXPECT_EQ(loop.wake_calls, 4);
  }
  store.reset();
  fs::remove_all(dir);
}

TEST(Classify, HttpStatuses) {
  auto now = core::clock::now();
  EXPECT_EQ(classify(response(200), false, now).what, k::delivered);
  EXPECT_EQ(classify(response(204), false, now).what, k::delivered);
  for (long s : {400, 401, 403, 404, 405, 413, 422, 301})
    EXPECT_EQ(classify(response(s), false, now).what, k::permanent) << s;
  for (long s : {408, 425, 429, 500, 502, 503, 504})
    EXPECT_EQ(classify(response(s), false, now).what, k::retry) << s;
  transfer_result refused;
  refused.error = "Couldn't connect to server";
  auto o = classify(refused, false, now);
  EXPECT_EQ(o.what, k::retry);
  EXPECT_EQ(o.reason, "Couldn't connect to server");
  EXPECT_EQ(classify(response(404, {}, "Not\r\nFound"), false, now).reason, "HTTP 404: Not  Found");
}

TEST(Classify, RateLimitsAndTheirResetTimes) {
  auto now = core::clock::from_time_t(1700000000);
  auto o = classify(response(429, {{"retry-after", "7"}}), false, now);
  EXPECT_EQ(o.what, k::retry);
  EXPECT_EQ(*o.not_before, now + 7s);
  o = classify(response(403, {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "1700000100"}}), false, now);
  EXPECT_EQ(o.what, k::retry);  // GitHub's secondary rate limit is a 403
  EXPECT_EQ(*o.not_before, now + 100s);
  o = classify(response(429, {{"ratelimit-reset", "1700000050"}}), false, now);
  EXPECT_EQ(*o.not_before, now + 50s);  // GitLab
  o = classify(response(429, {{"x-ratelimit-reset-after", "1.5"}}), false, now);
  EXPECT_EQ(*o.not_before, now + 1500ms);  // Discord
  o = classify(response(429, {}, R"({"ok":false,"error_code":429,"parameters":{"retry_after":12}})"), false, now);
  EXPECT_EQ(*o.not_before, now + 12s);  // Telegram
  o = classify(response(503, {{"retry-after", "Tue, 14 Nov 2023 22:15:00 GMT"}}), false, now);
  EXPECT_EQ(*o.not_before, core::clock::from_time_t(1700000100));
  EXPECT_EQ(classify(response(403), false, now).what, k::permanent);
}

TEST(Classify, SmtpReplies) {
  auto now = core::clock::now();
  EXPECT_EQ(classify(response(250), true, now).what, k::delivered);
  transfer_result temp = response(451);
  temp.error = "Failed sending data to the peer";
  EXPECT_EQ(classify(temp, true, now).what, k::retry);
  transfer_result perm = response(550);
  perm.error = "RCPT failed";
  auto o = classify(perm, true, now);
  EXPECT_EQ(o.what, k::permanent);
  EXPECT_EQ(o.reason, "SMTP 550: RCPT failed");
  transfer_result stopped;  // herald's own stop: no AUTH for the configured login
  stopped.error = "no AUTH";
  stopped.permanent = true;
  o = classify(stopped, true, now);
  EXPECT_EQ(o.what, k::permanent);
  EXPECT_EQ(o.reason, "SMTP: no AUTH");
}

TEST(Backoff, DoublesUpToTheCapWithJitter) {
  retry_policy p{.initial = 1s, .max = 10s};
  auto now = core::clock::now();
  EXPECT_EQ(next_attempt(p, 1, now, std::nullopt, 1.0) - now, 1s);
  EXPECT_EQ(next_attempt(p, 1, now, std::nullopt, 0.0) - now, 500ms);
  EXPECT_EQ(next_attempt(p, 3, now, std::nullopt, 1.0) - now, 4s);
  EXPECT_EQ(next_attempt(p, 10, now, std::nullopt, 1.0) - now, 10s);
  EXPECT_EQ(next_attempt(p, 1, now, now + 1min, 1.0) - now, 1min);
}

}  // namespace
}  // namespace herald::notifiers
