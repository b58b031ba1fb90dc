#include "commands/registry.hpp"

#include <spdlog/spdlog.h>

#include <cctype>

#include "bot/authz.hpp"
#include "commands/tokenizer.hpp"

namespace herald::commands {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string shown(std::string_view word, std::size_t max_chars) {
  // Decode UTF-8 by hand: a valid sequence is copied, anything else becomes
  // U+FFFD, control bytes are dropped, and the cut falls between characters.
  std::string out;
  std::size_t chars = 0, i = 0;
  while (i < word.size()) {
    if (chars == max_chars) {
      out += "…";
      break;
    }
    auto c = static_cast<unsigned char>(word[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool valid = len != 0 && i + len <= word.size();
    for (std::size_t k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(word[i + k]) & 0xc0) == 0x80;
    if (valid && len == 2) valid = c >= 0xc2;  // no overlong forms
    if (!valid) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      if (len > 1 || c >= 0x20) out.append(word.substr(i, len));
      i += len;
    }
    ++chars;
  }
  return out;
}

namespace {

std::string mask_of(const bot::sender& s) { return s.nick + "!" + s.user + "@" + s.host; }

}  // namespace

bool context::may(std::string_view command) const {
  const auto* cmd = commands.find(command);
  return cmd && commands.allowed(*cmd, req, cfg);
}

const core::builder_spec& builder_named(const context& c, const std::string& word) {
  if (const auto* b = c.builds.find_builder(word)) return *b;
  throw user_error(fmt::format("No such builder `{}`. Try `list builders`.", shown(word, 40)));
}

registry::registry(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}

void registry::add(command c) {
  auto name = c.name;
  commands_.insert_or_assign(std::move(name), std::move(c));
}

const command* registry::find(std::string_view name) const {
  auto it = commands_.find(lower(name));
  return it == commands_.end() ? nullptr : &it->second;
}

bool registry::allowed(const command& cmd, const bot::request& req, const config::config& cfg) const {
  // Channel commands in a private chat only touch the sender's own settings.
  if (cmd.group == config::command_group::channel && !req.where.is_channel()) return true;
  return bot::allowed(cfg.authz.rules_for(cmd.name, cmd.group), req.from, req.channel_operator);
}

void registry::audit(const command& cmd, const bot::request& req, const char* outcome) const {
  auto account = req.from.account.empty() ? "-" : req.from.account;
  auto place = req.where.is_channel() ? req.where.channel : "private";
  if (std::string_view(outcome) == "denied")
    log_->warn("denied `{}` to {} (account {}) in {}: {}", cmd.name, mask_of(req.from), account, place, req.text);
  else
    log_->info("{} (account {}) in {} runs: {}", mask_of(req.from), account, place, req.text);
  if (audit_)
    audit_({core::clock::now(), cmd.name, req.from.nick, req.from.account, mask_of(req.from), place, req.text, outcome});
}

void registry::dispatch(const bot::request& req, bot::chat& chat, builds::control& builds,
                        const config::config& cfg) const {
  auto reply = [&](std::string_view text) { chat.reply(req.where, text); };
  std::vector<std::string> words;
  try {
    words = tokenize(req.text);
  } catch (const tokenize_error& e) {
    reply(fmt::format("Cannot read that command: {}. Quote arguments with '...' or \"...\".", e.what()));
    return;
  }
  if (words.empty()) return;
  const command* cmd = find(words[0]);
  if (!cmd) {
    reply(fmt::format("Unknown command `{}`. Try `help` or `commands`.", shown(words[0], 40)));
    return;
  }
  bool dangerous = cmd->group == config::command_group::dangerous;
  if (!allowed(*cmd, req, cfg)) {
    audit(*cmd, req, "denied");
    reply(fmt::format("Sorry, you are not allowed to use `{}`{}.", cmd->name,
                      cmd->group == config::command_group::channel ? " in this channel" : ""));
    return;
  }
  if (dangerous) audit(*cmd, req, "ran");
  context ctx{req, chat, builds, cfg, *this, {words.begin() + 1, words.end()}};
  try {
    cmd->run(ctx);
  } catch (const usage_error& e) {
    std::string why = e.what();
    if (why != "usage") reply(why);
    reply("Usage: " + cmd->synopsis);
  } catch (const user_error& e) {
    reply(e.what());
  } catch (const builds::request_error& e) {
    reply(fmt::format("Sorry, `{}` failed: {}.", cmd->name, e.what()));
  } catch (const std::exception& e) {
    log_->error("command `{}` failed: {}", cmd->name, e.what());
    reply(fmt::format("Sorry, `{}` failed with an internal error.", cmd->name));
  }
}

std::unique_ptr<registry> make_registry(std::shared_ptr<spdlog::logger> log) {
  auto r = std::make_unique<registry>(std::move(log));
  add_help_commands(*r);
  add_info_commands(*r);
  add_list_command(*r);
  add_status_commands(*r);
  add_watch_command(*r);
  add_force_command(*r);
  add_stop_command(*r);
  add_shutdown_command(*r);
  add_channel_commands(*r);
  add_notify_command(*r);
  return r;
}

}  // namespace herald::commands
