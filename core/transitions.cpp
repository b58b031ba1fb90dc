#include "core/transitions.hpp"

#include <algorithm>
#include <cctype>

namespace herald::core {
namespace {

constexpr result transition_results[] = {result::success, result::warnings, result::failure,
                                         result::exception};

std::string capitalized(std::string_view w) {
  std::string s(w);
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

std::string transition_name(result from, result to) {
  return std::string(result_word(from)) + "To" + capitalized(result_word(to));
}

std::vector<std::string> make_names() {
  std::vector<std::string> names = {"started",   "finished", "success", "warnings",
                                    "failure",   "exception", "cancelled", "problem",
                                    "recovery",  "worse",    "better",   "worker"};
  for (auto from : transition_results)
    for (auto to : transition_results)
      if (from != to) names.push_back(transition_name(from, to));
  return names;
}

bool bad(result r) { return r == result::failure || r == result::exception; }
bool good(result r) { return r == result::success || r == result::warnings; }

bool in_transitions(result r) {
  return std::ranges::find(transition_results, r) != std::end(transition_results);
}

}  // namespace

std::span<const std::string> notify_event_names() {
  static const std::vector<std::string> names = make_names();
  return names;
}

std::optional<std::string> canonical_notify_event(std::string_view name) {
  for (const auto& n : notify_event_names())
    if (std::ranges::equal(n, name, [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return n;
  return std::nullopt;
}

std::vector<std::string> finished_events(result now, std::optional<result> previous) {
  std::vector<std::string> out = {"finished"};
  if (now != result::retry && now != result::skipped) out.emplace_back(result_word(now));
  if (!previous || *previous == result::retry) return out;
  if (good(*previous) && bad(now)) out.emplace_back("problem");
  if (bad(*previous) && good(now)) out.emplace_back("recovery");
  if (is_worse(now, *previous)) out.emplace_back("worse");
  if (is_better(now, *previous)) out.emplace_back("better");
  if (*previous != now && in_transitions(*previous) && in_transitions(now))
    out.push_back(transition_name(*previous, now));
  return out;
}

}  // namespace herald::core
