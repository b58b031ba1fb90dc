// `help [COMMAND [SUBCOMMAND]]` and `commands`: both read the registry.
#include <fmt/format.h>

#include "commands/registry.hpp"

namespace herald::commands {

void add_help_commands(registry& r) {
  r.add({"help", "help [COMMAND [SUBCOMMAND]]", "Shows how to use a command, or one of its subcommands.",
         config::command_group::harmless, [](context& c) {
           if (c.args.size() > 2) throw usage_error();
           if (c.args.empty()) {
             c.reply("Usage: help COMMAND [SUBCOMMAND]. Try `commands` for the list of commands.");
             return;
           }
           const command* cmd = c.commands.find(c.args[0]);
           if (!cmd) throw user_error(fmt::format("No such command `{}`. Try `commands`.", shown(c.args[0])));
           if (c.args.size() == 2) {
             for (const auto& sub : cmd->subcommands)
               if (sub.name == c.args[1]) {
                 c.reply("Usage: " + sub.synopsis);
                 c.reply(sub.help);
                 return;
               }
             std::vector<std::string> names;
             for (const auto& sub : cmd->subcommands) names.push_back(sub.name);
             throw user_error(names.empty()
                                  ? fmt::format("`{}` has no subcommands.", cmd->name)
                                  : fmt::format("`{}` has no subcommand `{}`. Subcommands: {}.", cmd->name,
                                                shown(c.args[1]), fmt::join(names, ", ")));
           }
           c.reply("Usage: " + cmd->synopsis);
           std::string who;
           switch (cmd->group) {
             case config::command_group::dangerous: who = " Needs permission ([authz] " + cmd->name + ")."; break;
             case config::command_group::channel: who = " In a channel, needs permission (channel operators by default)."; break;
             case config::command_group::harmless: break;
           }
           c.reply(cmd->help + who);
         },
         {}});
  r.add({"commands", "commands", "Lists the commands herald understands.", config::command_group::harmless,
         [](context& c) {
           std::vector<std::string> names;
           for (const auto& [name, cmd] : c.commands.all()) names.push_back(name);
           c.reply(fmt::format("Commands: {}.", fmt::join(names, ", ")));
         },
         {}});
}

}  // namespace herald::commands
