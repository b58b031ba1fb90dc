#include "storage/store.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>
#include <future>
#include <map>

#include "storage/group_commit.hpp"

namespace herald::storage {
namespace {

namespace fs = std::filesystem;

struct temp_db {
  fs::path dir = fs::temp_directory_path() / ("herald-store-" + std::to_string(::getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  temp_db() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~temp_db() { fs::remove_all(dir); }
  std::unique_ptr<store> open() {
    return open_sqlite(dir / "herald.db",
                       std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()));
  }
};

template <class E>
E with_header(std::string builder, std::int64_t number, std::uint64_t seq) {
  E e;
  e.header.builder = std::move(builder);
  e.header.number = number;
  e.header.seq = seq;
  e.header.time = core::clock::now();
  return e;
}

void run_build(store& s, std::uint64_t& seq, std::string builder, std::int64_t number, std::string branch,
               std::optional<core::result> outcome) {
  auto rq = with_header<core::build_requested>(builder, number, ++seq);
  rq.request.builder = builder;
  rq.request.branch = branch;
  rq.request.props = {{"x", "1;2"}};
  s.record(rq);
  s.record(with_header<core::build_started>(builder, number, ++seq));
  auto st = with_header<core::step_started>(builder, number, ++seq);
  st.name = "compile";
  s.record(st);
  auto log = with_header<core::log_appended>(builder, number, ++seq);
  log.text = "hello\n";
  s.record(log);
  if (!outcome) return;
  auto sf = with_header<core::step_finished>(builder, number, ++seq);
  sf.name = "compile";
  sf.outcome = *outcome;
  s.record(sf);
  auto f = with_header<core::build_finished>(builder, number, ++seq);
  f.outcome = *outcome;
  f.text = "done";
  s.record(f);
}

TEST(SqliteStore, SurvivesReopen) {
  temp_db db;
  std::uint64_t seq = 0;
  {
    auto s = db.open();
    run_build(*s, seq, "a", 1, "main", core::result::success);
    run_build(*s, seq, "a", 2, "dev", core::result::failure);
    run_build(*s, seq, "a", 3, "main", core::result::retry);
    run_build(*s, seq, "a", 4, "main", std::nullopt);  // left running
    s->save_contact("irc:#builds", R"({"events":["started","failure"]})");
    s->flush();
  }
  auto s = db.open();
  EXPECT_EQ(s->last_seq(), seq);
  auto h = s->history("a");
  EXPECT_EQ(h.last_number, 4);
  ASSERT_TRUE(h.last_finished);
  EXPECT_EQ(h.last_finished->number, 3);
  EXPECT_EQ(h.last_result_by_branch.at("main"), core::result::success);  // RETRY does not count
  EXPECT_EQ(h.last_result_by_branch.at("dev"), core::result::failure);
  EXPECT_EQ(h.last_result, core::result::failure);
  auto unfinished = s->unfinished_builds();
  ASSERT_EQ(unfinished.size(), 1u);
  EXPECT_EQ(unfinished[0].number, 4);
  EXPECT_EQ(unfinished[0].state, core::build_state::running);
  EXPECT_EQ(unfinished[0].request.props.at("x"), "1;2");
  ASSERT_EQ(unfinished[0].steps.size(), 1u);
  EXPECT_EQ(unfinished[0].steps[0].name, "compile");
  EXPECT_EQ(s->load_log("a", 1, 0), "hello\n");
  EXPECT_EQ(s->contacts().at("irc:#builds"), R"({"events":["started","failure"]})");
  auto b2 = s->load_build("a", 2);
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->outcome, core::result::failure);
  EXPECT_EQ(b2->request.branch, "dev");
}

TEST(SqliteStore, TextThatIsNotUtf8IsKeptNotLost) {
  // A Latin-1 chat client's reason, property and branch: no write may fail on them.
  temp_db db;
  {
    auto s = db.open();
    auto rq = with_header<core::build_requested>("a", 1, 1);
    rq.request.builder = "a";
    rq.request.branch = "caf\xE9";
    rq.request.reason = "force by b\xF6" "b";
    rq.request.props = {{"x", "na\xEF" "ve"}};
    s->record(rq);
    s->record(with_header<core::build_started>("a", 1, 2));
    auto f = with_header<core::build_finished>("a", 1, 3);
    f.outcome = core::result::success;
    f.text = "\xFF";
    s->record(f);
    s->flush();
  }
  auto s = db.open();
  EXPECT_EQ(s->last_seq(), 3u);  // every event recorded
  auto b = s->load_build("a", 1);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->outcome, core::result::success);
  EXPECT_EQ(b->request.branch, "caf\xE9");
  EXPECT_EQ(b->request.reason, "force by b\xF6" "b");
  EXPECT_EQ(b->request.props.at("x"), "na\xEF\xBF\xBD" "ve");  // properties are JSON: U+FFFD
}

TEST(SqliteStore, ChatOutboxKeepsUnconfirmedInOrder) {
  temp_db db;
  {
    auto s = db.open();
    s->add_chat_message({"a#1/finished/irc:#x", "#x", "one"});
    s->add_chat_message({"a#2/finished/irc:#x", "#x", "two"});
    s->add_chat_message({"a#1/finished/irc:#x", "#x", "one again"});  // same id: kept once
    s->add_chat_message({"a#3/finished/irc:bob", "bob", "three"});
    s->remove_chat_message("a#2/finished/irc:#x");
    s->flush();
  }
  auto s = db.open();
  auto out = s->chat_outbox();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, "a#1/finished/irc:#x");
  EXPECT_EQ(out[0].text, "one");
  EXPECT_EQ(out[1].target, "bob");
}

TEST(SqliteStore, AuditLogNewestFirst) {
  temp_db db;
  auto s = db.open();
  s->record_audit({core::clock::now(), "force", "alice", "alice", "alice!a@h", "#builds", "force build quick", "ran"});
  s->record_audit({core::clock::now(), "stop", "mallory", "", "mallory!m@h", "private", "stop build quick", "denied"});
  s->flush();
  auto log = s->audit_log(10);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].nick, "mallory");
  EXPECT_EQ(log[0].outcome, "denied");
  EXPECT_EQ(log[1].account, "alice");
}

TEST(SqliteStore, MigratesVersion2NotifySubscriptionsToContacts) {
  temp_db db;
  db.open().reset();  // create at the latest version, then take it back to version 2 (also undoing later ones)
  {
    SQLite::Database raw((db.dir / "herald.db").string(), SQLite::OPEN_READWRITE);
    raw.exec("DROP TABLE deliveries; DROP TABLE contacts; DROP TABLE audit; ALTER TABLE builds DROP COLUMN codebase;"
             "CREATE TABLE notify (contact TEXT PRIMARY KEY, events TEXT NOT NULL);"
             "INSERT INTO notify VALUES ('irc:#builds', '[\"started\",\"failure\"]');"
             "PRAGMA user_version = 2;");
  }
  auto s = db.open();
  EXPECT_EQ(s->contacts().at("irc:#builds"), R"({"events":["started","failure"]})");
  EXPECT_TRUE(s->audit_log(1).empty());
}

TEST(SqliteStore, NewDatabaseIsAtLatestSchema) {
  temp_db db;
  auto s = db.open();
  EXPECT_EQ(s->last_seq(), 0u);
  EXPECT_EQ(s->history("none").last_number, 0);
  EXPECT_GE(schema_version(), 1);
}

}  // namespace
}  // namespace herald::storage

namespace herald::storage {
namespace {

delivery make_delivery(std::string id, std::uint64_t seq) {
  delivery d;
  d.id = std::move(id);
  d.reporter = "gh";
  d.key = "github:o/r|abc|herald/linux";
  d.seq = seq;
  d.request = R"({"path":"/x"})";
  d.summary = "github status";
  d.created = core::clock::now();
  d.next_attempt = d.created;
  return d;
}

TEST(SqliteStore, NewDatabaseHasLargePagesAnExistingOneKeepsItsOwn) {
  temp_db db;
  db.open().reset();
  {
    SQLite::Database raw((db.dir / "herald.db").string(), SQLite::OPEN_READONLY);
    EXPECT_EQ(raw.execAndGet("PRAGMA page_size").getInt(), 16384);
  }
  // A database made by an older herald: 4 KiB pages, WAL, schema version 2.
  const auto old_file = db.dir / "old.db";
  {
    SQLite::Database raw(old_file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("PRAGMA page_size=4096");
    raw.exec("PRAGMA journal_mode=WAL");
    raw.exec("CREATE TABLE builds (builder TEXT NOT NULL, number INTEGER NOT NULL, state INTEGER NOT NULL,"
             " result INTEGER, text TEXT NOT NULL DEFAULT '', branch TEXT NOT NULL DEFAULT '',"
             " revision TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '',"
             " props TEXT NOT NULL DEFAULT '{}', requested_at INTEGER NOT NULL, started_at INTEGER,"
             " finished_at INTEGER, PRIMARY KEY (builder, number));"
             "CREATE TABLE notify (contact TEXT PRIMARY KEY, events TEXT NOT NULL);"
             "INSERT INTO notify VALUES ('irc:#old', '[\"failure\"]');"
             "PRAGMA user_version = 2;");
  }
  {
    auto s = open_sqlite(old_file, std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()));
    EXPECT_EQ(s->contacts().at("irc:#old"), R"({"events":["failure"]})");
    s->add_delivery(std::make_shared<delivery>(make_delivery("gh/old/1/finished", 1)), nullptr);
    s->flush();
    EXPECT_EQ(s->deliveries(false).size(), 1u);
  }
  SQLite::Database raw(old_file.string(), SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("PRAGMA page_size").getInt(), 4096);
  EXPECT_EQ(raw.execAndGet("PRAGMA user_version").getInt(), schema_version());
}

TEST(SqliteStore, DeliveryIsCommittedBeforeTheCallbackRuns) {
  temp_db db;
  auto s = db.open();
  std::promise<void> committed;
  s->add_delivery(std::make_shared<delivery>(make_delivery("gh/linux/7/finished", 9)), [&] { committed.set_value(); });
  committed.get_future().wait();
  // Another connection sees it: it is on disk, not only queued.
  SQLite::Database other((db.dir / "herald.db").string(), SQLite::OPEN_READONLY);
  EXPECT_EQ(other.execAndGet("SELECT count(*) FROM deliveries WHERE id = 'gh/linux/7/finished'").getInt(), 1);
}

TEST(SqliteStore, DeliveriesSurviveReopenUntilRemovedOrDead) {
  temp_db db;
  {
    auto s = db.open();
    s->add_delivery(std::make_shared<delivery>(make_delivery("a", 1)), nullptr);
    s->add_delivery(std::make_shared<delivery>(make_delivery("b", 2)), nullptr);
    s->add_delivery(std::make_shared<delivery>(make_delivery("c", 3)), nullptr);
    s->add_delivery(std::make_shared<delivery>(make_delivery("a", 4)), nullptr);  // same id: ignored
    s->update_delivery("b", 3, core::clock::now(), "HTTP 500");
    s->remove_delivery("c");
    s->flush();
  }
  auto s = db.open();
  auto pending = s->deliveries(false);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].id, "a");
  EXPECT_EQ(pending[0].seq, 1u);
  EXPECT_EQ(pending[1].id, "b");
  EXPECT_EQ(pending[1].attempts, 3);
  EXPECT_EQ(pending[1].last_error, "HTTP 500");
  EXPECT_EQ(pending[1].request, R"({"path":"/x"})");

  s->dead_letter("b", 4, "HTTP 404: not found");
  s->flush();
  auto dead = s->deliveries(true);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, "b");
  EXPECT_EQ(dead[0].attempts, 4);
  EXPECT_EQ(dead[0].last_error, "HTTP 404: not found");
  EXPECT_EQ(s->deliveries(false).size(), 1u);

  EXPECT_EQ(s->revive("nope"), 0u);
  EXPECT_EQ(s->revive(""), 1u);
  EXPECT_EQ(s->deliveries(false).size(), 2u);
  EXPECT_TRUE(s->deliveries(true).empty());
}

TEST(SqliteStore, RequestsAreLeftOutOfTheRestoreAndReadBackOnRequest) {
  temp_db db;
  auto s = db.open();
  auto a = make_delivery("a", 1);
  a.request = std::string(3000, 'x');
  s->add_delivery(std::make_shared<delivery>(a), nullptr);
  s->add_delivery(std::make_shared<delivery>(make_delivery("b", 2)), nullptr);
  s->update_delivery("b", 2, core::clock::now(), "HTTP 502");

  s->flush();
  auto pending = s->deliveries_without_requests(false);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].id, "a");
  EXPECT_EQ(pending[0].request, "");
  EXPECT_EQ(pending[1].id, "b");
  EXPECT_EQ(pending[1].request, "");
  EXPECT_EQ(pending[1].attempts, 2);
  EXPECT_EQ(pending[1].last_error, "HTTP 502");

  // Queued behind a write it reads the result of; a missing id is left out.
  s->add_delivery(std::make_shared<delivery>(make_delivery("c", 3)), nullptr);
  std::promise<std::vector<std::pair<std::string, std::string>>> got;
  s->load_requests({"c", "gone", "a"}, [&](auto rows) { got.set_value(std::move(rows)); });
  auto rows = got.get_future().get();
  std::map<std::string, std::string> by_id(rows.begin(), rows.end());
  EXPECT_EQ(by_id, (std::map<std::string, std::string>{{"a", std::string(3000, 'x')}, {"c", R"({"path":"/x"})"}}));

  s->dead_letter("a", 3, "HTTP 404");
  s->flush();
  auto dead = s->deliveries_without_requests(true);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, "a");
  EXPECT_EQ(dead[0].request, "");
  EXPECT_EQ(dead[0].last_error, "HTTP 404");
  EXPECT_EQ(s->deliveries(true)[0].request, std::string(3000, 'x'));
}

TEST(SqliteStore, ADeliveredStateRemovesTheOlderOnesOfItsKeyDeadOrNot) {
  temp_db db;
  auto s = db.open();
  auto other_key = make_delivery("other", 1);
  other_key.key = "github:o/r|def|herald/linux";
  auto no_key = make_delivery("plain", 1);
  no_key.key.clear();
  for (auto d : {make_delivery("pending", 1), make_delivery("running", 2), make_delivery("success", 3),
                 make_delivery("newer", 4), other_key, no_key})
    s->add_delivery(std::make_shared<delivery>(d), nullptr);
  s->dead_letter("pending", 1, "HTTP 422: no commit found");
  s->remove_superseded("github:o/r|abc|herald/linux", 3);
  s->flush();
  std::vector<std::string> left;
  for (const auto& d : s->deliveries(false)) left.push_back(d.id);
  EXPECT_EQ(left, (std::vector<std::string>{"success", "newer", "other", "plain"}));
  EXPECT_TRUE(s->deliveries(true).empty());  // nothing left to revive over "success"

  // The lookup takes the partial index, not a scan of every delivery.
  SQLite::Database raw((db.dir / "herald.db").string(), SQLite::OPEN_READONLY);
  SQLite::Statement plan(raw, "EXPLAIN QUERY PLAN DELETE FROM deliveries WHERE key = ? AND key <> '' AND seq < ?");
  std::string detail;
  while (plan.executeStep()) detail += plan.getColumn(3).getString() + "\n";
  EXPECT_NE(detail.find("deliveries_by_key"), std::string::npos) << detail;
}

TEST(SqliteStore, DeadLettersRevivedByAnotherProcessAreTakenOnce) {
  temp_db db;
  auto service = db.open();
  for (const char* id : {"a", "b", "c"}) {
    auto d = make_delivery(id, 1);
    d.key.clear();
    service->add_delivery(std::make_shared<delivery>(d), nullptr);
  }
  service->dead_letter("a", 3, "HTTP 404");
  service->dead_letter("b", 3, "HTTP 404");
  service->flush();
  std::vector<std::vector<std::string>> taken;
  const auto look = [&] {
    service->take_revived([&](std::vector<delivery> revived) {
      std::vector<std::string> ids;
      for (const auto& d : revived) ids.push_back(d.id + (d.dead ? " dead" : "") + " " + std::to_string(d.attempts));
      taken.push_back(ids);
    });
    service->flush();
  };
  look();  // the first look finds nothing to take
  EXPECT_TRUE(taken.empty());

  auto cli = db.open();  // `herald outbox --revive a`: another connection
  EXPECT_EQ(cli->revive("a"), 1u);
  EXPECT_EQ(cli->deliveries(false).size(), 2u);  // shown as pending before a running herald takes it
  look();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], std::vector<std::string>{"a 0"});
  look();  // nothing changed since: nothing again
  EXPECT_EQ(taken.size(), 1u);

  EXPECT_EQ(cli->revive(""), 1u);  // the rest: "b"
  look();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[1], std::vector<std::string>{"b 0"});
  EXPECT_TRUE(service->deliveries(true).empty());
  EXPECT_EQ(service->deliveries(false).size(), 3u);
}

TEST(SqliteStore, RevivedWhileStoppedIsPendingAtTheNextStart) {
  temp_db db;
  {
    auto s = db.open();
    s->add_delivery(std::make_shared<delivery>(make_delivery("a", 1)), nullptr);
    s->dead_letter("a", 3, "HTTP 404");
    s->flush();
  }
  EXPECT_EQ(db.open()->revive("a"), 1u);
  auto s = db.open();
  ASSERT_EQ(s->deliveries(false).size(), 1u);  // restored at start
  std::vector<std::string> taken;
  s->take_revived([&](std::vector<delivery> revived) {
    for (const auto& d : revived) taken.push_back(d.id);
  });
  s->flush();
  EXPECT_EQ(taken, std::vector<std::string>{"a"});  // the first look takes it too; the outbox skips a queued id
}

TEST(GroupCommit, WindowGrowsWhileBatchesAreBusyAndFallsBackAtOnce) {
  using namespace group_commit;
  using std::chrono::microseconds;
  auto w = min_window;
  EXPECT_EQ(w, microseconds(1000));
  w = next_window(w, busy_batch - 1);
  EXPECT_EQ(w, microseconds(1000));  // a quiet batch keeps the short window
  w = next_window(w, busy_batch);
  EXPECT_EQ(w, microseconds(2000));
  w = next_window(w, 200);
  EXPECT_EQ(w, microseconds(4000));
  w = next_window(w, 200);
  EXPECT_EQ(w, microseconds(8000));
  w = next_window(w, 200);
  EXPECT_EQ(w, microseconds(16000));
  w = next_window(w, full_batch);
  EXPECT_EQ(w, max_window);  // capped
  EXPECT_EQ(w, microseconds(16000));
  w = next_window(w, 1);
  EXPECT_EQ(w, min_window);  // one quiet batch: a lone write waits 1 ms again
}

}  // namespace
}  // namespace herald::storage
