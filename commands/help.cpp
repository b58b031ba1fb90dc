// `help [command]` and `commands`: both read the registry.
#include <fmt/format.h>

#include "commands/registry.hpp"

namespace herald::commands {

void add_help_commands(registry& r) {
  r.add({"help", "help [COMMAND]", "Shows how to use a command, or lists them all.", nullptr, [](context& c) {
           if (c.args.size() > 1) throw usage_error();
           if (c.args.empty()) {
             c.reply("Usage: help COMMAND. Try `commands` for the list of commands.");
             return;
           }
           const command* cmd = c.commands.find(c.args[0]);
           if (!cmd) throw user_error(fmt::format("No such command `{}`. Try `commands`.", c.args[0].substr(0, 40)));
           c.reply("Usage: " + cmd->synopsis);
           c.reply(cmd->help + (cmd->authz ? " (needs permission)" : ""));
         }});
  r.add({"commands", "commands", "Lists the commands herald understands.", nullptr, [](context& c) {
           std::vector<std::string> names;
           for (const auto& [name, cmd] : c.commands.all()) names.push_back(name);
           c.reply(fmt::format("Commands: {}.", fmt::join(names, ", ")));
         }});
}

}  // namespace herald::commands
