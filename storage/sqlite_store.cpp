// SQLite implementation of storage::store: versioned migrations, and one writer
// thread that commits queued writes in batched transactions.
#include "storage/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "storage/group_commit.hpp"

namespace herald::storage {
namespace {

using namespace std::chrono;

// Each entry moves the schema from version i to i+1. Never edit a shipped one.
constexpr const char* migrations[] = {
    R"sql(
    CREATE TABLE builds (
      builder TEXT NOT NULL, number INTEGER NOT NULL,
      state INTEGER NOT NULL, result INTEGER, text TEXT NOT NULL DEFAULT '',
      branch TEXT NOT NULL DEFAULT '', revision TEXT NOT NULL DEFAULT '',
      reason TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '',
      props TEXT NOT NULL DEFAULT '{}',
      requested_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,
      PRIMARY KEY (builder, number));
    CREATE INDEX builds_by_branch ON builds (builder, branch, state, number);
    CREATE TABLE steps (
      builder TEXT NOT NULL, number INTEGER NOT NULL, idx INTEGER NOT NULL,
      name TEXT NOT NULL, state INTEGER NOT NULL, result INTEGER, text TEXT NOT NULL DEFAULT '',
      started_at INTEGER, finished_at INTEGER,
      PRIMARY KEY (builder, number, idx));
    CREATE TABLE logs (
      seq INTEGER PRIMARY KEY, builder TEXT NOT NULL, number INTEGER NOT NULL,
      step INTEGER NOT NULL, stream INTEGER NOT NULL, text TEXT NOT NULL);
    CREATE INDEX logs_by_step ON logs (builder, number, step);
    CREATE TABLE events (
      seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, kind TEXT NOT NULL,
      builder TEXT NOT NULL, number INTEGER NOT NULL, data TEXT NOT NULL);
    CREATE TABLE notify (contact TEXT PRIMARY KEY, events TEXT NOT NULL);
    )sql",
    R"sql(
    CREATE TABLE chat_outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
      target TEXT NOT NULL, text TEXT NOT NULL);
    )sql",
    R"sql(
    CREATE TABLE contacts (key TEXT PRIMARY KEY, state TEXT NOT NULL);
    INSERT INTO contacts (key, state) SELECT contact, json_object('events', json(events)) FROM notify;
    DROP TABLE notify;
    ALTER TABLE builds ADD COLUMN codebase TEXT NOT NULL DEFAULT '';
    CREATE TABLE audit (
      id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, command TEXT NOT NULL,
      nick TEXT NOT NULL, account TEXT NOT NULL, mask TEXT NOT NULL, place TEXT NOT NULL,
      text TEXT NOT NULL, outcome TEXT NOT NULL);
    )sql",
    R"sql(
    CREATE TABLE deliveries (
      id TEXT PRIMARY KEY, reporter TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
      request TEXT NOT NULL, summary TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
      created INTEGER NOT NULL, next_attempt INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '',
      dead INTEGER NOT NULL DEFAULT 0, dead_at INTEGER);
    )sql",
    // Status deliveries by key, for remove_superseded (only the rows with a key).
    R"sql(
    CREATE INDEX deliveries_by_key ON deliveries (key, seq) WHERE key <> '';
    )sql",
};

std::int64_t to_ms(core::time_point t) {
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}
core::time_point from_ms(std::int64_t ms) { return core::time_point(duration_cast<core::clock::duration>(milliseconds(ms))); }

std::optional<core::time_point> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return from_ms(c.getInt64());
}
std::optional<core::result> opt_result(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return static_cast<core::result>(c.getInt());
}

// JSON holds only valid UTF-8: anything else (a Latin-1 chat client's text)
// is stored as U+FFFD rather than make the whole write fail.
std::string json_text(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string props_json(const core::properties& p) { return json_text(nlohmann::json(p)); }
core::properties props_from(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_object()) return {};
  return j.get<core::properties>();
}

constexpr const char* build_columns =
    "builder, number, state, result, text, branch, revision, reason, owner, props, requested_at, "
    "started_at, finished_at, codebase";

core::build_record build_from(SQLite::Statement& q) {
  core::build_record b;
  b.request.builder = q.getColumn(0).getString();
  b.number = q.getColumn(1).getInt64();
  b.state = static_cast<core::build_state>(q.getColumn(2).getInt());
  b.outcome = opt_result(q.getColumn(3));
  b.text = q.getColumn(4).getString();
  b.request.branch = q.getColumn(5).getString();
  b.request.revision = q.getColumn(6).getString();
  b.request.reason = q.getColumn(7).getString();
  b.request.owner = q.getColumn(8).getString();
  b.request.props = props_from(q.getColumn(9).getString());
  b.requested_at = from_ms(q.getColumn(10).getInt64());
  b.started_at = opt_time(q.getColumn(11));
  b.finished_at = opt_time(q.getColumn(12));
  b.request.codebase = q.getColumn(13).getString();
  return b;
}

class sqlite_store final : public store {
 public:
  sqlite_store(const std::filesystem::path& file, std::shared_ptr<spdlog::logger> log)
      // NOMUTEX: the connection does not lock itself on every call (some 20
      // times per outbox delivery), because db_mutex_ already keeps its use to
      // one thread at a time: every statement is made, run and destroyed with
      // db_mutex_ held, or while the writer thread is not running.
      : log_(std::move(log)),
        db_(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX) {
    // Pages of 16 KiB for a new database (an existing one keeps its size: WAL
    // mode cannot change it). An outbox delivery is a ~1 KB row stored, then
    // deleted: with 4 KiB pages a batch touched several times as many pages,
    // and every page a commit writes costs two pwrite calls into the WAL and
    // a pread plus a pwrite at the checkpoint. Must come before journal_mode,
    // which writes the database header.
    db_.exec("PRAGMA page_size=16384");
    db_.exec("PRAGMA journal_mode=WAL");
    db_.exec("PRAGMA synchronous=NORMAL");
    db_.exec("PRAGMA foreign_keys=ON");
    // Debian builds SQLite to zero every deleted row and freed page. An outbox
    // delivery is a ~1 KB row deleted once sent, so that zeroed about 10 KB per
    // delivery. Nothing here needs it: stored requests hold no credentials
    // (the sender adds them at each attempt), and what else is deleted was
    // readable in the same file before.
    db_.exec("PRAGMA secure_delete=OFF");
    db_.setBusyTimeout(5000);
    migrate();
    writer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "herald-sqlite");
      // Background work: under CPU contention the event loop goes first.
      setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);
      write_loop();
    });
  }

  ~sqlite_store() override {
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_one();
    writer_.join();
  }

  std::uint64_t last_seq() override {
    std::lock_guard lock(db_mutex_);
    SQLite::Statement q(db_, "SELECT max(coalesce((SELECT max(seq) FROM events), 0), coalesce((SELECT max(seq) FROM logs), 0))");
    q.executeStep();
    return static_cast<std::uint64_t>(q.getColumn(0).getInt64());
  }

  builder_history history(const std::string& builder) override {
    std::lock_guard lock(db_mutex_);
    builder_history h;
    {
      SQLite::Statement q(db_, "SELECT coalesce(max(number), 0) FROM builds WHERE builder = ?");
      q.bind(1, builder);
      q.executeStep();
      h.last_number = q.getColumn(0).getInt64();
    }
    {
      SQLite::Statement q(db_, std::string("SELECT ") + build_columns +
                                   " FROM builds WHERE builder = ? AND state = ? ORDER BY number DESC LIMIT 1");
      q.bind(1, builder);
      q.bind(2, static_cast<int>(core::build_state::finished));
      if (q.executeStep()) {
        h.last_finished = build_from(q);
        load_steps(*h.last_finished);
      }
    }
    {
      // Latest finished non-RETRY build per branch; "finished" excludes running ones.
      SQLite::Statement q(db_,
                          "SELECT b.branch, b.result FROM builds b WHERE b.builder = ?1 AND b.number = ("
                          " SELECT max(number) FROM builds c WHERE c.builder = ?1 AND c.branch = b.branch"
                          " AND c.state = ?2 AND c.result IS NOT NULL AND c.result != ?3)");
      q.bind(1, builder);
      q.bind(2, static_cast<int>(core::build_state::finished));
      q.bind(3, static_cast<int>(core::result::retry));
      while (q.executeStep())
        h.last_result_by_branch[q.getColumn(0).getString()] = static_cast<core::result>(q.getColumn(1).getInt());
    }
    {
      SQLite::Statement q(db_,
                          "SELECT result FROM builds WHERE builder = ? AND state = ? AND result IS NOT NULL"
                          " AND result != ? ORDER BY number DESC LIMIT 1");
      q.bind(1, builder);
      q.bind(2, static_cast<int>(core::build_state::finished));
      q.bind(3, static_cast<int>(core::result::retry));
      if (q.executeStep()) h.last_result = static_cast<core::result>(q.getColumn(0).getInt());
    }
    return h;
  }

  std::vector<core::build_record> unfinished_builds() override {
    std::lock_guard lock(db_mutex_);
    std::vector<core::build_record> out;
    SQLite::Statement q(db_, std::string("SELECT ") + build_columns +
                                 " FROM builds WHERE state != ? ORDER BY requested_at, builder, number");
    q.bind(1, static_cast<int>(core::build_state::finished));
    while (q.executeStep()) out.push_back(build_from(q));
    for (auto& b : out) load_steps(b);
    return out;
  }

  std::optional<core::build_record> load_build(const std::string& builder, std::int64_t number) override {
    std::lock_guard lock(db_mutex_);
    SQLite::Statement q(db_, std::string("SELECT ") + build_columns + " FROM builds WHERE builder = ? AND number = ?");
    q.bind(1, builder);
    q.bind(2, number);
    if (!q.executeStep()) return std::nullopt;
    auto b = build_from(q);
    load_steps(b);
    return b;
  }

  std::string load_log(const std::string& builder, std::int64_t number, int step) override {
    std::lock_guard lock(db_mutex_);
    SQLite::Statement q(db_, "SELECT text FROM logs WHERE builder = ? AND number = ? AND step = ? ORDER BY seq");
    q.bind(1, builder);
    q.bind(2, number);
    q.bind(3, step);
    std::string out;
    while (q.executeStep()) out += q.getColumn(0).getString();
    return out;
  }

  std::map<std::string, std::string> contacts() override {
    std::lock_guard lock(db_mutex_);
    std::map<std::string, std::string> out;
    SQLite::Statement q(db_, "SELECT key, state FROM contacts");
    while (q.executeStep()) out[q.getColumn(0).getString()] = q.getColumn(1).getString();
    return out;
  }

  std::vector<audit_entry> audit_log(std::size_t limit) override {
    std::lock_guard lock(db_mutex_);
    std::vector<audit_entry> out;
    SQLite::Statement q(db_, "SELECT time, command, nick, account, mask, place, text, outcome FROM audit "
                             "ORDER BY id DESC LIMIT ?");
    q.bind(1, static_cast<std::int64_t>(limit));
    while (q.executeStep())
      out.push_back({from_ms(q.getColumn(0).getInt64()), q.getColumn(1).getString(), q.getColumn(2).getString(),
                     q.getColumn(3).getString(), q.getColumn(4).getString(), q.getColumn(5).getString(),
                     q.getColumn(6).getString(), q.getColumn(7).getString()});
    return out;
  }

  void record_audit(const audit_entry& a) override {
    enqueue([a](sqlite_store& s) {
      SQLite::Statement q(s.db_, "INSERT INTO audit (time, command, nick, account, mask, place, text, outcome) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, to_ms(a.time));
      q.bind(2, a.command);
      q.bind(3, a.nick);
      q.bind(4, a.account);
      q.bind(5, a.mask);
      q.bind(6, a.place);
      q.bind(7, a.text);
      q.bind(8, a.outcome);
      q.exec();
    });
  }

  std::vector<delivery> deliveries(bool dead) override { return list_deliveries(dead, true); }
  std::vector<delivery> deliveries_without_requests(bool dead) override { return list_deliveries(dead, false); }

  std::vector<delivery> list_deliveries(bool dead, bool requests) {
    std::lock_guard lock(db_mutex_);
    // Pending: revived ones too, which a running herald has not taken yet.
    return dead ? load_deliveries("dead = 1 ORDER BY dead_at DESC, rowid DESC", true, requests)
                : load_deliveries("dead <> 1 ORDER BY created, rowid", false, requests);
  }

  // With db_mutex_ held.
  std::vector<delivery> load_deliveries(const std::string& where, bool dead, bool requests = true) {
    std::vector<delivery> out;
    SQLite::Statement q(db_, std::string("SELECT id, reporter, key, seq, ") + (requests ? "request" : "''") +
                                 ", summary, attempts, created, next_attempt, last_error FROM deliveries WHERE " + where);
    while (q.executeStep()) {
      delivery d;
      d.id = q.getColumn(0).getString();
      d.reporter = q.getColumn(1).getString();
      d.key = q.getColumn(2).getString();
      d.seq = static_cast<std::uint64_t>(q.getColumn(3).getInt64());
      d.request = q.getColumn(4).getString();
      d.summary = q.getColumn(5).getString();
      d.attempts = q.getColumn(6).getInt();
      d.created = from_ms(q.getColumn(7).getInt64());
      d.next_attempt = from_ms(q.getColumn(8).getInt64());
      d.last_error = q.getColumn(9).getString();
      d.dead = dead;
      out.push_back(std::move(d));
    }
    return out;
  }

  void add_delivery(std::shared_ptr<const delivery> stored, std::function<void()> committed) override {
    enqueue([stored = std::move(stored), committed = std::move(committed)](sqlite_store& s) mutable {
      const delivery& d = *stored;
      auto& q = s.statement(s.ins_delivery_,
                            "INSERT OR IGNORE INTO deliveries (id, reporter, key, seq, request, summary, attempts, "
                            "created, next_attempt, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      // The texts are bound in place: `d` outlives exec, and the next use of
      // the statement clears these bindings before anything reads them.
      q.bindNoCopy(1, d.id);
      q.bindNoCopy(2, d.reporter);
      q.bindNoCopy(3, d.key);
      q.bind(4, static_cast<std::int64_t>(d.seq));
      q.bindNoCopy(5, d.request);
      q.bindNoCopy(6, d.summary);
      q.bind(7, d.attempts);
      q.bind(8, to_ms(d.created));
      q.bind(9, to_ms(d.next_attempt));
      q.bindNoCopy(10, d.last_error);
      q.exec();
      if (committed) s.after_commit_.push_back(std::move(committed));
    });
  }

  void update_delivery(const std::string& id, int attempts, core::time_point next_attempt,
                       const std::string& last_error) override {
    enqueue([=](sqlite_store& s) {
      auto& q = s.statement(s.upd_delivery_,
                            "UPDATE deliveries SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?");
      q.bind(1, attempts);
      q.bind(2, to_ms(next_attempt));
      q.bind(3, last_error);
      q.bind(4, id);
      q.exec();
    });
  }

  void remove_delivery(const std::string& id) override {
    enqueue([id](sqlite_store& s) {
      auto& q = s.statement(s.del_delivery_, "DELETE FROM deliveries WHERE id = ?");
      q.bind(1, id);
      q.exec();
    });
  }

  void remove_superseded(const std::string& key, std::uint64_t seq) override {
    enqueue([key, seq](sqlite_store& s) {
      // `key <> ''` lets SQLite use the partial index deliveries_by_key.
      auto& q = s.statement(s.del_superseded_, "DELETE FROM deliveries WHERE key = ? AND key <> '' AND seq < ?");
      q.bind(1, key);
      q.bind(2, static_cast<std::int64_t>(seq));
      q.exec();
    });
  }

  void dead_letter(const std::string& id, int attempts, const std::string& reason) override {
    auto now = to_ms(core::clock::now());
    enqueue([=](sqlite_store& s) {
      SQLite::Statement q(s.db_, "UPDATE deliveries SET dead = 1, dead_at = ?, attempts = ?, last_error = ? WHERE id = ?");
      q.bind(1, now);
      q.bind(2, attempts);
      q.bind(3, reason);
      q.bind(4, id);
      q.exec();
    });
  }

  // deliveries.dead: 0 pending, 1 a dead letter, 2 revived by another process
  // and not yet taken by a running herald.
  std::size_t revive(const std::string& id) override {
    std::lock_guard lock(db_mutex_);
    SQLite::Statement q(db_, id.empty() ? "UPDATE deliveries SET dead = 2, dead_at = NULL, attempts = 0, next_attempt = ? "
                                          "WHERE dead = 1"
                                        : "UPDATE deliveries SET dead = 2, dead_at = NULL, attempts = 0, next_attempt = ? "
                                          "WHERE dead = 1 AND id = ?");
    q.bind(1, to_ms(core::clock::now()));
    if (!id.empty()) q.bind(2, id);
    return static_cast<std::size_t>(q.exec());
  }

  void load_requests(std::vector<std::string> ids, requests_found found) override {
    // Read after the batch's commit (read_requests), outside its transaction,
    // as check_revived does. A delivery waits for the answer, so the batch is
    // committed at once rather than after the window.
    enqueue([ids = std::move(ids), found = std::move(found)](sqlite_store& s) mutable {
      s.request_loads_.emplace_back(std::move(ids), std::move(found));
    }, true);
  }

  void take_revived(std::function<void(std::vector<delivery>)> found) override {
    // The look itself comes after the batch's commit, in a transaction of its
    // own (check_revived): it reads before it writes, which inside the batch
    // could find its snapshot stale and fail the batch's later writes.
    enqueue([found = std::move(found)](sqlite_store& s) mutable { s.revived_found_ = std::move(found); });
  }

  std::vector<chat_message> chat_outbox() override {
    std::lock_guard lock(db_mutex_);
    std::vector<chat_message> out;
    SQLite::Statement q(db_, "SELECT id, target, text FROM chat_outbox ORDER BY seq");
    while (q.executeStep()) out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString()});
    return out;
  }

  void add_chat_message(const chat_message& m) override {
    enqueue([m](sqlite_store& s) {
      auto& q = s.statement(s.ins_chat_, "INSERT OR IGNORE INTO chat_outbox (id, target, text) VALUES (?, ?, ?)");
      q.bind(1, m.id);
      q.bind(2, m.target);
      q.bind(3, m.text);
      q.exec();
    });
  }

  void remove_chat_message(const std::string& id) override {
    enqueue([id](sqlite_store& s) {
      auto& q = s.statement(s.del_chat_, "DELETE FROM chat_outbox WHERE id = ?");
      q.bind(1, id);
      q.exec();
    });
  }

  void record(const core::event& e) override {
    enqueue([e](sqlite_store& s) { std::visit([&s](const auto& ev) { s.write(ev); }, e); });
  }

  void save_contact(const std::string& key, const std::string& state) override {
    enqueue([key, state](sqlite_store& s) {
      SQLite::Statement q(s.db_, "INSERT INTO contacts (key, state) VALUES (?, ?) "
                                 "ON CONFLICT (key) DO UPDATE SET state = excluded.state");
      q.bind(1, key);
      q.bind(2, state);
      q.exec();
    });
  }

  void flush() override {
    std::promise<void> done;
    auto f = done.get_future();
    // Told after the commit, and after the commit callbacks queued before it.
    // The writer commits at once rather than let the batch window run out.
    enqueue([&done](sqlite_store& s) { s.after_commit_.push_back([&done] { done.set_value(); }); }, true);
    f.wait();
  }

 private:
  using job = std::function<void(sqlite_store&)>;

  void migrate() {
    int version = db_.execAndGet("PRAGMA user_version").getInt();
    constexpr int latest = static_cast<int>(std::size(migrations));
    if (version > latest)
      throw std::runtime_error("database schema version " + std::to_string(version) +
                               " is newer than this herald understands (" + std::to_string(latest) + ")");
    for (; version < latest; ++version) {
      SQLite::Transaction t(db_);
      db_.exec(migrations[version]);
      db_.exec("PRAGMA user_version = " + std::to_string(version + 1));
      t.commit();
      log_->info("database migrated to schema version {}", version + 1);
    }
  }

  void load_steps(core::build_record& b) {
    SQLite::Statement q(db_, "SELECT idx, name, state, result, text, started_at, finished_at FROM steps "
                             "WHERE builder = ? AND number = ? ORDER BY idx");
    q.bind(1, b.request.builder);
    q.bind(2, b.number);
    while (q.executeStep()) {
      core::step_record s;
      s.index = q.getColumn(0).getInt();
      s.name = q.getColumn(1).getString();
      s.state = static_cast<core::build_state>(q.getColumn(2).getInt());
      s.outcome = opt_result(q.getColumn(3));
      s.text = q.getColumn(4).getString();
      s.started_at = opt_time(q.getColumn(5));
      s.finished_at = opt_time(q.getColumn(6));
      b.steps.push_back(std::move(s));
    }
  }

  void enqueue(job j, bool now = false) {
    std::size_t size = 0;
    {
      std::lock_guard lock(queue_mutex_);
      queue_.push_back(std::move(j));
      size = queue_.size();
      urgent_ = urgent_ || now;
    }
    // The writer wakes for the first write, a full batch or a flush, not for each.
    if (size == 1 || size == group_commit::full_batch || now) queue_cv_.notify_one();
  }

  void write_loop() {
    auto window = group_commit::min_window;
    for (;;) {
      std::deque<job> batch;
      {
        std::unique_lock lock(queue_mutex_);
        queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty() && stopping_) return;
        const auto ready = [this] { return stopping_ || urgent_ || queue_.size() >= group_commit::full_batch; };
        if (!ready()) queue_cv_.wait_for(lock, window, ready);
        batch.swap(queue_);
        urgent_ = false;
      }
      window = group_commit::next_window(window, batch.size());
      std::vector<std::function<void()>> committed;
      {
        std::lock_guard lock(db_mutex_);
        try {
          SQLite::Transaction t(db_);
          for (auto& j : batch) {
            try {
              j(*this);
            } catch (const std::exception& ex) {
              log_->error("storage write failed: {}", ex.what());
            }
          }
          t.commit();
        } catch (const std::exception& ex) {
          log_->error("storage commit failed: {}", ex.what());
        }
        committed.swap(after_commit_);
        // Before the callbacks queued with the batch: a flush() after
        // load_requests returns once `found` has run.
        std::vector<std::function<void()>> loaded;
        for (auto& [ids, found] : std::exchange(request_loads_, {}))
          loaded.push_back([found = std::move(found), rows = read_requests(ids)]() mutable { found(std::move(rows)); });
        committed.insert(committed.begin(), std::make_move_iterator(loaded.begin()), std::make_move_iterator(loaded.end()));
        if (revived_found_) {
          auto revived = check_revived();
          if (!revived.empty())  // first: a flush() queued after take_revived returns after `found`
            committed.insert(committed.begin(), [found = std::move(revived_found_), revived = std::move(revived)]() mutable {
              found(std::move(revived));
            });
          revived_found_ = nullptr;
        }
      }
      // Callers wait for their write to be durable; they are told even when the
      // commit failed (logged above), so nothing stalls behind a broken disk.
      for (auto& f : committed) f();
    }
  }

  // Writer thread, db_mutex_ held, no transaction open: what load_requests asked for.
  std::vector<std::pair<std::string, std::string>> read_requests(const std::vector<std::string>& ids) {
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(ids.size());
    try {
      auto& q = statement(sel_request_, "SELECT request FROM deliveries WHERE id = ?");
      for (const auto& id : ids) {
        q.reset();
        q.bindNoCopy(1, id);
        if (q.executeStep()) out.emplace_back(id, q.getColumn(0).getString());
      }
      q.reset();
    } catch (const std::exception& ex) {
      log_->error("storage: reading stored requests failed: {}", ex.what());
    }
    return out;
  }

  // Writer thread, db_mutex_ held, no transaction open. What take_revived finds.
  std::vector<delivery> check_revived() {
    std::vector<delivery> out;
    try {
      // Outside a transaction: no snapshot is kept. It changes when another
      // connection commits; this one's own writes leave it as it is.
      const auto version = db_.execAndGet("PRAGMA data_version").getInt64();
      if (version == data_version_) return out;
      // IMMEDIATE: the write lock first, so the read below cannot go stale
      // before the update that follows it.
      SQLite::Transaction t(db_, SQLite::TransactionBehavior::IMMEDIATE);
      out = load_deliveries("dead = 2 ORDER BY created, rowid", false);
      if (!out.empty()) db_.exec("UPDATE deliveries SET dead = 0 WHERE dead = 2");
      t.commit();
      data_version_ = version;  // the next look finds what came after the one above
    } catch (const std::exception& ex) {
      log_->error("storage: looking for revived deliveries failed: {}", ex.what());
      out.clear();  // the next look tries again
    }
    return out;
  }

  void add_event(const core::event_header& h, const char* kind, const nlohmann::json& data) {
    auto& q = statement(ins_event_, "INSERT INTO events (seq, time, kind, builder, number, data) VALUES (?, ?, ?, ?, ?, ?)");
    q.bind(1, static_cast<std::int64_t>(h.seq));
    q.bind(2, to_ms(h.time));
    q.bind(3, kind);
    q.bind(4, h.builder);
    q.bind(5, h.number);
    q.bind(6, json_text(data));
    q.exec();
  }

  static nlohmann::json request_json(const core::build_request& r) {
    return {{"branch", r.branch},   {"revision", r.revision}, {"codebase", r.codebase},
            {"reason", r.reason},   {"owner", r.owner},       {"props", r.props}};
  }

  void write(const core::build_requested& e) {
    SQLite::Statement q(db_, "INSERT OR REPLACE INTO builds (builder, number, state, branch, revision, reason, owner, "
                             "props, requested_at, codebase) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, e.header.builder);
    q.bind(2, e.header.number);
    q.bind(3, static_cast<int>(core::build_state::pending));
    q.bind(4, e.request.branch);
    q.bind(5, e.request.revision);
    q.bind(6, e.request.reason);
    q.bind(7, e.request.owner);
    q.bind(8, props_json(e.request.props));
    q.bind(9, to_ms(e.header.time));
    q.bind(10, e.request.codebase);
    q.exec();
    add_event(e.header, "build_requested", request_json(e.request));
  }

  void write(const core::build_started& e) {
    auto& q = statement(upd_started_, "UPDATE builds SET state = ?, started_at = ? WHERE builder = ? AND number = ?");
    q.bind(1, static_cast<int>(core::build_state::running));
    q.bind(2, to_ms(e.header.time));
    q.bind(3, e.header.builder);
    q.bind(4, e.header.number);
    q.exec();
    add_event(e.header, "build_started", request_json(e.request));
  }

  void write(const core::step_started& e) {
    auto& q = statement(ins_step_, "INSERT OR REPLACE INTO steps (builder, number, idx, name, state, started_at) "
                                   "VALUES (?, ?, ?, ?, ?, ?)");
    q.bind(1, e.header.builder);
    q.bind(2, e.header.number);
    q.bind(3, e.step);
    q.bind(4, e.name);
    q.bind(5, static_cast<int>(core::build_state::running));
    q.bind(6, to_ms(e.header.time));
    q.exec();
    add_event(e.header, "step_started", {{"step", e.step}, {"name", e.name}});
  }

  void write(const core::log_appended& e) {
    auto& q = statement(ins_log_, "INSERT INTO logs (seq, builder, number, step, stream, text) VALUES (?, ?, ?, ?, ?, ?)");
    q.bind(1, static_cast<std::int64_t>(e.header.seq));
    q.bind(2, e.header.builder);
    q.bind(3, e.header.number);
    q.bind(4, e.step);
    q.bind(5, static_cast<int>(e.stream));
    q.bind(6, e.text);
    q.exec();
  }

  void write(const core::step_finished& e) {
    auto& q = statement(upd_step_, "UPDATE steps SET state = ?, result = ?, text = ?, finished_at = ? "
                                   "WHERE builder = ? AND number = ? AND idx = ?");
    q.bind(1, static_cast<int>(core::build_state::finished));
    q.bind(2, static_cast<int>(e.outcome));
    q.bind(3, e.text);
    q.bind(4, to_ms(e.header.time));
    q.bind(5, e.header.builder);
    q.bind(6, e.header.number);
    q.bind(7, e.step);
    q.exec();
    add_event(e.header, "step_finished",
              {{"step", e.step}, {"name", e.name}, {"result", core::result_name(e.outcome)}, {"text", e.text}});
  }

  void write(const core::build_finished& e) {
    auto& q = statement(upd_finished_, "UPDATE builds SET state = ?, result = ?, text = ?, finished_at = ? "
                                       "WHERE builder = ? AND number = ?");
    q.bind(1, static_cast<int>(core::build_state::finished));
    q.bind(2, static_cast<int>(e.outcome));
    q.bind(3, e.text);
    q.bind(4, to_ms(e.header.time));
    q.bind(5, e.header.builder);
    q.bind(6, e.header.number);
    q.exec();
    add_event(e.header, "build_finished", {{"result", core::result_name(e.outcome)}, {"text", e.text}});
  }

  void write(const core::worker_state& e) {
    add_event(e.header, "worker_state", {{"worker", e.worker}, {"online", e.online}, {"text", e.text}});
  }

  // Hot statements are prepared once and reused.
  SQLite::Statement& statement(std::unique_ptr<SQLite::Statement>& slot, const char* sql) {
    if (!slot) slot = std::make_unique<SQLite::Statement>(db_, sql);
    slot->reset();
    slot->clearBindings();
    return *slot;
  }

  std::shared_ptr<spdlog::logger> log_;
  SQLite::Database db_;
  std::mutex db_mutex_;
  std::unique_ptr<SQLite::Statement> ins_event_, upd_started_, ins_step_, ins_log_, upd_step_, upd_finished_, ins_chat_, del_chat_,
      ins_delivery_, upd_delivery_, del_delivery_, del_superseded_, sel_request_;
  std::vector<std::function<void()>> after_commit_;  // writer thread only
  std::int64_t data_version_ = -1;  // check_revived's last look (writer thread); -1: none yet
  std::function<void(std::vector<delivery>)> revived_found_;  // writer thread: a look is asked for
  std::vector<std::pair<std::vector<std::string>, requests_found>> request_loads_;  // writer thread: read after the commit

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<job> queue_;
  bool stopping_ = false;
  bool urgent_ = false;  // a flush waits: commit what is queued without the window
  std::thread writer_;
};

}  // namespace

int schema_version() { return static_cast<int>(std::size(migrations)); }

std::unique_ptr<store> open_sqlite(const std::filesystem::path& file, std::shared_ptr<spdlog::logger> log) {
  // SQLite counts every allocation under a global mutex, for
  // sqlite3_memory_used(), which herald never asks. Off, the writer runs about
  // 9 % fewer instructions per outbox delivery (bench/outbox_writer.cpp under
  // callgrind). It can only be set before SQLite's first use in the process;
  // later it is refused, harmlessly.
  static std::once_flag memstatus;
  std::call_once(memstatus, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  return std::make_unique<sqlite_store>(file, std::move(log));
}

}  // namespace herald::storage
