// `stop build BUILDER [REASON...]`
#include <fmt/format.h>

#include "commands/registry.hpp"

namespace herald::commands {

void add_stop_command(registry& r) {
  r.add({"stop", "stop build BUILDER [REASON...]", "Stops the running and queued builds of BUILDER.",
         config::command_group::dangerous, [](context& c) {
           auto& a = c.args;
           if (a.size() < 2 || a[0] != "build") throw usage_error();
           const auto& builder = builder_named(c, a[1]).name;
           std::string reason;
           for (std::size_t i = 2; i < a.size(); ++i) reason += (reason.empty() ? "" : " ") + a[i];
           std::string why = "stopped by " + c.req.from.nick + (reason.empty() ? "" : ": " + reason);
           auto stopped = c.builds.stop(builder, why);
           if (stopped.empty()) {
             c.reply(fmt::format("No build of `{}` is running.", builder));
             return;
           }
           std::vector<std::string> numbers;
           for (auto n : stopped) numbers.push_back(fmt::format("#{}", n));
           c.reply(fmt::format("Stop requested for build{} {} of `{}`.", stopped.size() > 1 ? "s" : "",
                               fmt::join(numbers, ", "), builder));
         },
         {{"build", "stop build BUILDER [REASON...]",
           "Running builds end as CANCELLED (SIGTERM to their processes, SIGKILL after the grace period); queued "
           "ones never start."}}});
}

}  // namespace herald::commands
