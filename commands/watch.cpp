// `watch BUILDER`: tell the asker when the builder's running builds end.
#include <fmt/format.h>

#include "commands/registry.hpp"

namespace herald::commands {

void add_watch_command(registry& r) {
  r.add({"watch", "watch BUILDER",
         "Announces the end of BUILDER's running builds here, whatever this channel's notify settings.",
         config::command_group::harmless,
         [](context& c) {
           if (c.args.size() != 1) throw usage_error();
           const auto& builder = builder_named(c, c.args[0]).name;
           auto running = c.builds.running(builder);
           if (running.empty()) throw user_error(fmt::format("No build of `{}` is running.", builder));
           std::vector<std::string> numbers;
           for (const auto& b : running) {
             c.chat.watch(c.req.where, builder, b.number);
             numbers.push_back(fmt::format("#{}", b.number));
           }
           c.reply(fmt::format("Watching build{} {} of `{}`: I will say here when {} finished.",
                               running.size() > 1 ? "s" : "", fmt::join(numbers, ", "), builder,
                               running.size() > 1 ? "they have" : "it has"));
         },
         {}});
}

}  // namespace herald::commands
