// The event feed's vocabulary: every state change is one plain struct in a variant,
// so a new event fails to compile wherever it is not handled.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "core/build.hpp"

namespace herald::core {

// What every event carries. `seq` and `time` are set by the feed on publish.
struct event_header {
  std::uint64_t seq = 0;
  std::string builder;
  std::int64_t number = 0;
  time_point time{};
};

struct build_requested {
  event_header header;
  build_request request;
};

struct build_started {
  event_header header;
  build_request request;
};

struct step_started {
  event_header header;
  int step = 0;
  std::string name;
};

enum class log_stream : std::uint8_t { output, header };

struct log_appended {
  event_header header;
  int step = 0;
  log_stream stream = log_stream::output;
  std::string text;
};

struct step_finished {
  event_header header;
  int step = 0;
  std::string name;
  result outcome = result::success;
  std::string text;
};

struct build_finished {
  event_header header;
  build_request request;
  result outcome = result::success;
  std::string text;
  // The previous finished (non-RETRY) build of the same builder on the same
  // branch, and builder-wide; consumers pick the rule they are configured for.
  std::optional<result> previous_on_branch;
  std::optional<result> previous_on_builder;
  std::optional<time_point> started_at;
};

// A worker (a place builds run; today the master's local runner) came or went.
struct worker_state {
  event_header header;  // builder empty, number 0
  std::string worker;
  bool online = true;
  std::string text;  // why: "herald is shutting down"
};

using event = std::variant<build_requested, build_started, step_started, log_appended,
                           step_finished, build_finished, worker_state>;

inline const event_header& header_of(const event& e) {
  return std::visit([](const auto& x) -> const event_header& { return x.header; }, e);
}
inline event_header& header_of(event& e) {
  return std::visit([](auto& x) -> event_header& { return x.header; }, e);
}

}  // namespace herald::core
