#include "notifiers/reporters.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/manual_loop.hpp"

namespace herald::notifiers {
namespace {

namespace fs = std::filesystem;
using core::result;

std::shared_ptr<spdlog::logger> quiet() {
  return std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>());
}

template <class E>
E at(std::uint64_t seq, std::int64_t number = 7) {
  E e;
  e.header.builder = "linux";
  e.header.number = number;
  e.header.seq = seq;
  e.header.time = core::clock::now();
  return e;
}

core::build_request sample_request() {
  core::build_request r;
  r.builder = "linux";
  r.branch = "main";
  r.revision = "0123456789abcdef0123456789abcdef01234567";
  r.owner = "alice";
  return r;
}

// One failing build: checkout passes, compile fails with a log.
void failing_build(reporters& reps) {
  auto s = at<core::build_started>(1);
  s.request = sample_request();
  reps.on_event(s);
  auto st = at<core::step_started>(2);
  st.step = 0;
  st.name = "checkout";
  reps.on_event(st);
  auto sf = at<core::step_finished>(3);
  sf.step = 0;
  sf.name = "checkout";
  sf.outcome = result::success;
  reps.on_event(sf);
  st = at<core::step_started>(4);
  st.step = 1;
  st.name = "compile";
  reps.on_event(st);
  auto log = at<core::log_appended>(5);
  log.step = 1;
  log.text = "compiling\nmain.cpp:3: error: boom\n";
  reps.on_event(log);
  sf = at<core::step_finished>(6);
  sf.step = 1;
  sf.name = "compile";
  sf.outcome = result::failure;
  sf.text = "exit 2";
  reps.on_event(sf);
  auto f = at<core::build_finished>(7);
  f.request = sample_request();
  f.outcome = result::failure;
  f.previous_on_branch = result::success;
  reps.on_event(f);
}

struct fixture {
  fs::path dir = fs::temp_directory_path() / ("herald-reporters-" + std::to_string(::getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::unique_ptr<storage::store> store;
  testing::manual_loop loop;
  transfer xfer{2};
  std::unique_ptr<outbox> box;
  fixture() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    store = storage::open_sqlite(dir / "herald.db", quiet());
    box = std::make_unique<outbox>(loop, *store, quiet());
  }
  ~fixture() {
    box.reset();
    store.reset();
    fs::remove_all(dir);
  }
  // What the outbox stored (not attempted: the loop is never run).
  std::map<std::string, storage::delivery> stored() {
    store->flush();
    std::map<std::string, storage::delivery> out;
    for (auto& d : store->deliveries(false)) out[d.id] = d;
    return out;
  }
};

core::reporter_spec spec(std::string name, core::reporter_type type) {
  core::reporter_spec s;
  s.name = std::move(name);
  s.type = type;
  s.url = core::secret("https://hooks.example.org/T0KEN");
  s.token = core::secret("T0KEN");
  s.repository = "octo/repo";
  return s;
}

TEST(Reporters, EachReporterGetsWhatItsGeneratorWants) {
  fixture f;
  auto gh = spec("gh", core::reporter_type::github);
  gh.generator.report_start = true;
  auto push = spec("push", core::reporter_type::http);
  push.generator.modes = {core::report_mode::failing};
  auto slack = spec("slack", core::reporter_type::slack);
  slack.generator.modes = {core::report_mode::passing};
  reporters reps({gh, push, slack}, {{"linux", {"fast"}}}, {"CI", "https://ci.example.org"}, *f.box, f.xfer, f.loop,
                 quiet());
  failing_build(reps);
  auto got = f.stored();
  // github: "pending" was superseded by the final state before it was ever sent.
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(got.contains("gh/linux/7/finished"));
  ASSERT_TRUE(got.contains("push/linux/7/finished"));
  EXPECT_EQ(got["gh/linux/7/finished"].seq, 7u);
  EXPECT_FALSE(got["gh/linux/7/finished"].key.empty());
  EXPECT_TRUE(got["push/linux/7/finished"].key.empty());

  auto req = deserialize(got["push/linux/7/finished"].request);
  ASSERT_TRUE(req);
  auto body = nlohmann::json::parse(req->body);
  const auto text = body.dump();
  EXPECT_NE(text.find("compile"), std::string::npos) << text;
  EXPECT_NE(text.find("error: boom"), std::string::npos) << text;
  EXPECT_NE(text.find("new failure"), std::string::npos) << text;
  EXPECT_NE(text.find("https://ci.example.org/#/builders/linux/builds/7"), std::string::npos) << text;
  // Secrets stay out of what is stored.
  for (const auto& [id, d] : got) {
    EXPECT_EQ(d.request.find("T0KEN"), std::string::npos) << id;
    EXPECT_EQ(d.summary.find("T0KEN"), std::string::npos) << id;
  }
}

TEST(Reporters, BitbucketServerWithoutARepositoryIsWarnedAboutAtStart) {
  fixture f;
  auto lines = std::make_shared<std::ostringstream>();
  auto log = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::ostream_sink_mt>(*lines));
  auto legacy = spec("bbs-old", core::reporter_type::bitbucket_server);
  legacy.repository.clear();
  auto current = spec("bbs", core::reporter_type::bitbucket_server);
  current.repository = "PROJ/repo";
  reporters reps({legacy, current}, {}, {"CI", "https://ci.example.org"}, *f.box, f.xfer, f.loop, log);
  const auto text = lines->str();
  EXPECT_NE(text.find("reporter `bbs-old`: without `repository`"), std::string::npos) << text;
  EXPECT_EQ(text.find("`bbs`"), std::string::npos) << text;
}

TEST(Reporters, TagAndBuilderFiltersUseTheBuildersTags) {
  fixture f;
  auto push = spec("push", core::reporter_type::http);
  push.generator.tags = {"release"};
  reporters reps({push}, {{"linux", {"fast"}}}, {}, *f.box, f.xfer, f.loop, quiet());
  failing_build(reps);
  EXPECT_TRUE(f.stored().empty());
}

TEST(Reporters, StoredRequestRoundTrips) {
  request r;
  r.method = "PUT";
  r.path = "/rooms/%21a%3Ab/send/m.room.message/x1";
  r.headers = {{"Content-Type", "application/json"}, {"X-A", "b"}};
  r.body = "{\"k\":\"v\\u00e9\"}\n\nsecond paragraph\n";
  r.mail_from = "ci@example.org";
  r.mail_to = {"a@example.org", "b@example.org"};
  auto back = deserialize(serialize(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->method, r.method);
  EXPECT_EQ(back->path, r.path);
  EXPECT_EQ(back->headers, r.headers);
  EXPECT_EQ(back->body, r.body);
  EXPECT_EQ(back->mail_from, r.mail_from);
  EXPECT_EQ(back->mail_to, r.mail_to);
  EXPECT_FALSE(deserialize("not a request"));
  EXPECT_FALSE(deserialize("herald-request/1\nPOST\n/p\n\n1\n"));   // a recipient missing
  EXPECT_FALSE(deserialize("herald-request/1\nPOST\n/p\n\n0\nx\n"));  // not a count
  request hostile;
  hostile.path = "/a\r\nX-Injected: 1";
  hostile.headers = {{"X-A", "b\nc"}};
  auto h = deserialize(serialize(hostile));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->path, "/a  X-Injected: 1");
  EXPECT_EQ(h->headers.size(), 1u);
  EXPECT_EQ(h->headers[0].second, "b c");
}

// Deliveries stored by any herald must stay readable: the text is fixed, byte for byte.
TEST(Reporters, StoredRequestTextIsTheLineFormat) {
  request r;
  r.method = "PUT";
  r.path = "/p";
  r.headers = {{"Content-Type", "application/json"}, {"X-\r\nA", "b\nc"}};
  r.body = "{\"k\":1}\nend";
  r.mail_from = "ci@example.org";
  r.mail_to = {"a@example.org", "b@example.org"};
  EXPECT_EQ(serialize(r),
            "herald-request/1\nPUT\n/p\nci@example.org\n2\na@example.org\nb@example.org\n2\n"
            "Content-Type: application/json\nX-  A: b c\n{\"k\":1}\nend");
  EXPECT_EQ(serialize(request{}), "herald-request/1\nPOST\n\n\n0\n0\n");
  auto old = deserialize("herald-request/1\nPOST\n/x\n\n0\n1\nA: b\nbody");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->path, "/x");
  EXPECT_EQ(old->headers, (std::vector<std::pair<std::string, std::string>>{{"A", "b"}}));
  EXPECT_EQ(old->body, "body");
}

report mail_report() {
  report r;
  r.kind = report_kind::finished;
  r.title = "CI";
  r.builder = "linux";
  r.number = 7;
  r.request = sample_request();
  r.request.branch = "feature/x";
  r.outcome = result::failure;
  r.status_detected = "new failure";
  r.blame = {"Bob <bob@corp.example>", "alice"};
  r.logs = {{"compile", std::string(100, 'a') + "TAIL", false}};
  return r;
}

TEST(Reporters, MailGoesToExtraAndInterestedUsersOnce) {
  auto s = spec("mail", core::reporter_type::mail);
  s.from = "ci@example.org";
  s.to = {"dev@example.org", "alice@example.org"};
  s.interested_users = true;
  s.lookup_domain = "example.org";
  s.attach_logs = true;
  s.max_log_bytes = 10;
  formatter fmt(s, quiet());
  auto plans = plan_mail(s, fmt, mail_report(), core::clock::now());
  ASSERT_EQ(plans.size(), 1u);
  const auto& p = plans[0];
  EXPECT_EQ(p.id, "mail/linux/7/finished");
  EXPECT_EQ(p.req.mail_from, "ci@example.org");
  EXPECT_EQ(p.req.mail_to, (std::vector<std::string>{"dev@example.org", "alice@example.org", "bob@corp.example"}));
  const auto& m = p.req.body;
  EXPECT_NE(m.find("Message-ID: <herald.linux.7.finished.mail@example.org>"), std::string::npos) << m;
  EXPECT_NE(m.find("In-Reply-To: <herald.linux.feature.x@example.org>"), std::string::npos) << m;
  EXPECT_NE(m.find("Auto-Submitted: auto-generated"), std::string::npos);
  EXPECT_NE(m.find("filename=\"compile.log\""), std::string::npos) << m;
}

TEST(Reporters, MailWithoutRecipientsIsNotPlanned) {
  auto s = spec("mail", core::reporter_type::mail);
  s.from = "ci@example.org";
  s.interested_users = true;  // but no lookup_domain, and the owner is a bare nick
  formatter fmt(s, quiet());
  auto r = mail_report();
  r.blame = {"alice"};
  EXPECT_TRUE(plan_mail(s, fmt, r, core::clock::now()).empty());
}

}  // namespace
}  // namespace herald::notifiers
