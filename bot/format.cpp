#include "bot/format.hpp"

#include <fmt/format.h>

#include "core/links.hpp"

namespace herald::bot {

std::string build_url(const format_options& o, std::string_view builder, std::int64_t number) {
  return core::build_url(o.url, builder, number);
}

std::string colored_result(const format_options& o, core::result r) {
  if (!o.use_colors) return std::string(core::result_text(r));
  return fmt::format("\x03{:02}{}\x0f", core::result_colour(r), core::result_text(r));
}

std::string started_line(const format_options&, const core::build_started& e) {
  std::string line = fmt::format("Build #{} of `{}` started", e.header.number, e.header.builder);
  if (!e.request.branch.empty()) line += fmt::format(" on branch `{}`", e.request.branch);
  if (!e.request.owner.empty()) line += fmt::format(", requested by {}", e.request.owner);
  line += '.';
  return line;
}

std::string finished_line(const format_options& o, const core::build_finished& e) {
  std::string line = fmt::format("Build #{} of `{}` {}", e.header.number, e.header.builder, colored_result(o, e.outcome));
  if (!e.text.empty()) line += ": " + e.text;
  line += '.';
  if (o.show_revision && (!e.request.branch.empty() || !e.request.revision.empty())) {
    line += " Revision";
    if (!e.request.revision.empty()) line += fmt::format(" {}", e.request.revision.substr(0, 12));
    if (!e.request.branch.empty()) line += fmt::format(" on `{}`", e.request.branch);
    line += '.';
  }
  if (o.show_blame && !e.request.owner.empty()) line += fmt::format(" Blame: {}.", e.request.owner);
  if (auto url = build_url(o, e.header.builder, e.header.number); !url.empty()) line += " " + url;
  return line;
}

std::string worker_line(const core::worker_state& e) {
  std::string line = fmt::format("Worker `{}` is {}", e.worker, e.online ? "online" : "offline");
  if (!e.text.empty()) line += ": " + e.text;
  return line + '.';
}

std::string human_duration(std::chrono::seconds d) {
  auto s = d.count();
  if (s < 0) s = 0;
  auto plural = [](long long n, const char* unit) { return fmt::format("{} {}{}", n, unit, n == 1 ? "" : "s"); };
  if (s < 60) return plural(s, "second");
  if (s < 3600) return plural(s / 60, "minute");
  if (s < 86400) return plural(s / 3600, "hour");
  return plural(s / 86400, "day");
}

namespace {
std::chrono::seconds since(core::time_point then, core::time_point now) {
  return std::chrono::duration_cast<std::chrono::seconds>(now - then);
}
}  // namespace

std::string status_line(const format_options& o, const core::builder_spec& builder,
                        const std::vector<core::build_record>& running, std::size_t pending,
                        const std::optional<core::build_record>& last, core::time_point now) {
  std::string line = fmt::format("`{}`: ", builder.name);
  // A good last build is the estimate for how long this one takes.
  std::optional<std::chrono::seconds> typical;
  if (last && last->outcome && core::is_good(*last->outcome) && last->started_at && last->finished_at)
    typical = since(*last->started_at, *last->finished_at);
  if (!running.empty()) {
    std::vector<std::string> parts;
    for (const auto& b : running) {
      std::vector<std::string> progress;
      if (!b.steps.empty())
        progress.push_back(fmt::format("step {}/{} `{}`", b.steps.size(), builder.steps.size(), b.steps.back().name));
      if (b.started_at) {
        auto elapsed = since(*b.started_at, now);
        progress.push_back(fmt::format("{} so far", human_duration(elapsed)));
        if (typical && *typical > elapsed) progress.push_back(fmt::format("about {} left", human_duration(*typical - elapsed)));
      }
      parts.push_back(fmt::format("running build #{} ({})", b.number, fmt::join(progress, ", ")));
    }
    line += fmt::format("{}", fmt::join(parts, ", "));
  } else {
    line += "idle";
  }
  if (pending) line += fmt::format(", {} pending", pending);
  if (last && last->outcome && last->finished_at)
    line += fmt::format(", last build #{} {} ago, {}", last->number, human_duration(since(*last->finished_at, now)),
                        colored_result(o, *last->outcome));
  else if (running.empty())
    line += ", no builds yet";
  return line;
}

std::string last_line(const format_options& o, std::string_view builder,
                      const std::optional<core::build_record>& last, core::time_point now) {
  if (!last || !last->outcome || !last->finished_at) return fmt::format("`{}` has no finished builds yet.", builder);
  std::string line = fmt::format("Last build of `{}`: #{} {}", builder, last->number, colored_result(o, *last->outcome));
  if (!last->text.empty()) line += ": " + last->text;
  line += fmt::format(", {} ago", human_duration(since(*last->finished_at, now)));
  if (last->started_at)
    line += fmt::format(", took {}", human_duration(since(*last->started_at, *last->finished_at)));
  line += '.';
  if (auto url = build_url(o, builder, last->number); !url.empty()) line += " " + url;
  return line;
}

}  // namespace herald::bot
