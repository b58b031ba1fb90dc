// `status [BUILDER|all]` and `last [BUILDER|all]`.
#include <fmt/format.h>

#include "bot/format.hpp"
#include "commands/registry.hpp"

namespace herald::commands {
namespace {

// The builders a `status`/`last` argument names: none or "all" means every one.
std::vector<std::string> selected(const context& c) {
  if (c.args.size() > 1) throw usage_error();
  std::vector<std::string> out;
  if (c.args.empty() || c.args[0] == "all") {
    for (const auto& b : c.builds.builders()) out.push_back(b.name);
    return out;
  }
  out.push_back(builder_named(c, c.args[0]).name);
  return out;
}

}  // namespace

void add_status_commands(registry& r) {
  r.add({"status", "status [BUILDER|all]",
         "Shows what builders are doing (running builds with their step and progress) and how their last build ended.",
         config::command_group::harmless,
         [](context& c) {
           auto now = core::clock::now();
           for (const auto& name : selected(c)) {
             const auto* spec = c.builds.find_builder(name);
             c.reply(bot::status_line(c.chat.format(), *spec, c.builds.running(name), c.builds.pending(name).size(),
                                      c.builds.last_finished(name), now));
           }
         },
         {}});
  r.add({"last", "last [BUILDER|all]", "Shows the last finished build of a builder.", config::command_group::harmless,
         [](context& c) {
           auto now = core::clock::now();
           for (const auto& name : selected(c))
             c.reply(bot::last_line(c.chat.format(), name, c.builds.last_finished(name), now));
         },
         {}});
}

}  // namespace herald::commands
