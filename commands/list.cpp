// `list [all|N] builders|workers`
#include <fmt/format.h>

#include <charconv>

#include "commands/registry.hpp"

namespace herald::commands {

void add_list_command(registry& r) {
  r.add({"list", "list [all|N] builders|workers", "Lists the configured builders, or the workers builds run on.",
         config::command_group::harmless,
         [](context& c) {
           auto& a = c.args;
           std::size_t limit = std::numeric_limits<std::size_t>::max();
           if (a.size() == 2) {
             if (a[0] != "all") {
               auto [end, ec] = std::from_chars(a[0].data(), a[0].data() + a[0].size(), limit);
               if (ec != std::errc{} || end != a[0].data() + a[0].size() || limit == 0) throw usage_error();
             }
           } else if (a.size() != 1) {
             throw usage_error();
           }
           const auto& what = a.back();
           if (what == "builders") {
             std::vector<std::string> names;
             for (const auto& b : c.builds.builders()) {
               if (names.size() == limit) break;
               names.push_back(b.tags.empty() ? b.name : fmt::format("{} [{}]", b.name, fmt::join(b.tags, ", ")));
             }
             auto total = c.builds.builders().size();
             c.reply(fmt::format("Configured builders: {}.{}", fmt::join(names, ", "),
                                 names.size() < total ? fmt::format(" ({} of {})", names.size(), total) : ""));
           } else if (what == "workers") {
             for (const auto& w : c.builds.workers()) {
               std::vector<std::string> busy;
               for (const auto& [builder, number] : w.busy) busy.push_back(fmt::format("`{}` #{}", builder, number));
               c.reply(fmt::format("Worker `{}`: {}, {} slot{}, {} busy{}{}", w.name, w.online ? "online" : "offline",
                                   w.slots, w.slots == 1 ? "" : "s", busy.size(), busy.empty() ? "" : ": ",
                                   fmt::join(busy, ", ")));
             }
           } else {
             throw usage_error();
           }
         },
         {{"builders", "list [all|N] builders", "Lists the configured builders (at most N), with their tags."},
          {"workers", "list [all|N] workers", "Lists the workers builds run on, their slots and what runs there."}}});
}

}  // namespace herald::commands
