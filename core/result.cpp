// Result vocabulary, kept in one table so names, wording and colours agree.
#include "core/result.hpp"

#include <algorithm>
#include <cctype>

namespace herald::core {
namespace {

struct result_info {
  result value;
  std::string_view name;
  std::string_view word;
  std::string_view text;
  int colour;
  int severity;  // -1: outside the ordering
};

constexpr result_info table[] = {
    {result::success, "SUCCESS", "success", "completed successfully", 3, 1},
    {result::warnings, "WARNINGS", "warnings", "completed with warnings", 8, 2},
    {result::failure, "FAILURE", "failure", "failed", 4, 3},
    {result::skipped, "SKIPPED", "skipped", "was skipped", 12, 0},
    {result::exception, "EXCEPTION", "exception", "stopped with exception", 6, 5},
    {result::retry, "RETRY", "retry", "has been retried", 11, -1},
    {result::cancelled, "CANCELLED", "cancelled", "was cancelled", 13, 4},
};

const result_info& info(result r) noexcept { return table[static_cast<std::size_t>(r)]; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

std::string_view result_name(result r) noexcept { return info(r).name; }
std::string_view result_word(result r) noexcept { return info(r).word; }
std::string_view result_text(result r) noexcept { return info(r).text; }
int result_colour(result r) noexcept { return info(r).colour; }

std::optional<result> parse_result(std::string_view s) noexcept {
  for (const auto& i : table)
    if (iequals(i.name, s)) return i.value;
  return std::nullopt;
}

std::optional<int> severity(result r) noexcept {
  if (info(r).severity < 0) return std::nullopt;
  return info(r).severity;
}

bool is_good(result r) noexcept {
  return r == result::success || r == result::warnings || r == result::skipped;
}

bool is_worse(result now, result before) noexcept {
  auto a = severity(now);
  auto b = severity(before);
  return a && b && *a > *b;
}

bool is_better(result now, result before) noexcept {
  auto a = severity(now);
  auto b = severity(before);
  return a && b && *a < *b;
}

}  // namespace herald::core
