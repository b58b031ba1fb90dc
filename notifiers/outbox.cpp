#include "notifiers/outbox.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>

#include <nlohmann/json.hpp>

namespace herald::notifiers {
namespace {

using namespace std::chrono;

std::optional<double> number(const std::string& s) {
  double v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p == s.data()) return std::nullopt;
  return v;
}

// "Wed, 21 Oct 2015 07:28:00 GMT" (the only HTTP-date form senders use today).
std::optional<core::time_point> http_date(const std::string& s) {
  std::tm tm{};
  char wday[4]{}, mon[4]{};
  if (std::sscanf(s.c_str(), "%3s, %d %3s %d %d:%d:%d GMT", wday, &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 7)
    return std::nullopt;
  static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  auto at = months.find(mon);
  if (at == std::string_view::npos || at % 3 != 0) return std::nullopt;
  tm.tm_mon = static_cast<int>(at / 3);
  tm.tm_year -= 1900;
  return core::clock::from_time_t(timegm(&tm));
}

core::time_point after(core::time_point now, double secs) {
  return now + duration_cast<core::clock::duration>(duration<double>(std::clamp(secs, 0.0, 86400.0)));
}

// When the peer asked us to come back: Retry-After (seconds or HTTP-date), the
// rate-limit reset headers (GitHub/GitLab/Discord), or Telegram's JSON retry_after.
std::optional<core::time_point> wait_hint(const transfer_result& r, core::time_point now) {
  auto header = [&](const char* name) -> const std::string* {
    auto it = r.headers.find(name);
    return it == r.headers.end() ? nullptr : &it->second;
  };
  if (const auto* v = header("retry-after")) {
    if (auto secs = number(*v)) return after(now, *secs);
    if (auto t = http_date(*v)) return std::max(*t, now);
  }
  if (const auto* v = header("x-ratelimit-reset-after"))
    if (auto secs = number(*v)) return after(now, *secs);
  for (const char* name : {"x-ratelimit-reset", "ratelimit-reset"}) {
    if (const auto* v = header(name)) {
      if (auto n = number(*v)) {
        // An epoch second (GitHub, GitLab, Discord) or, below a year's worth, a delay.
        if (*n > 1e9) return std::max(core::clock::from_time_t(static_cast<std::time_t>(std::ceil(*n))), now);
        return after(now, *n);
      }
    }
  }
  if (r.status == 429 && !r.body.empty()) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("parameters") && j["parameters"].is_object()) {
      const auto& p = j["parameters"];
      if (p.contains("retry_after") && p["retry_after"].is_number()) return after(now, p["retry_after"].get<double>());
    }
  }
  return std::nullopt;
}

bool rate_limited(const transfer_result& r) {
  if (r.status == 429) return true;
  if (r.status != 403) return false;
  auto remaining = r.headers.find("x-ratelimit-remaining");
  if (remaining != r.headers.end() && remaining->second == "0") return true;
  return r.headers.contains("retry-after");
}

std::string seconds_text(core::clock::duration d) {
  auto ms = duration_cast<milliseconds>(d).count();
  if (ms < 10000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  return fmt::format("{} s", (ms + 500) / 1000);
}

}  // namespace

attempt_outcome classify(const transfer_result& r, bool smtp, core::time_point now) {
  using k = attempt_outcome::kind;
  const long s = r.status;
  if (smtp) {
    if (r.error.empty() && (s == 0 || (s >= 200 && s < 300))) return {k::delivered, {}, {}};
    std::string why = s ? fmt::format("SMTP {}", s) : std::string("SMTP");
    if (!r.error.empty()) why += ": " + r.error;
    if (r.permanent || (s >= 500 && s < 600)) return {k::permanent, why, {}};
    return {k::retry, why, {}};
  }
  if (s >= 200 && s < 300) return {k::delivered, {}, {}};  // even if the answer was cut short
  if (s == 0) return {k::retry, r.error.empty() ? "no response" : r.error, {}};
  std::string why = fmt::format("HTTP {}", s);
  if (!r.body.empty()) {
    std::string excerpt = r.body.substr(0, 200);
    std::ranges::replace_if(excerpt, [](char c) { return static_cast<unsigned char>(c) < 0x20; }, ' ');
    why += ": " + excerpt;
  }
  if (rate_limited(r)) return {k::retry, why, wait_hint(r, now)};
  if (s == 408 || s == 425 || s >= 500) return {k::retry, why, wait_hint(r, now)};
  return {k::permanent, why, {}};  // 3xx (we follow no redirects), 400, 401, 403, 404, 422, ...
}

core::time_point next_attempt(const retry_policy& p, int attempts, core::time_point now,
                              std::optional<core::time_point> not_before, double random01) {
  double base = p.initial.count() * std::pow(2.0, std::max(0, attempts - 1));
  base = std::min(base, p.max.count());
  auto t = after(now, base * (0.5 + 0.5 * std::clamp(random01, 0.0, 1.0)));
  if (not_before && *not_before > t) t = *not_before;
  return t;
}

outbox::outbox(scheduler& sched, storage::store& store, std::shared_ptr<spdlog::logger> log,
               std::size_t request_memory)
    : sched_(sched), store_(store), log_(std::move(log)), request_memory_(request_memory) {}

outbox::~outbox() { *alive_ = false; }

void outbox::add_reporter(const std::string& name, retry_policy policy, send_fn send, std::size_t parallel) {
  auto& r = reporters_[name];
  r.policy = policy;
  r.send = std::move(send);
  r.parallel = std::max<std::size_t>(parallel, 1);
  // Room for a burst, made before the loop runs: a rehash in the middle of
  // one, or even this reserve (its new buckets fault in at about 10 µs a
  // page on this VM), held the loop for 3–9 ms. About 0.5 MB, only for a
  // herald with reporters.
  if (entries_.bucket_count() < 65536) entries_.reserve(65536);
}

std::size_t outbox::in_flight() const {
  std::size_t n = 0;
  for (const auto& [_, r] : reporters_) n += r.in_flight;
  return n;
}

void outbox::restore(std::vector<storage::delivery> pending) {
  // Only the newest state per key is worth sending.
  std::map<std::string, const storage::delivery*> newest;
  for (const auto& d : pending)
    if (!d.key.empty()) {
      auto& n = newest[d.key];
      if (!n || n->seq < d.seq) n = &d;
    }
  std::size_t kept = 0, dropped = 0;
  const auto now = sched_.now();
  for (auto& d : pending) {
    if (!d.key.empty() && newest[d.key] != &d) {
      store_.remove_delivery(d.id);
      ++dropped;
      continue;
    }
    const auto it = insert(std::make_shared<storage::delivery>(std::move(d)));
    if (it == entries_.end()) continue;
    auto& e = it->second;
    e.held = !e.d->request.empty();  // a stored request is never empty
    auto r = reporters_.find(e.d->reporter);
    if (r == reporters_.end()) {
      kill(e, "reporter `" + e.d->reporter + "` is no longer configured");
      continue;
    }
    e.rep = &r->second;
    if (!e.d->key.empty()) latest_[e.d->key] = e.d->id;
    make_due(e, now);  // a restart is a fresh start: try at once
    ++kept;
  }
  if (kept || dropped)
    log_->info("outbox: {} deliveries left from the last run, {} superseded by newer states", kept, dropped);
  pump();
}

void outbox::add(storage::delivery d) {
  auto rep = reporters_.find(d.reporter);
  if (rep == reporters_.end()) {
    log_->error("outbox: no reporter `{}` for {}", d.reporter, d.summary);
    return;
  }
  if (!d.key.empty()) {
    const auto newest = latest_.find(d.key);
    if (auto old = newest == latest_.end() ? entries_.end() : entries_.find(key_of(newest->second)); old != entries_.end()) {
      if (old->second.d->seq >= d.seq) {
        log_->debug("outbox: {} is older than the queued state; dropped", d.summary);
        ++stats_.superseded;
        // Stored already when it comes revived from the dead letters; never
        // the row of an entry queued under the same id.
        if (!entries_.contains(key_of(d.id))) store_.remove_delivery(d.id);
        return;
      }
      ++stats_.superseded;
      if (old->second.st == state::in_flight) {
        old->second.superseded = true;  // its attempt finishes first; the new state follows it
        superseded_in_flight_.insert(d.key);
      } else {
        log_->debug("outbox: {} superseded by a newer state", old->second.d->summary);
        store_.remove_delivery(old->second.d->id);
        forget(old);
      }
    }
    latest_[d.key] = d.id;
  }
  const auto it = insert(std::make_shared<storage::delivery>(std::move(d)));
  if (it == entries_.end()) return;
  it->second.rep = &rep->second;
  typical_request_ = (typical_request_ * 15 + it->second.d->request.size()) / 16;
  ++stats_.added;
  // The writer thread reports commits; one post per batch, not per delivery.
  store_.add_delivery(it->second.d, [alive = alive_, inbox = inbox_, sched = &sched_, d = it->second.d, this]() mutable {
    bool first = false;
    {
      std::lock_guard lock(inbox->mutex);
      first = inbox->stored.empty();
      inbox->stored.push_back(std::move(d));
    }
    if (first) sched->post([this, alive] {
      if (*alive) take_committed();
    });
  });
}

// The entry for a new delivery, or end() when its id is already queued.
outbox::entry_map::iterator outbox::insert(std::shared_ptr<storage::delivery> d) {
  auto [it, fresh] = entries_.try_emplace(key_of(d->id));  // a view of d->id, which `it` keeps alive
  if (!fresh) {
    log_->debug("outbox: {} is already queued", d->summary);
    return entries_.end();
  }
  it->second.d = std::move(d);
  return it;
}

// A bounded slice per turn, so a large commit never holds the loop for long.
void outbox::take_committed() {
  constexpr std::size_t slice = 64;
  auto& done = committed_;  // never re-entered: it runs only as a posted task
  bool more = false;
  {
    std::lock_guard lock(inbox_->mutex);
    while (done.size() < slice && !inbox_->stored.empty()) {
      done.push_back(std::move(inbox_->stored.front()));
      inbox_->stored.pop_front();
    }
    more = !inbox_->stored.empty();
  }
  const auto now = sched_.now();  // one reading for the slice
  for (const auto& d : done) stored(*d, now);
  pump(now);
  // Past the limit, the newest of the slice let their requests go, not the
  // ones that pump() just started.
  for (auto d = done.rbegin(); d != done.rend() && waiting_bytes_ > request_memory_; ++d) {
    auto it = entries_.find(key_of((*d)->id));
    if (it != entries_.end() && it->second.d == *d && it->second.st == state::waiting && it->second.held)
      let_go(it->second);
  }
  done.clear();
  if (more) sched_.post([this, alive = alive_] {
      if (*alive) take_committed();
    });
}

void outbox::stored(const storage::delivery& d, core::time_point now) {
  auto it = entries_.find(key_of(d.id));
  // Gone (superseded while being stored) or, under the same id, another one.
  if (it == entries_.end() || it->second.d.get() != &d || it->second.st != state::storing) return;
  auto& e = it->second;
  // A newer state for the key waits until the older one's attempt is over.
  if (!d.key.empty() && superseded_in_flight_.contains(d.key)) {
    e.st = state::blocked;
    return;
  }
  make_due(e, std::max(d.next_attempt, now), false);
}

void outbox::make_due(entry& e, core::time_point when, bool trim) {
  e.st = state::waiting;
  e.d->next_attempt = when;
  e.ticket = ++next_ticket_;
  // Mostly due now, so after everything queued: the hint skips the descent.
  e.rep->due.emplace_hint(e.rep->due.end(), when, e.ticket, &e);
  if (!e.held) return;
  waiting_bytes_ += e.d->request.size();
  if (trim && waiting_bytes_ > request_memory_) let_go(e);
}

// A waiting entry's request goes; the database keeps it.
void outbox::let_go(entry& e) {
  waiting_bytes_ -= e.d->request.size();
  std::string().swap(e.d->request);  // the memory itself, not just the length
  e.held = false;
  if (!over_limit_) {  // once per episode, not per delivery
    over_limit_ = true;
    log_->info("outbox: more than {} MiB of requests waiting; the others wait in the database until their turn",
               request_memory_ >> 20);
  }
}

// The requests of the next due deliveries of `r` that are not in memory,
// read back in one batch: the store reads them on its writer thread.
void outbox::load(reporter& r, core::time_point now) {
  // As many as fit in what is left of request_memory, by the typical size,
  // but always enough to keep the reporter busy.
  const std::size_t room = request_memory_ > waiting_bytes_ ? request_memory_ - waiting_bytes_ : 0;
  const std::size_t batch = std::max(std::min<std::size_t>(room / std::max<std::size_t>(typical_request_, 1), 256), r.parallel);
  const std::size_t walk = 4 * batch;
  std::vector<std::string> ids;
  std::size_t seen = 0;
  for (auto it = r.due.begin(); it != r.due.end() && ids.size() < batch && seen < walk; ++it, ++seen) {
    if (std::get<0>(*it) > now) break;  // a later retry is read back when it is due
    entry& e = *std::get<2>(*it);
    if (e.held || e.loading) continue;
    e.loading = true;
    ids.push_back(e.d->id);
  }
  if (ids.empty()) return;
  auto asked = ids;
  store_.load_requests(std::move(ids), [this, alive = alive_, sched = &sched_, asked = std::move(asked)](
                                           std::vector<std::pair<std::string, std::string>> rows) mutable {
    sched->post([this, alive, rows = std::move(rows), asked = std::move(asked)]() mutable {
      if (*alive) loaded(std::move(rows), asked);
    });
  });
}

void outbox::loaded(std::vector<std::pair<std::string, std::string>> rows, const std::vector<std::string>& asked) {
  for (auto& [id, request] : rows) {
    auto it = entries_.find(key_of(id));
    // Gone meanwhile (superseded), or another delivery under the same id.
    if (it == entries_.end() || !it->second.loading) continue;
    auto& e = it->second;
    e.loading = false;
    e.held = true;
    waiting_bytes_ += request.size();
    e.d->request = std::move(request);
    ++stats_.reloaded;
  }
  for (const auto& id : asked) {
    auto it = entries_.find(key_of(id));
    if (it == entries_.end() || !it->second.loading) continue;
    // Not in the database any more, or it could not be read (logged by the
    // store). A row that is still there is taken up at the next start.
    log_->error("outbox: {}: its stored request could not be read; left for the next start", it->second.d->summary);
    forget(it);
  }
  pump();
}

void outbox::pump() { pump(sched_.now()); }

void outbox::pump(core::time_point now) {
  std::optional<core::time_point> wake;
  for (auto& [name, r] : reporters_) {
    while (!r.due.empty()) {
      auto [when, ticket, e] = *r.due.begin();
      if (when > now) {
        if (!wake || when < *wake) wake = when;
        break;
      }
      // Its turn, but its request is in the database only: read back now,
      // even while the reporter is busy, so that it is ready for the next slot.
      if (!e->held) {
        if (!e->loading) load(r, now);
        break;
      }
      if (r.in_flight >= r.parallel) break;
      r.due.erase(r.due.begin());
      start(r, *e);
    }
  }
  // The scheduler keeps one wake-up: asking again for the same time would only
  // re-arm its timer. A wake-up that comes early finds nothing due and asks again.
  if (wake && wake != wake_) {
    wake_ = wake;
    sched_.wake_at(*wake, [this, alive = alive_] {
      if (!*alive) return;
      wake_.reset();
      pump();
    });
  }
  if (draining_ && drained_ && settled(now)) std::exchange(drained_, nullptr)();
}

bool outbox::settled(core::time_point now) const {
  for (const auto& [name, r] : reporters_) {
    if (r.in_flight) return false;
    if (!r.due.empty() && std::get<0>(*r.due.begin()) <= now) return false;
  }
  return std::ranges::none_of(entries_, [](const auto& e) { return e.second.st == state::storing; });
}

void outbox::start(reporter& r, entry& e) {
  waiting_bytes_ -= e.d->request.size();  // only held entries start
  if (over_limit_ && waiting_bytes_ < request_memory_ / 2) over_limit_ = false;
  e.st = state::in_flight;
  e.ticket = 0;
  ++e.d->attempts;
  ++r.in_flight;
  // An entry in flight stays put until its attempt is over (only finished() forgets it).
  r.send(*e.d, [this, entry = &e, alive = alive_](attempt_outcome o) {
    if (*alive) finished(*entry, o);
  });
}

void outbox::finished(entry& e, const attempt_outcome& o) {
  auto& r = *e.rep;
  auto& d = *e.d;
  --r.in_flight;
  using k = attempt_outcome::kind;
  if (e.superseded) {
    // A newer state for the same target is queued; this one is done either way.
    store_.remove_delivery(d.id);
    auto key = d.key;
    forget(e);
    superseded_in_flight_.erase(key);
    release_key(key);
  } else if (o.what == k::delivered) {
    ++stats_.delivered;
    if (d.attempts > 1)
      log_->info("outbox: {} delivered after {} attempts", d.summary, d.attempts);
    else
      log_->debug("outbox: {} delivered", d.summary);
    store_.remove_delivery(d.id);
    if (!d.key.empty()) store_.remove_superseded(d.key, d.seq);
    forget(e);
  } else if (o.what == k::permanent) {
    kill(e, o.reason);
  } else {
    const auto now = sched_.now();
    const bool too_many = r.policy.max_attempts > 0 && d.attempts >= r.policy.max_attempts;
    const bool too_old = now - d.created >= duration_cast<core::clock::duration>(r.policy.max_age);
    if (too_many || too_old) {
      kill(e, fmt::format("gave up after {} attempts: {}", d.attempts, o.reason));
    } else {
      std::uniform_real_distribution<double> jitter(0.0, 1.0);
      auto when = next_attempt(r.policy, d.attempts, now, o.not_before, jitter(rng_));
      ++stats_.retried;
      log_->warn("outbox: {}: attempt {} failed: {}; next in {}", d.summary, d.attempts, o.reason,
                 seconds_text(when - now));
      d.last_error = o.reason;
      store_.update_delivery(d.id, d.attempts, when, o.reason);
      make_due(e, when);
    }
  }
  pump();
}

void outbox::kill(entry& e, const std::string& reason) {
  ++stats_.dead;
  log_->error("outbox: {}: dead letter after {} attempt(s): {}", e.d->summary, e.d->attempts, reason);
  store_.dead_letter(e.d->id, e.d->attempts, reason);
  forget(e);
}

void outbox::forget(entry& e) { forget(entries_.find(key_of(e.d->id))); }

void outbox::forget(entry_map::iterator it) {
  if (it == entries_.end()) return;
  auto& e = it->second;
  const auto& d = *e.d;
  if (e.st == state::waiting && e.held) waiting_bytes_ -= d.request.size();
  if (e.st == state::waiting && e.ticket) e.rep->due.erase({d.next_attempt, e.ticket, &e});
  if (auto l = latest_.find(d.key); !d.key.empty() && l != latest_.end() && l->second == d.id) latest_.erase(l);
  entries_.erase(it);
}

void outbox::release_key(const std::string& key) {
  auto l = latest_.find(key);
  if (l == latest_.end()) return;
  auto it = entries_.find(key_of(l->second));
  if (it != entries_.end() && it->second.st == state::blocked)
    make_due(it->second, std::max(it->second.d->next_attempt, sched_.now()));
}

void outbox::drain(std::function<void()> done) {
  draining_ = true;
  drained_ = std::move(done);
  pump();
}

}  // namespace herald::notifiers
