// Build and step results: names, chat wording, colours and severity order.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace herald::core {

enum class result : std::uint8_t { success, warnings, failure, skipped, exception, retry, cancelled };

inline constexpr result all_results[] = {result::success,   result::warnings, result::failure,
                                         result::skipped,   result::exception, result::retry,
                                         result::cancelled};

// "SUCCESS", "FAILURE", ...
std::string_view result_name(result r) noexcept;
// Lower-case event word: "success", "failure", ...
std::string_view result_word(result r) noexcept;
// Buildbot's wording: "completed successfully", "failed", ...
std::string_view result_text(result r) noexcept;
// mIRC colour number for the result.
int result_colour(result r) noexcept;
// Case-insensitive; accepts "SUCCESS" and "success".
std::optional<result> parse_result(std::string_view s) noexcept;

// Severity order SKIPPED < SUCCESS < WARNINGS < FAILURE < CANCELLED < EXCEPTION.
// RETRY is outside the ordering and has no severity.
std::optional<int> severity(result r) noexcept;
// Good results are SUCCESS and WARNINGS... and SKIPPED: nothing went wrong.
bool is_good(result r) noexcept;
// True when `now` is more severe than `before`; false when either is RETRY.
bool is_worse(result now, result before) noexcept;
bool is_better(result now, result before) noexcept;

}  // namespace herald::core
