// Plain data about builds: what was requested, and what a build and its steps became.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace herald::core {

using clock = std::chrono::system_clock;
using time_point = clock::time_point;

using properties = std::map<std::string, std::string>;

struct build_request {
  std::string builder;
  std::string branch;
  std::string revision;
  std::string codebase;
  std::string reason;
  std::string owner;
  properties props;
};

enum class build_state : std::uint8_t { pending, running, finished };

struct step_record {
  int index = 0;
  std::string name;
  build_state state = build_state::pending;
  std::optional<result> outcome;
  std::string text;  // short description: "exit 2", "timed out after 30 s"
  std::optional<time_point> started_at;
  std::optional<time_point> finished_at;
};

struct build_record {
  build_request request;
  std::int64_t number = 0;
  build_state state = build_state::pending;
  std::optional<result> outcome;
  std::string text;  // why it ended so: "interrupted by restart", "stopped by alice: ..."
  time_point requested_at{};
  std::optional<time_point> started_at;
  std::optional<time_point> finished_at;
  std::vector<step_record> steps;
};

// What a builder's past tells the build master after a restart.
struct builder_history {
  std::int64_t last_number = 0;
  std::optional<build_record> last_finished;
  // Result of the latest finished non-RETRY build, per branch and builder-wide.
  std::map<std::string, result> last_result_by_branch;
  std::optional<result> last_result;
};

}  // namespace herald::core
