// `version` and `source`.
#include <fmt/format.h>

#include "commands/registry.hpp"

#ifndef HERALD_VERSION
#define HERALD_VERSION "0.0.0"
#endif
#ifndef HERALD_SOURCE_URL
#define HERALD_SOURCE_URL ""
#endif

namespace herald::commands {

void add_info_commands(registry& r) {
  r.add({"version", "version", "Shows herald's version.", config::command_group::harmless,
         [](context& c) {
           if (!c.args.empty()) throw usage_error();
           c.reply("herald " HERALD_VERSION);
         },
         {}});
  r.add({"source", "source", "Tells where herald's source code lives.", config::command_group::harmless,
         [](context& c) {
           if (!c.args.empty()) throw usage_error();
           c.reply("My source can be found at " HERALD_SOURCE_URL);
         },
         {}});
}

}  // namespace herald::commands
