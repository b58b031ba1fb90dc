// `notify on|off|list [EVENT...]`: this channel's (or this private chat's) subscriptions.
#include <fmt/format.h>

#include <algorithm>

#include "commands/registry.hpp"
#include "core/transitions.hpp"

namespace herald::commands {
namespace {

void show(const context& c) {
  auto events = c.chat.notify_events(c.req.where);
  if (events.empty()) c.reply("No events are being notified.");
  else c.reply(fmt::format("The following events are being notified: {}.", fmt::join(events, ", ")));
}

}  // namespace

void add_notify_command(registry& r) {
  r.add({"notify", "notify on|off|on-quiet|off-quiet|list [EVENT...]",
         "Chooses which build events are announced here. Events: started, finished, success, warnings, failure, "
         "exception, cancelled, problem, recovery, worse, better, worker, and xToY such as successToFailure.",
         config::command_group::channel, [](context& c) {
           if (c.args.empty()) throw usage_error();
           const auto& action = c.args[0];
           if (action == "list") {
             if (c.args.size() > 1) throw usage_error();
             show(c);
             return;
           }
           bool quiet = action.ends_with("-quiet");
           auto verb = quiet ? action.substr(0, action.size() - 6) : action;
           if (verb != "on" && verb != "off") throw usage_error();
           std::vector<std::string> names;
           for (std::size_t i = 1; i < c.args.size(); ++i) {
             auto name = core::canonical_notify_event(c.args[i]);
             if (!name)
               throw user_error(fmt::format("Unknown event `{}`. Valid events: {}.", shown(c.args[i]),
                                            fmt::join(core::notify_event_names(), ", ")));
             names.push_back(*name);
           }
           auto current = c.chat.notify_events(c.req.where);
           if (verb == "on") {
             if (names.empty()) names = {"started", "finished"};
             for (auto& n : names)
               if (std::ranges::find(current, n) == current.end()) current.push_back(n);
           } else if (names.empty()) {
             current.clear();
           } else {
             std::erase_if(current, [&](const std::string& e) { return std::ranges::find(names, e) != names.end(); });
           }
           c.chat.set_notify_events(c.req.where, std::move(current));
           if (!quiet) show(c);
         },
         {{"on", "notify on [EVENT...]", "Adds events (started and finished when none is given)."},
          {"off", "notify off [EVENT...]", "Removes events (all when none is given)."},
          {"on-quiet", "notify on-quiet [EVENT...]", "Like `notify on`, without the confirmation."},
          {"off-quiet", "notify off-quiet [EVENT...]", "Like `notify off`, without the confirmation."},
          {"list", "notify list", "Shows the events announced here."}}});
}

}  // namespace herald::commands
