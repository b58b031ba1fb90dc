// The reporters' durable outbox: every delivery is stored before its first
// attempt, retried with exponential backoff and jitter (honouring Retry-After
// and rate-limit resets), dead-lettered when it cannot succeed, and, for status
// APIs, superseded by a newer state for the same (target, commit, context).
// Runs on the event loop; attempts run elsewhere (notifiers/transfer).
#pragma once

#include <boost/unordered_map.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/build.hpp"
#include "core/builder.hpp"
#include "notifiers/transfer.hpp"
#include "storage/store.hpp"

namespace spdlog {
class logger;
}

namespace herald::notifiers {

// What one attempt came to.
struct attempt_outcome {
  enum class kind { delivered, retry, permanent };
  kind what = kind::delivered;
  std::string reason;                          // secret-free: "HTTP 500", "timeout after 30 s"
  std::optional<core::time_point> not_before;  // Retry-After or a rate-limit reset
};

// 2xx (SMTP 2xx) delivered; 400, 401, 403 (unless rate limited), 404, 422 and
// other 4xx are permanent, as are SMTP 5xx; 408, 425, 429, 5xx, SMTP 4xx and
// transport failures are retried.
attempt_outcome classify(const transfer_result& r, bool smtp, core::time_point now);

struct retry_policy {
  core::seconds initial{1};
  core::seconds max{3600};
  int max_attempts = 0;  // 0: no limit but max_age
  core::seconds max_age{3 * 24 * 3600};
};

// When to try again after `attempts` failed attempts: initial·2^(attempts-1)
// capped at max, scaled by a jitter factor in [0.5, 1] (random01 in [0, 1)),
// and never before `not_before`.
core::time_point next_attempt(const retry_policy& p, int attempts, core::time_point now,
                              std::optional<core::time_point> not_before, double random01);

// The outbox's view of the event loop.
class scheduler {
 public:
  virtual ~scheduler() = default;
  virtual core::time_point now() const = 0;
  virtual void post(std::function<void()> fn) = 0;  // thread-safe: runs fn on the loop
  // One wake-up: a new call replaces the previous one.
  virtual void wake_at(core::time_point t, std::function<void()> fn) = 0;
};

class outbox {
 public:
  // Starts one attempt; `done` must be called once, on the loop.
  using send_fn = std::function<void(const storage::delivery&, std::function<void(attempt_outcome)> done)>;

  struct counters {
    std::uint64_t added = 0, delivered = 0, retried = 0, dead = 0, superseded = 0;
    std::uint64_t reloaded = 0;  // requests read back from the database (see request_memory)
  };

  // The bytes of stored requests kept in memory for waiting deliveries, by default.
  static constexpr std::size_t default_request_memory = std::size_t{64} << 20;

  // Past `request_memory` bytes of requests, a waiting delivery keeps only its
  // place in the queue: its request stays in the database and is read back, in
  // batches on the store's writer thread, when its turn comes. A long outage
  // then costs a few hundred bytes of memory per delivery, not its request.
  outbox(scheduler& sched, storage::store& store, std::shared_ptr<spdlog::logger> log,
         std::size_t request_memory = default_request_memory);
  ~outbox();
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  // A reporter's deliveries use its policy and sender, at most `parallel` at once.
  void add_reporter(const std::string& name, retry_policy policy, send_fn send, std::size_t parallel = 8);

  // Deliveries left pending by the last run: attempted now, not stored again.
  // Those of reporters no longer configured become dead letters. Their requests
  // may be left out (store::deliveries_without_requests): they are read back.
  void restore(std::vector<storage::delivery> pending);
  // A new delivery: stored, then attempted once the store has committed it.
  void add(storage::delivery d);

  // For shutdown: `done` runs once nothing is in flight, being stored or due now
  // (deliveries waiting for a later retry stay stored for the next run).
  void drain(std::function<void()> done);

  std::size_t pending() const { return entries_.size(); }
  std::size_t in_flight() const;
  // Bytes of requests held in memory by waiting deliveries (those being stored
  // or sent hold theirs too, but they are at most a batch and `parallel` each).
  std::size_t request_bytes() const { return waiting_bytes_; }
  const counters& stats() const { return stats_; }

 private:
  enum class state { storing, blocked, waiting, in_flight };
  struct reporter;
  struct entry {
    // Shared with the store's writer until the commit, so it is never copied.
    // Changed only on the loop, and only once committed.
    std::shared_ptr<storage::delivery> d;
    reporter* rep = nullptr;  // d.reporter's (map nodes stay put)
    state st = state::storing;
    bool superseded = false;  // a newer state for its key arrived while it was in flight
    std::uint64_t ticket = 0;  // its place in its reporter's due set, while waiting
    bool held = true;          // d->request is in memory, not only in the database
    bool loading = false;      // waiting, and its request is being read back
  };
  struct reporter {
    retry_policy policy;
    send_fn send;
    std::size_t parallel = 8;
    std::size_t in_flight = 0;
    // (when, ticket, entry): ordered by when, then ticket (unique), never by the pointer.
    std::set<std::tuple<core::time_point, std::uint64_t, entry*>> due;
  };

  // Keyed by a view of the entry's own d->id, which never changes: no copy of
  // the id per delivery. References stay put across rehashes. Boost's map
  // (buckets of their own, not one list through all nodes) erases without
  // walking to the previous node: with 25,000 cold entries in a burst, the
  // standard map took 2.5 % of the burst's CPU samples, this one 1 %.
  // The key carries its hash, so that a rehash touches only the map's nodes,
  // not each delivery's id; and the map makes room for a burst at the start
  // (add_reporter): rehashing 16,000 cold entries in the middle of a burst
  // held the loop for 5–9 ms on this VM.
  struct id_key {
    std::string_view id;
    std::size_t hash;
  };
  struct id_hash {
    std::size_t operator()(const id_key& k) const noexcept { return k.hash; }
  };
  struct id_equal {
    bool operator()(const id_key& a, const id_key& b) const noexcept { return a.hash == b.hash && a.id == b.id; }
  };
  static id_key key_of(std::string_view id) { return {id, std::hash<std::string_view>{}(id)}; }
  using entry_map = boost::unordered_map<id_key, entry, id_hash, id_equal>;
  entry_map::iterator insert(std::shared_ptr<storage::delivery> d);
  void stored(const storage::delivery& d, core::time_point now);
  void take_committed();
  // Past request_memory, `e` lets its request go unless `trim` is false (the
  // caller trims later).
  void make_due(entry& e, core::time_point when, bool trim = true);
  void let_go(entry& e);
  void load(reporter& r, core::time_point now);
  void loaded(std::vector<std::pair<std::string, std::string>> rows, const std::vector<std::string>& asked);
  void pump();
  void pump(core::time_point now);
  bool settled(core::time_point now) const;
  void start(reporter& r, entry& e);
  void finished(entry& e, const attempt_outcome& o);
  void forget(entry_map::iterator it);
  void forget(entry& e);
  void kill(entry& e, const std::string& reason);
  void release_key(const std::string& key);

  scheduler& sched_;
  storage::store& store_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<std::string, reporter> reporters_;
  entry_map entries_;
  std::map<std::string, std::string> latest_;     // key -> id of the newest entry for it
  std::set<std::string> superseded_in_flight_;    // keys whose older state is still being sent
  std::uint64_t next_ticket_ = 0;
  std::size_t request_memory_;
  std::size_t waiting_bytes_ = 0;      // requests held by waiting entries
  bool over_limit_ = false;            // letting requests go (logged once until below half the limit)
  std::size_t typical_request_ = 2048;  // a running average, to size read-back batches
  std::optional<core::time_point> wake_;  // the wake-up asked of the scheduler, until it runs
  bool draining_ = false;
  std::function<void()> drained_;
  counters stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  struct commit_inbox {
    std::mutex mutex;
    std::deque<std::shared_ptr<const storage::delivery>> stored;  // committed, not yet seen by the loop
  };
  std::shared_ptr<commit_inbox> inbox_ = std::make_shared<commit_inbox>();
  std::vector<std::shared_ptr<const storage::delivery>> committed_;  // take_committed's slice, kept for reuse
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace herald::notifiers
