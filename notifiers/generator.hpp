// Generators: which build events a push reporter reports (issue 4, item 1).
// Pure decisions on core events; senders and formatters build on these.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "core/reporter.hpp"
#include "core/result.hpp"

namespace herald::notifiers {

using mode = core::report_mode;
using generator_spec = core::generator_spec;

// "failing", "passing", ..., "all"; case-insensitive.
inline std::optional<mode> parse_mode(std::string_view s) { return core::parse_report_mode(s); }

enum class report_kind { started, finished };

// Whether this reporter reports `e`: build_started (only when report_start) or
// build_finished matching the modes and filters; every other event: nullopt.
// `builder_tags` are the tags of the event's builder.
std::optional<report_kind> wants(const generator_spec& g, const core::event& e,
                                 std::span<const std::string> builder_tags);

// Buildbot-style wording: "new failure", "still failing", "restored build",
// "passing", "warnings", "exception", "cancelled", "skipped", "retry".
// A RETRY previous counts as no previous build.
std::string status_detected(core::result now, std::optional<core::result> previous);

}  // namespace herald::notifiers
