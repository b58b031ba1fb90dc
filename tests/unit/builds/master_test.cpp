#include "builds/master.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <thread>
#include <sstream>

#include "builds/process.hpp"

namespace herald::builds {
namespace {

namespace fs = std::filesystem;

core::step_spec step(std::string name, core::command_line cmd) {
  core::step_spec s;
  s.name = std::move(name);
  s.command = std::move(cmd);
  return s;
}

core::builder_spec builder(std::string name, std::vector<core::step_spec> steps) {
  core::builder_spec b;
  b.name = std::move(name);
  b.steps = std::move(steps);
  return b;
}

// A master on a real io_context running real child processes in a temp dir.
struct harness {
  fs::path dir;
  boost::asio::io_context io;
  core::feed feed;
  std::vector<core::event> events;
  core::feed::subscription sub;
  std::unique_ptr<master> m;

  explicit harness(std::vector<core::builder_spec> builders, int max_builds = 4) {
    dir = fs::temp_directory_path() / ("herald-master-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    sub = feed.subscribe([this](const core::event& e) { events.push_back(e); });
    master_options o;
    o.work_root = dir / "work";
    o.max_builds = max_builds;
    o.stop_grace = std::chrono::milliseconds(300);
    o.base_env = current_environment();
    m = std::make_unique<master>(io, feed, std::move(builders), o,
                                 std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()));
  }
  ~harness() {
    m.reset();
    fs::remove_all(dir);
  }

  std::vector<core::build_finished> finished() const {
    std::vector<core::build_finished> out;
    for (const auto& e : events)
      if (auto* f = std::get_if<core::build_finished>(&e)) out.push_back(*f);
    return out;
  }
  // Runs the loop until `n` builds finished (or 10 s pass).
  void run_until_finished(std::size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (finished().size() < n && std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(10));
      io.restart();
    }
  }
  std::string log_text() const {
    std::string s;
    for (const auto& e : events)
      if (auto* l = std::get_if<core::log_appended>(&e)) s += l->text;
    return s;
  }
};

core::build_request req(std::string builder) {
  core::build_request r;
  r.builder = std::move(builder);
  return r;
}

TEST(Master, ResultsFromExitCodes) {
  core::step_spec warn = step("w", std::string("exit 3"));
  warn.warning_exit_codes = {3};
  harness h({builder("ok", {step("a", std::vector<std::string>{"true"})}),
             builder("bad", {step("a", std::string("echo oops >&2; exit 2")), step("never", std::string("true"))}),
             builder("warn", {warn}),
             builder("missing", {step("a", std::vector<std::string>{"/nonexistent/tool"})})});
  EXPECT_EQ(h.m->force(req("ok")), 1);
  EXPECT_EQ(h.m->force(req("bad")), 1);
  EXPECT_EQ(h.m->force(req("ok")), 2);
  h.m->force(req("warn"));
  h.m->force(req("missing"));
  h.run_until_finished(5);
  std::map<std::string, core::build_finished> by;
  for (auto& f : h.finished()) by[f.header.builder + "#" + std::to_string(f.header.number)] = f;
  EXPECT_EQ(by.at("ok#1").outcome, core::result::success);
  EXPECT_EQ(by.at("ok#2").outcome, core::result::success);
  EXPECT_EQ(by.at("ok#2").previous_on_branch, core::result::success);
  EXPECT_EQ(by.at("bad#1").outcome, core::result::failure);
  EXPECT_EQ(by.at("bad#1").text, "step `a` failed (exit 2)");
  EXPECT_EQ(by.at("warn#1").outcome, core::result::warnings);
  EXPECT_EQ(by.at("missing#1").outcome, core::result::exception);
  EXPECT_NE(h.log_text().find("oops"), std::string::npos);
  // halt_on_failure: the step after the failing one never started.
  for (const auto& e : h.events) {
    if (auto* s = std::get_if<core::step_started>(&e)) {
      EXPECT_NE(s->name, "never");
    }
  }
}

TEST(Master, PropertiesAreEnvironmentNotCode) {
  harness h({builder("echo", {step("rec", std::string("printf '%s' \"$HERALD_PROP_X\" > out.txt"))})});
  auto r = req("echo");
  r.props["x"] = "a;b $(touch pwned) `touch pwned2` \"q\" 'q'\nline2";
  h.m->force(r);
  h.run_until_finished(1);
  ASSERT_EQ(h.finished().at(0).outcome, core::result::success);
  std::ifstream in(h.dir / "work" / "echo" / "out.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), r.props["x"]);
  EXPECT_FALSE(fs::exists(h.dir / "work" / "echo" / "pwned"));
  EXPECT_FALSE(fs::exists(h.dir / "work" / "echo" / "pwned2"));
}

TEST(Master, BadPropertyNameIsRefused) {
  harness h({builder("echo", {step("rec", std::string("true"))})});
  auto r = req("echo");
  r.props["a=b"] = "x";
  EXPECT_THROW(h.m->force(r), request_error);
  EXPECT_THROW(h.m->force(req("nope")), request_error);
}

TEST(Master, TimeoutIsException) {
  auto s = step("sleep", std::string("sleep 30"));
  s.timeout = core::seconds(0.2);
  harness h({builder("slow", {s})});
  h.m->force(req("slow"));
  h.run_until_finished(1);
  ASSERT_EQ(h.finished().size(), 1u);
  EXPECT_EQ(h.finished()[0].outcome, core::result::exception);
  EXPECT_NE(h.finished()[0].text.find("timed out"), std::string::npos);
}

TEST(Master, StopKillsTheProcessGroupAndCancels) {
  // The shell ignores TERM, so only the SIGKILL after the grace period ends it;
  // its background child must die with the group.
  harness h({builder("slow", {step("sleep", std::string("trap '' TERM; sleep 30 & echo $! > child.pid; wait"))})});
  h.m->force(req("slow"));
  h.m->force(req("slow"));  // queued behind the first (max_builds 1)
  for (int i = 0; i < 200 && !fs::exists(h.dir / "work" / "slow" / "child.pid"); ++i) {
    h.io.run_for(std::chrono::milliseconds(10));
    h.io.restart();
  }
  EXPECT_EQ(h.m->running("slow").size(), 1u);
  EXPECT_EQ(h.m->pending("slow").size(), 1u);
  auto stopped = h.m->stop("slow", "stopped by alice");
  EXPECT_EQ(stopped, (std::vector<std::int64_t>{1, 2}));
  h.run_until_finished(2);
  ASSERT_EQ(h.finished().size(), 2u);
  for (const auto& f : h.finished()) {
    EXPECT_EQ(f.outcome, core::result::cancelled);
    EXPECT_EQ(f.text, "stopped by alice");
  }
  std::ifstream in(h.dir / "work" / "slow" / "child.pid");
  int pid = 0;
  in >> pid;
  ASSERT_GT(pid, 0);
  // Dead means gone or a zombie (a container's init may not reap orphans). The
  // signal takes a moment to land on a loaded machine: up to 2 s.
  const auto dead = [&](std::string& state) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, comm;
    stat >> pid_field >> comm >> state;
    return !stat || state == "Z";
  };
  std::string state;
  for (int i = 0; i < 200 && !dead(state); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(dead(state)) << "background child survived the stop: state " << state;
}

TEST(Master, GlobalAndPerBuilderCaps) {
  harness h({builder("a", {step("s", std::string("sleep 0.3"))}), builder("b", {step("s", std::string("sleep 0.3"))})},
            /*max_builds=*/1);
  h.m->force(req("a"));
  h.m->force(req("b"));
  EXPECT_EQ(h.m->running("a").size(), 1u);
  EXPECT_EQ(h.m->running("b").size(), 0u);
  h.run_until_finished(2);
  EXPECT_EQ(h.finished().size(), 2u);
}

TEST(Master, RecoverClosesInterruptedAndContinuesNumbering) {
  harness h({builder("a", {step("s", std::string("true"))})});
  core::builder_history hist;
  hist.last_number = 7;
  hist.last_result = core::result::success;
  hist.last_result_by_branch[""] = core::result::success;
  core::build_record running;
  running.request.builder = "a";
  running.number = 7;
  running.state = core::build_state::running;
  h.m->recover({{"a", hist}}, {running});
  ASSERT_EQ(h.finished().size(), 1u);
  EXPECT_EQ(h.finished()[0].header.number, 7);
  EXPECT_EQ(h.finished()[0].outcome, core::result::exception);
  EXPECT_EQ(h.finished()[0].text, "interrupted by restart");
  EXPECT_EQ(h.m->force(req("a")), 8);
}

TEST(Master, ShutdownInterruptsAndRefusesNewBuilds) {
  harness h({builder("slow", {step("s", std::string("sleep 30"))})});
  h.m->force(req("slow"));
  bool done = false;
  h.m->set_on_shutdown([&] { done = true; });
  h.m->shutdown("test");
  EXPECT_THROW(h.m->force(req("slow")), request_error);
  h.run_until_finished(1);
  EXPECT_TRUE(done);
  EXPECT_EQ(h.finished().at(0).outcome, core::result::exception);
}

TEST(Master, CleanShutdownWaitsForRunningBuilds) {
  harness h({builder("s", {step("s", std::string("sleep 0.3"))})});
  h.m->force(req("s"));
  bool done = false;
  h.m->set_on_shutdown([&] { done = true; });
  h.m->request_shutdown(shutdown_state::clean, "test");
  EXPECT_FALSE(done);
  EXPECT_THROW(h.m->force(req("s")), request_error);
  h.run_until_finished(1);
  EXPECT_TRUE(done);
  EXPECT_EQ(h.finished().at(0).outcome, core::result::success);
}

TEST(Master, CleanShutdownCanBeCancelled) {
  harness h({builder("s", {step("s", std::string("sleep 0.2"))})});
  h.m->force(req("s"));
  bool done = false;
  h.m->set_on_shutdown([&] { done = true; });
  h.m->request_shutdown(shutdown_state::clean, "test");
  EXPECT_TRUE(h.m->cancel_shutdown());
  EXPECT_EQ(h.m->force(req("s")), 2);
  h.run_until_finished(2);
  EXPECT_FALSE(done);
  EXPECT_EQ(h.m->shutdown_status(), shutdown_state::none);
}

TEST(Master, WorkersShowBusySlots) {
  harness h({builder("s", {step("s", std::string("sleep 5"))})}, 3);
  h.m->force(req("s"));
  auto w = h.m->workers();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].slots, 3);
  EXPECT_EQ(w[0].busy, (std::vector<std::pair<std::string, std::int64_t>>{{"s", 1}}));
  h.m->stop("s", "done");
  h.run_until_finished(1);
}

}  // namespace
}  // namespace herald::builds
