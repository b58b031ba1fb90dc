// `version`, `source` and `list builders`.
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
  r.add({"version", "version", "Shows herald's version.", nullptr, [](context& c) {
           if (!c.args.empty()) throw usage_error();
           c.reply("herald " HERALD_VERSION);
         }});
  r.add({"source", "source", "Tells where herald's source code lives.", nullptr, [](context& c) {
           if (!c.args.empty()) throw usage_error();
           c.reply("My source can be found at " HERALD_SOURCE_URL);
         }});
  r.add({"list", "list builders", "Lists the configured builders.", nullptr, [](context& c) {
           if (c.args.size() != 1 || c.args[0] != "builders") throw usage_error();
           std::vector<std::string> names;
           for (const auto& b : c.builds.builders()) names.push_back(b.name);
           c.reply(fmt::format("Configured builders: {}.", fmt::join(names, ", ")));
         }});
}

}  // namespace herald::commands
