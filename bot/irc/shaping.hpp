// What the writer does to outgoing text at send time, as pure functions: strip mIRC
// formatting for channels with mode +c, and combine a burst of waiting notifications
// for one target into fewer lines.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace herald::bot::irc {

// Removes bold \x02, colour \x03[N[N]][,N[N]], hex colour \x04[RRGGBB[,RRGGBB]], reset
// \x0f, reverse \x16, italics \x1d, underline \x1f, strikethrough \x1e and monospace \x11.
std::string strip_formatting(std::string_view text);

inline constexpr std::string_view burst_separator = " \xC2\xB7 ";  // " · "

// One line waiting in a queue, as the burst planner sees it.
struct burst_candidate {
  std::string_view target;  // compared exactly (the client gives the sanitized target)
  std::string_view command;
  std::string_view text;
  bool combinable = false;  // a whole one-line notification
};

// Which waiting lines to send as one, starting with queue[0]: queue[0] plus later lines
// for the same target and command, in order, while each is combinable and the joined
// text fits `budget` bytes. Stops at the first line for that target that cannot join, so
// the target's order is kept. Returns the indices (always at least {0} for a non-empty
// queue); lines for other targets are skipped over, not taken.
std::vector<std::size_t> plan_burst(const std::vector<burst_candidate>& queue, std::size_t budget,
                                    std::size_t max_scan = 200);

// The texts joined with burst_separator.
std::string join_burst(const std::vector<std::string_view>& texts);

}  // namespace herald::bot::irc
