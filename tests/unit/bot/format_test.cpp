#include "bot/format.hpp"

#include <gtest/gtest.h>

namespace herald::bot {
namespace {

using namespace std::chrono_literals;

core::build_finished finished(core::result r) {
  core::build_finished f;
  f.header.builder = "linux";
  f.header.number = 12;
  f.outcome = r;
  return f;
}

TEST(Format, FinishedLineNamesBuilderNumberAndResult) {
  format_options o;
  EXPECT_EQ(finished_line(o, finished(core::result::success)), "Build #12 of `linux` completed successfully.");
  o.url = "http://ci/";
  auto f = finished(core::result::failure);
  f.text = "step `test` failed (exit 2)";
  EXPECT_EQ(finished_line(o, f), "Build #12 of `linux` failed: step `test` failed (exit 2). http://ci/#/builders/linux/builds/12");
}

TEST(Format, BlameAndRevisionAreOptions) {
  format_options o;
  auto f = finished(core::result::failure);
  f.request.owner = "alice";
  f.request.branch = "main";
  f.request.revision = "0123456789abcdef";
  EXPECT_EQ(finished_line(o, f), "Build #12 of `linux` failed.");
  o.show_blame = o.show_revision = true;
  EXPECT_EQ(finished_line(o, f), "Build #12 of `linux` failed. Revision 0123456789ab on `main`. Blame: alice.");
}

TEST(Format, ColoursWrapTheResultWord) {
  format_options o;
  o.use_colors = true;
  EXPECT_EQ(finished_line(o, finished(core::result::failure)), "Build #12 of `linux` \x03" "04failed\x0f.");
}

TEST(Format, StatusShowsStepProgressAndTimeLeft) {
  core::builder_spec spec;
  spec.name = "linux";
  spec.steps.resize(3);
  auto now = core::clock::now();
  core::build_record running;
  running.number = 13;
  running.started_at = now - 20s;
  running.steps.resize(2);
  running.steps[1].name = "test";
  core::build_record last;
  last.number = 12;
  last.outcome = core::result::success;
  last.started_at = now - 10min;
  last.finished_at = now - 9min;
  EXPECT_EQ(status_line({}, spec, {running}, 1, last, now),
            "`linux`: running build #13 (step 2/3 `test`, 20 seconds so far, about 40 seconds left), 1 pending, "
            "last build #12 9 minutes ago, completed successfully");
}

TEST(Format, HumanDurations) {
  EXPECT_EQ(human_duration(1s), "1 second");
  EXPECT_EQ(human_duration(59s), "59 seconds");
  EXPECT_EQ(human_duration(120s), "2 minutes");
  EXPECT_EQ(human_duration(7200s), "2 hours");
  EXPECT_EQ(human_duration(std::chrono::seconds(86400 * 3)), "3 days");
}

TEST(Format, WorkerLine) {
  core::worker_state w;
  w.worker = "local";
  w.online = false;
  w.text = "herald is shutting down";
  EXPECT_EQ(worker_line(w), "Worker `local` is offline: herald is shutting down.");
}

}  // namespace
}  // namespace herald::bot
