#include "core/result.hpp"

#include <gtest/gtest.h>

#include "core/transitions.hpp"

namespace herald::core {
namespace {

TEST(Result, NamesTextAndColours) {
  EXPECT_EQ(result_name(result::success), "SUCCESS");
  EXPECT_EQ(result_text(result::failure), "failed");
  EXPECT_EQ(result_text(result::cancelled), "was cancelled");
  EXPECT_EQ(result_colour(result::warnings), 8);
  EXPECT_EQ(result_colour(result::exception), 6);
}

TEST(Result, ParsesAnyCase) {
  EXPECT_EQ(parse_result("failure"), result::failure);
  EXPECT_EQ(parse_result("RETRY"), result::retry);
  EXPECT_FALSE(parse_result("broken"));
}

TEST(Result, SeverityOrderFollowsDesign) {
  // SKIPPED < SUCCESS < WARNINGS < FAILURE < CANCELLED < EXCEPTION
  const result order[] = {result::skipped, result::success, result::warnings,
                          result::failure, result::cancelled, result::exception};
  for (std::size_t i = 1; i < std::size(order); ++i) {
    EXPECT_TRUE(is_worse(order[i], order[i - 1])) << result_name(order[i]);
    EXPECT_TRUE(is_better(order[i - 1], order[i]));
  }
  EXPECT_FALSE(severity(result::retry));
  EXPECT_FALSE(is_worse(result::retry, result::success));
  EXPECT_FALSE(is_better(result::success, result::retry));
}

TEST(Transitions, FirstBuildHasNoTransition) {
  EXPECT_EQ(finished_events(result::failure, std::nullopt), (std::vector<std::string>{"finished", "failure"}));
}

TEST(Transitions, SuccessToFailureIsAProblem) {
  EXPECT_EQ(finished_events(result::failure, result::success),
            (std::vector<std::string>{"finished", "failure", "problem", "worse", "successToFailure"}));
}

TEST(Transitions, FailureToSuccessIsARecovery) {
  EXPECT_EQ(finished_events(result::success, result::failure),
            (std::vector<std::string>{"finished", "success", "recovery", "better", "failureToSuccess"}));
}

TEST(Transitions, SameResultOnlyFinishedAndWord) {
  EXPECT_EQ(finished_events(result::success, result::success), (std::vector<std::string>{"finished", "success"}));
}

TEST(Transitions, RetryPreviousCountsAsNone) {
  EXPECT_EQ(finished_events(result::failure, result::retry), (std::vector<std::string>{"finished", "failure"}));
}

TEST(Transitions, CancelledIsWorseButNoProblem) {
  EXPECT_EQ(finished_events(result::cancelled, result::success),
            (std::vector<std::string>{"finished", "cancelled", "worse"}));
}

TEST(Transitions, EventNamesAreCanonicalAndCaseInsensitive) {
  EXPECT_EQ(canonical_notify_event("SUCCESSTOFAILURE"), "successToFailure");
  EXPECT_EQ(canonical_notify_event("Started"), "started");
  EXPECT_FALSE(canonical_notify_event("successToSuccess"));
  EXPECT_FALSE(canonical_notify_event("bogus"));
  EXPECT_EQ(notify_event_names().size(), 12u + 12u);
}

}  // namespace
}  // namespace herald::core
