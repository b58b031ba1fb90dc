// `force build [--branch=B] [--revision=R] [--props=k=v,...] BUILDER [REASON...]`
#include <fmt/format.h>

#include "commands/registry.hpp"

namespace herald::commands {
namespace {

// "k=v,k2=v2"; a backslash escapes ',' or '=' inside a value.
core::properties parse_props(std::string_view text) {
  core::properties out;
  std::string key, value, *cur = &key;
  bool seen_eq = false;
  auto flush = [&] {
    if (key.empty() && value.empty() && !seen_eq) return;
    if (!seen_eq || key.empty())
      throw user_error(fmt::format("Bad --props: expected name=value, got `{}`.", shown(key)));
    if (!builds::valid_property_name(key))
      throw user_error(fmt::format("Bad --props: `{}` is not a property name (letters, digits and _).", shown(key)));
    out[key] = value;
    key.clear();
    value.clear();
    cur = &key;
    seen_eq = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      *cur += text[++i];
    } else if (c == ',') {
      flush();
    } else if (c == '=' && !seen_eq) {
      seen_eq = true;
      cur = &value;
    } else {
      *cur += c;
    }
  }
  flush();
  return out;
}

}  // namespace

void add_force_command(registry& r) {
  r.add({"force", "force build [--branch=B] [--revision=R] [--codebase=C] [--props=k=v,...] BUILDER [REASON...]",
         "Starts a build of BUILDER. Branch, revision, codebase and properties reach the build's steps only as "
         "environment variables (HERALD_BRANCH, HERALD_REVISION, HERALD_CODEBASE, HERALD_PROP_<NAME>).",
         config::command_group::dangerous, [](context& c) {
           auto& a = c.args;
           if (a.empty() || a[0] != "build") throw usage_error();
           core::build_request req;
           std::size_t i = 1;
           for (; i < a.size() && a[i].starts_with("--"); ++i) {
             std::string opt = a[i], value;
             if (auto eq = opt.find('='); eq != std::string::npos) {
               value = opt.substr(eq + 1);
               opt.resize(eq);
             } else if (i + 1 < a.size()) {
               value = a[++i];
             } else {
               throw usage_error(fmt::format("Option `{}` needs a value.", shown(opt)));
             }
             if (opt == "--branch") req.branch = value;
             else if (opt == "--revision") req.revision = value;
             else if (opt == "--codebase") req.codebase = value;
             else if (opt == "--props") {
               for (auto& [k, v] : parse_props(value)) req.props[k] = v;
             } else {
               throw usage_error(fmt::format("Unknown option `{}`.", shown(opt)));
             }
           }
           if (i >= a.size()) throw usage_error();
           req.builder = builder_named(c, a[i++]).name;
           for (; i < a.size(); ++i) req.reason += (req.reason.empty() ? "" : " ") + a[i];
           if (req.reason.empty()) req.reason = "forced from chat";
           req.owner = c.req.from.nick;
           auto builder = req.builder;
           auto number = c.builds.force(std::move(req));
           c.reply(fmt::format("Force build requested: #{} of `{}`.", number, builder));
         },
         {{"build", "force build [--branch=B] [--revision=R] [--codebase=C] [--props=k=v,...] BUILDER [REASON...]",
           "Options may also be given as `--branch B`. In --props, a backslash escapes `,` or `=` in a value."}}});
}

}  // namespace herald::commands
