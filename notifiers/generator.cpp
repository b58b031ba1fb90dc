#include "notifiers/generator.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace herald::notifiers {
namespace {

using core::result;

// '*' matches any run of characters, everything else itself; branch names are case-sensitive.
bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// RETRY builds never count as the previous build.
std::optional<result> usable(std::optional<result> previous) {
  if (previous == result::retry) return std::nullopt;
  return previous;
}

bool passes_filters(const generator_spec& g, const std::string& builder, const std::string& branch,
                    std::span<const std::string> builder_tags) {
  if (!g.builders.empty() && std::ranges::find(g.builders, builder) == g.builders.end())
    return false;
  if (!g.tags.empty() && std::ranges::none_of(builder_tags, [&](const std::string& t) {
        return std::ranges::find(g.tags, t) != g.tags.end();
      }))
    return false;
  if (!g.branches.empty() && std::ranges::none_of(g.branches, [&](const std::string& b) {
        return glob_match(b, branch);
      }))
    return false;
  return true;
}

bool mode_matches(mode m, result now, std::optional<result> previous) {
  if (m == mode::all) return true;
  if (now == result::retry) return false;  // a retried build is reported only in mode all
  switch (m) {
    case mode::failing: return now == result::failure;
    case mode::passing: return now == result::success;
    case mode::warnings: return now == result::warnings;
    case mode::exception: return now == result::exception;
    case mode::cancelled: return now == result::cancelled;
    case mode::change: return previous && *previous != now;
    case mode::problem: return now == result::failure && previous != result::failure;
    case mode::all: return true;
  }
  return false;
}

}  // namespace

std::optional<report_kind> wants(const generator_spec& g, const core::event& e,
                                 std::span<const std::string> builder_tags) {
  if (const auto* s = std::get_if<core::build_started>(&e)) {
    if (g.report_start && passes_filters(g, s->header.builder, s->request.branch, builder_tags))
      return report_kind::started;
    return std::nullopt;
  }
  if (const auto* f = std::get_if<core::build_finished>(&e)) {
    if (!passes_filters(g, f->header.builder, f->request.branch, builder_tags)) return std::nullopt;
    auto previous = usable(g.previous_builder_wide ? f->previous_on_builder : f->previous_on_branch);
    if (std::ranges::any_of(g.modes, [&](mode m) { return mode_matches(m, f->outcome, previous); }))
      return report_kind::finished;
  }
  return std::nullopt;
}

std::string status_detected(result now, std::optional<result> previous) {
  previous = usable(previous);
  switch (now) {
    case result::failure: return previous == result::failure ? "still failing" : "new failure";
    case result::success:
      return previous == result::failure || previous == result::exception ? "restored build"
                                                                          : "passing";
    case result::warnings: return "warnings";
    case result::exception: return "exception";
    case result::cancelled: return "cancelled";
    case result::skipped: return "skipped";
    case result::retry: return "retry";
  }
  return std::string(core::result_word(now));
}

}  // namespace herald::notifiers
