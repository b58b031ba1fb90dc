// `join #chan [key]`, `leave #chan`, `mute`, `unmute`.
#include <fmt/format.h>

#include "commands/registry.hpp"

namespace herald::commands {
namespace {

const std::string& channel_arg(const std::string& word) {
  bool ok = word.size() > 1 && (word[0] == '#' || word[0] == '&') &&
            word.find_first_of(std::string_view(" ,\x07\r\n\0", 6)) == std::string::npos && word.size() <= 64;
  if (!ok) throw user_error(fmt::format("`{}` is not a channel name.", shown(word)));
  return word;
}

}  // namespace

void add_channel_commands(registry& r) {
  r.add({"join", "join #CHANNEL [KEY]", "Makes herald join a channel (and remember it across restarts).",
         config::command_group::dangerous,
         [](context& c) {
           if (c.args.empty() || c.args.size() > 2) throw usage_error();
           const auto& channel = channel_arg(c.args[0]);
           c.chat.join(channel, c.args.size() == 2 ? c.args[1] : "");
           c.reply(fmt::format("Joining {}.", channel));
         },
         {}});
  r.add({"leave", "leave #CHANNEL [REASON...]", "Makes herald leave a channel (and stay out across restarts).",
         config::command_group::dangerous,
         [](context& c) {
           if (c.args.empty()) throw usage_error();
           const auto& channel = channel_arg(c.args[0]);
           std::string reason = "asked to leave by " + c.req.from.nick;
           c.reply(fmt::format("Leaving {}.", channel));
           c.chat.leave(channel, reason);
         },
         {}});
  r.add({"mute", "mute", "Stops announcements here until `unmute`; commands still get replies.",
         config::command_group::channel,
         [](context& c) {
           if (!c.args.empty()) throw usage_error();
           c.chat.set_muted(c.req.where, true);
           c.reply("Muted: no announcements here until `unmute`.");
         },
         {}});
  r.add({"unmute", "unmute", "Resumes announcements here.", config::command_group::channel,
         [](context& c) {
           if (!c.args.empty()) throw usage_error();
           c.chat.set_muted(c.req.where, false);
           c.reply("Unmuted: announcements resume here.");
         },
         {}});
}

}  // namespace herald::commands
