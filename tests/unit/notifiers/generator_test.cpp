#include "notifiers/generator.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace herald::notifiers {
namespace {

using core::result;

core::build_finished finished(result now, std::optional<result> prev_branch = std::nullopt,
                              std::optional<result> prev_builder = std::nullopt,
                              std::string builder = "linux", std::string branch = "main") {
  core::build_finished f;
  f.header.builder = builder;
  f.header.number = 7;
  f.request.builder = builder;
  f.request.branch = branch;
  f.outcome = now;
  f.previous_on_branch = prev_branch;
  f.previous_on_builder = prev_builder;
  return f;
}

core::build_started started(std::string builder = "linux", std::string branch = "main") {
  core::build_started s;
  s.header.builder = builder;
  s.request.builder = builder;
  s.request.branch = branch;
  return s;
}

generator_spec only(mode m) {
  generator_spec g;
  g.modes = {m};
  return g;
}

bool reports(const generator_spec& g, const core::event& e,
             const std::vector<std::string>& tags = {}) {
  return wants(g, e, tags) == report_kind::finished;
}

TEST(GeneratorParseMode, AcceptsEveryModeCaseInsensitively) {
  EXPECT_EQ(parse_mode("failing"), mode::failing);
  EXPECT_EQ(parse_mode("PASSING"), mode::passing);
  EXPECT_EQ(parse_mode("Warnings"), mode::warnings);
  EXPECT_EQ(parse_mode("exception"), mode::exception);
  EXPECT_EQ(parse_mode("cancelled"), mode::cancelled);
  EXPECT_EQ(parse_mode("change"), mode::change);
  EXPECT_EQ(parse_mode("Problem"), mode::problem);
  EXPECT_EQ(parse_mode("all"), mode::all);
}

TEST(GeneratorParseMode, RejectsUnknownModes) {
  EXPECT_EQ(parse_mode(""), std::nullopt);
  EXPECT_EQ(parse_mode("fail"), std::nullopt);
  EXPECT_EQ(parse_mode("failingx"), std::nullopt);
  EXPECT_EQ(parse_mode("canceled"), std::nullopt);
}

TEST(GeneratorModes, ResultModesMatchOnlyTheirResult) {
  const std::pair<mode, result> cases[] = {{mode::failing, result::failure},
                                           {mode::passing, result::success},
                                           {mode::warnings, result::warnings},
                                           {mode::exception, result::exception},
                                           {mode::cancelled, result::cancelled}};
  for (auto [m, match] : cases)
    for (auto r : core::all_results)
      EXPECT_EQ(reports(only(m), finished(r, result::success)), r == match)
          << "mode " << static_cast<int>(m) << " result " << core::result_name(r);
}

TEST(GeneratorModes, AllReportsEveryFinishedBuild) {
  for (auto r : core::all_results) {
    EXPECT_TRUE(reports(only(mode::all), finished(r)));
    EXPECT_TRUE(reports(only(mode::all), finished(r, result::failure)));
  }
}

TEST(GeneratorModes, DefaultSpecIsAll) {
  generator_spec g;
  EXPECT_TRUE(reports(g, finished(result::success, result::success)));
  EXPECT_TRUE(reports(g, finished(result::retry)));
}

TEST(GeneratorModes, ChangeNeedsADifferentPreviousResult) {
  auto g = only(mode::change);
  EXPECT_TRUE(reports(g, finished(result::failure, result::success)));
  EXPECT_TRUE(reports(g, finished(result::success, result::failure)));
  EXPECT_TRUE(reports(g, finished(result::warnings, result::success)));
  EXPECT_FALSE(reports(g, finished(result::success, result::success)));
  EXPECT_FALSE(reports(g, finished(result::failure, result::failure)));
  EXPECT_FALSE(reports(g, finished(result::failure)));  // no previous build: not a change
}

TEST(GeneratorModes, ProblemIsFailureAfterNonFailure) {
  auto g = only(mode::problem);
  EXPECT_TRUE(reports(g, finished(result::failure, result::success)));
  EXPECT_TRUE(reports(g, finished(result::failure, result::warnings)));
  EXPECT_TRUE(reports(g, finished(result::failure, result::exception)));
  EXPECT_TRUE(reports(g, finished(result::failure)));  // a first build that fails
  EXPECT_FALSE(reports(g, finished(result::failure, result::failure)));
  EXPECT_FALSE(reports(g, finished(result::exception, result::success)));
  EXPECT_FALSE(reports(g, finished(result::success, result::failure)));
}

TEST(GeneratorModes, SeveralModesReportWhenAnyMatches) {
  generator_spec g;
  g.modes = {mode::failing, mode::passing};
  EXPECT_TRUE(reports(g, finished(result::failure)));
  EXPECT_TRUE(reports(g, finished(result::success)));
  EXPECT_FALSE(reports(g, finished(result::warnings)));
}

TEST(GeneratorModes, NoModesReportNoFinishedBuild) {
  generator_spec g;
  g.modes.clear();
  EXPECT_FALSE(reports(g, finished(result::failure)));
}

TEST(GeneratorPrevious, UsesSameBranchByDefault) {
  auto g = only(mode::change);
  // Same branch passed before, another branch failed last builder-wide.
  EXPECT_FALSE(reports(g, finished(result::success, result::success, result::failure)));
  EXPECT_TRUE(reports(g, finished(result::success, result::failure, result::success)));
}

TEST(GeneratorPrevious, BuilderWideOptionUsesBuilderPrevious) {
  auto g = only(mode::change);
  g.previous_builder_wide = true;
  EXPECT_TRUE(reports(g, finished(result::success, result::success, result::failure)));
  EXPECT_FALSE(reports(g, finished(result::success, result::failure, result::success)));
  auto p = only(mode::problem);
  p.previous_builder_wide = true;
  EXPECT_FALSE(reports(p, finished(result::failure, result::success, result::failure)));
}

TEST(GeneratorRetry, RetryPreviousCountsAsNone) {
  EXPECT_FALSE(reports(only(mode::change), finished(result::success, result::retry)));
  EXPECT_TRUE(reports(only(mode::problem), finished(result::failure, result::retry)));
  auto g = only(mode::change);
  g.previous_builder_wide = true;
  EXPECT_FALSE(reports(g, finished(result::failure, result::success, result::retry)));
}

TEST(GeneratorRetry, RetryBuildReportedOnlyInModeAll) {
  for (auto m : {mode::failing, mode::passing, mode::warnings, mode::exception, mode::cancelled,
                 mode::change, mode::problem})
    EXPECT_FALSE(reports(only(m), finished(result::retry, result::success)))
        << static_cast<int>(m);
  EXPECT_TRUE(reports(only(mode::all), finished(result::retry, result::success)));
}

TEST(GeneratorFilters, BuilderNames) {
  generator_spec g;
  g.builders = {"linux", "mac"};
  EXPECT_TRUE(reports(g, finished(result::success, {}, {}, "linux")));
  EXPECT_TRUE(reports(g, finished(result::success, {}, {}, "mac")));
  EXPECT_FALSE(reports(g, finished(result::success, {}, {}, "windows")));
  EXPECT_FALSE(reports(g, finished(result::success, {}, {}, "Linux")));
}

TEST(GeneratorFilters, AnyBuilderTagMatches) {
  generator_spec g;
  g.tags = {"release", "nightly"};
  EXPECT_TRUE(reports(g, finished(result::success), {"fast", "nightly"}));
  EXPECT_FALSE(reports(g, finished(result::success), {"fast"}));
  EXPECT_FALSE(reports(g, finished(result::success), {}));
}

TEST(GeneratorFilters, BranchesExactAndGlob) {
  generator_spec g;
  g.branches = {"main", "release/*", "*-hotfix"};
  auto on = [&](const char* branch) {
    return reports(g, finished(result::success, {}, {}, "linux", branch));
  };
  EXPECT_TRUE(on("main"));
  EXPECT_TRUE(on("release/1.2"));
  EXPECT_TRUE(on("release/"));
  EXPECT_TRUE(on("v2-hotfix"));
  EXPECT_FALSE(on("mainline"));
  EXPECT_FALSE(on("feature/release/1"));
  EXPECT_FALSE(on("hotfix-v2"));
  EXPECT_FALSE(on(""));
}

TEST(GeneratorFilters, StarMatchesAnyBranchIncludingEmpty) {
  generator_spec g;
  g.branches = {"*"};
  EXPECT_TRUE(reports(g, finished(result::success, {}, {}, "linux", "")));
  EXPECT_TRUE(reports(g, finished(result::success, {}, {}, "linux", "x/y")));
  g.branches = {"a*b*c"};
  EXPECT_TRUE(reports(g, finished(result::success, {}, {}, "linux", "abc")));
  EXPECT_TRUE(reports(g, finished(result::success, {}, {}, "linux", "aXbYbZc")));
  EXPECT_FALSE(reports(g, finished(result::success, {}, {}, "linux", "aXbYcZ")));
}

TEST(GeneratorFilters, AllGivenFiltersMustPass) {
  generator_spec g;
  g.builders = {"linux"};
  g.tags = {"release"};
  g.branches = {"main"};
  const std::vector<std::string> tags = {"release"};
  EXPECT_TRUE(reports(g, finished(result::success, {}, {}, "linux", "main"), tags));
  EXPECT_FALSE(reports(g, finished(result::success, {}, {}, "mac", "main"), tags));
  EXPECT_FALSE(reports(g, finished(result::success, {}, {}, "linux", "dev"), tags));
  EXPECT_FALSE(reports(g, finished(result::success, {}, {}, "linux", "main"), {"other"}));
}

TEST(GeneratorFilters, FiltersAndModesCombine) {
  auto g = only(mode::failing);
  g.builders = {"linux"};
  EXPECT_TRUE(reports(g, finished(result::failure, {}, {}, "linux")));
  EXPECT_FALSE(reports(g, finished(result::success, {}, {}, "linux")));
  EXPECT_FALSE(reports(g, finished(result::failure, {}, {}, "mac")));
}

TEST(GeneratorStart, StartReportedOnlyWithReportStart) {
  generator_spec g;
  EXPECT_EQ(wants(g, started(), {}), std::nullopt);
  g.report_start = true;
  EXPECT_EQ(wants(g, started(), {}), report_kind::started);
  EXPECT_EQ(wants(g, finished(result::success), {}), report_kind::finished);
}

TEST(GeneratorStart, StartIgnoresModesButHonoursFilters) {
  auto g = only(mode::failing);
  g.report_start = true;
  g.builders = {"linux"};
  g.branches = {"release/*"};
  EXPECT_EQ(wants(g, started("linux", "release/1"), {}), report_kind::started);
  EXPECT_EQ(wants(g, started("mac", "release/1"), {}), std::nullopt);
  EXPECT_EQ(wants(g, started("linux", "main"), {}), std::nullopt);
  g.tags = {"ci"};
  const std::vector<std::string> tags = {"ci"};
  EXPECT_EQ(wants(g, started("linux", "release/1"), tags), report_kind::started);
  EXPECT_EQ(wants(g, started("linux", "release/1"), {}), std::nullopt);
}

TEST(GeneratorEvents, OtherEventsAreNeverReported) {
  generator_spec g;
  g.report_start = true;
  std::vector<core::event> others = {core::build_requested{}, core::step_started{},
                                     core::log_appended{},    core::step_finished{},
                                     core::worker_state{}};
  for (auto& e : others) core::header_of(e).builder = "linux";
  for (const auto& e : others) EXPECT_EQ(wants(g, e, {}), std::nullopt) << e.index();
}

TEST(GeneratorStatusDetected, Failure) {
  EXPECT_EQ(status_detected(result::failure, std::nullopt), "new failure");
  EXPECT_EQ(status_detected(result::failure, result::success), "new failure");
  EXPECT_EQ(status_detected(result::failure, result::warnings), "new failure");
  EXPECT_EQ(status_detected(result::failure, result::retry), "new failure");
  EXPECT_EQ(status_detected(result::failure, result::failure), "still failing");
}

TEST(GeneratorStatusDetected, Success) {
  EXPECT_EQ(status_detected(result::success, result::failure), "restored build");
  EXPECT_EQ(status_detected(result::success, result::exception), "restored build");
  EXPECT_EQ(status_detected(result::success, std::nullopt), "passing");
  EXPECT_EQ(status_detected(result::success, result::success), "passing");
  EXPECT_EQ(status_detected(result::success, result::warnings), "passing");
  EXPECT_EQ(status_detected(result::success, result::retry), "passing");
}

TEST(GeneratorStatusDetected, OtherResults) {
  for (auto prev : {std::optional<result>{}, std::optional<result>{result::failure},
                    std::optional<result>{result::success}}) {
    EXPECT_EQ(status_detected(result::warnings, prev), "warnings");
    EXPECT_EQ(status_detected(result::exception, prev), "exception");
    EXPECT_EQ(status_detected(result::cancelled, prev), "cancelled");
    EXPECT_EQ(status_detected(result::skipped, prev), "skipped");
    EXPECT_EQ(status_detected(result::retry, prev), "retry");
  }
}

}  // namespace
}  // namespace herald::notifiers
