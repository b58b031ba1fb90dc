// Which chat notify events a build triggers, from its result and the previous one.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace herald::core {

// Every notify event name, in the order `help notify` lists them.
std::span<const std::string> notify_event_names();
// Case-insensitive lookup; returns the canonical spelling ("successToFailure").
std::optional<std::string> canonical_notify_event(std::string_view name);

// The events a finished build triggers: "finished", its result word, and the
// transitions against `previous` (problem, recovery, worse, better, xToY).
std::vector<std::string> finished_events(result now, std::optional<result> previous);

}  // namespace herald::core
