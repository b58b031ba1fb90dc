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

// Chat text shown back in a reply is cut short and stripped of control bytes,
// so an echoed word cannot carry formatting or break a line.
std::string shown(std::string_view word) {
  std::string out;
  for (char c : word.substr(0, 40))
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  if (word.size() > 40) out += "…";
  return out;
}

}  // namespace

registry::registry(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}

void registry::add(command c) {
  auto name = c.name;
  commands_.insert_or_assign(std::move(name), std::move(c));
}

const command* registry::find(std::string_view name) const {
  auto it = commands_.find(lower(name));
  return it == commands_.end() ? nullptr : &it->second;
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
    reply(fmt::format("Unknown command `{}`. Try `help` or `commands`.", shown(words[0])));
    return;
  }
  if (cmd->authz && !bot::allowed(cfg.authz.*(cmd->authz), req.from)) {
    log_->warn("denied `{}` to {}!{}@{} (account {}) in {}", cmd->name, req.from.nick, req.from.user, req.from.host,
               req.from.account.empty() ? "-" : req.from.account, req.where.target());
    reply(fmt::format("Sorry, you are not allowed to use `{}`.", cmd->name));
    return;
  }
  if (cmd->authz)
    log_->info("{}!{}@{} (account {}) in {} runs: {}", req.from.nick, req.from.user, req.from.host,
               req.from.account.empty() ? "-" : req.from.account, req.where.target(), req.text);
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
  add_status_commands(*r);
  add_force_command(*r);
  add_stop_command(*r);
  add_notify_command(*r);
  return r;
}

}  // namespace herald::commands
