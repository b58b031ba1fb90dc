// What a reporter knows about one build when it reports it: the facts the
// templates see and the senders turn into requests. Built from feed events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/build.hpp"
#include "core/result.hpp"
#include "notifiers/generator.hpp"

namespace herald::notifiers {

struct step_report {
  int index = 0;
  std::string name;
  std::optional<core::result> outcome;  // none: not finished (a started report, or never ran)
  std::string text;                     // "exit 2", "timed out after 30 s"
  std::optional<core::seconds> duration;
};

struct log_report {
  std::string step;    // step name
  std::string text;    // the step's output, its tail when longer than the cap
  bool truncated = false;
};

struct report {
  report_kind kind = report_kind::finished;
  std::uint64_t seq = 0;     // the feed seq of the event reported: orders reports of one build
  std::string title;         // [herald] title
  std::string builder;
  std::vector<std::string> tags;
  std::int64_t number = 0;
  core::build_request request;  // branch, revision, codebase, reason, owner, props
  std::optional<core::result> outcome;   // finished reports only
  std::string text;                      // why it ended so
  std::optional<core::result> previous;  // per the reporter's "previous build" rule
  std::string status_detected;           // "new failure", "restored build", ... (finished only)
  std::vector<std::string> blame;        // who is responsible: the owner today
  std::vector<step_report> steps;
  std::string failed_step;               // the first failed step's name; empty: none
  std::string log_excerpt;               // last lines of the failed (else last) step's log
  std::vector<log_report> logs;          // every step's log, tail-capped
  std::string build_url, builder_url;    // empty when [herald] url is not set
  std::optional<core::time_point> started_at, finished_at;
};

}  // namespace herald::notifiers
