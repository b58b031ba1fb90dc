// `shutdown check|start|stop|now`
#include <fmt/format.h>

#include "commands/registry.hpp"

namespace herald::commands {

void add_shutdown_command(registry& r) {
  r.add({"shutdown", "shutdown check|start|stop|now",
         "Stops herald: `start` waits for running builds and refuses new ones, `stop` cancels that, `now` "
         "interrupts running builds, `check` tells what is going on.",
         config::command_group::dangerous,
         [](context& c) {
           if (c.args.size() != 1) throw usage_error();
           const auto& what = c.args[0];
           auto running = c.builds.running_count();
           auto builds_text = fmt::format("{} running build{}", running, running == 1 ? "" : "s");
           auto who = "requested by " + c.req.from.nick;
           if (what == "check") {
             switch (c.builds.shutdown_status()) {
               case builds::shutdown_state::none: c.reply("No shutdown is in progress."); break;
               case builds::shutdown_state::clean:
                 c.reply(fmt::format("Clean shutdown in progress: waiting for {}.", builds_text));
                 break;
               case builds::shutdown_state::immediate: c.reply("Shutting down now."); break;
             }
           } else if (what == "start") {
             if (c.builds.shutdown_status() != builds::shutdown_state::none)
               throw user_error("A shutdown is already in progress. Try `shutdown check`.");
             c.reply(fmt::format("Clean shutdown started: herald stops once {} finish{}; new builds are refused.",
                                 builds_text, running == 1 ? "es" : ""));
             c.builds.request_shutdown(builds::shutdown_state::clean, who);
           } else if (what == "stop") {
             if (!c.builds.cancel_shutdown()) throw user_error("No clean shutdown to cancel.");
             c.reply("Clean shutdown cancelled: builds are accepted again.");
           } else if (what == "now") {
             c.reply(fmt::format("Shutting down now, interrupting {}.", builds_text));
             c.builds.request_shutdown(builds::shutdown_state::immediate, who);
           } else {
             throw usage_error();
           }
         },
         {{"check", "shutdown check", "Tells whether a shutdown is in progress."},
          {"start", "shutdown start", "Refuses new builds and stops herald once the running builds have finished."},
          {"stop", "shutdown stop", "Cancels a clean shutdown that is waiting for builds."},
          {"now", "shutdown now", "Interrupts running builds (EXCEPTION) and stops herald."}}});
}

}  // namespace herald::commands
