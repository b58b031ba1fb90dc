// Message shaping: the sentences herald says, close to Buildbot's wording.
// Every line names the builder, the build number and the result word.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/build.hpp"
#include "core/builder.hpp"
#include "core/event.hpp"

namespace herald::bot {

struct format_options {
  std::string url;             // base URL for links; empty: no links
  bool use_colors = false;     // mIRC colour on result words
  bool show_blame = false;     // who asked for the build, in finished lines
  bool show_revision = false;  // branch and revision, in finished lines
};

std::string build_url(const format_options& o, std::string_view builder, std::int64_t number);
std::string colored_result(const format_options& o, core::result r);

std::string started_line(const format_options& o, const core::build_started& e);
std::string finished_line(const format_options& o, const core::build_finished& e);
std::string worker_line(const core::worker_state& e);

// "5 seconds", "3 minutes", "2 hours", "1 day"
std::string human_duration(std::chrono::seconds d);
// `quick`: idle, last build #3 5 minutes ago, failed
// `slow`: running build #4 (step 1/2 `sleep`, 5 seconds so far, about 25 seconds left)
std::string status_line(const format_options& o, const core::builder_spec& builder,
                        const std::vector<core::build_record>& running, std::size_t pending,
                        const std::optional<core::build_record>& last, core::time_point now);
std::string last_line(const format_options& o, std::string_view builder,
                      const std::optional<core::build_record>& last, core::time_point now);

}  // namespace herald::bot
