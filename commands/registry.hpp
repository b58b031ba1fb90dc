// The command registry: each command is one entry (name, synopsis, help,
// whether it is dangerous, handler), so help, `commands` and authorization
// all read the same table.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bot/chat.hpp"
#include "builds/master.hpp"
#include "config/config.hpp"

namespace spdlog {
class logger;
}

namespace herald::commands {

class registry;

// Wrong arguments: the reply is the command's usage line.
class usage_error : public std::runtime_error {
 public:
  usage_error() : std::runtime_error("usage") {}
  explicit usage_error(const std::string& why) : std::runtime_error(why) {}
};

// A mistake the user can fix; the text is shown as it is.
class user_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct context {
  const bot::request& req;
  bot::chat& chat;
  builds::control& builds;
  const config::config& cfg;
  const registry& commands;
  std::vector<std::string> args;  // words after the command name

  void reply(std::string_view text) const { chat.reply(req.where, text); }
};

struct command {
  std::string name;
  std::string synopsis;  // "force build [--branch=B] ... BUILDER [REASON]"
  std::string help;
  // The [authz] list that guards it; empty: harmless, anyone may use it.
  std::vector<std::string> config::authz_section::*authz = nullptr;
  std::function<void(context&)> run;
};

class registry {
 public:
  explicit registry(std::shared_ptr<spdlog::logger> log);
  void add(command c);
  const command* find(std::string_view name) const;
  const std::map<std::string, command, std::less<>>& all() const { return commands_; }

  // Parses, authorizes and runs one request; every outcome gets a reply.
  void dispatch(const bot::request& req, bot::chat& chat, builds::control& builds, const config::config& cfg) const;

 private:
  std::map<std::string, command, std::less<>> commands_;
  std::shared_ptr<spdlog::logger> log_;
};

// A registry holding every built-in command.
std::unique_ptr<registry> make_registry(std::shared_ptr<spdlog::logger> log);

// One registration function per command file.
void add_help_commands(registry& r);
void add_info_commands(registry& r);
void add_status_commands(registry& r);
void add_force_command(registry& r);
void add_stop_command(registry& r);
void add_notify_command(registry& r);

}  // namespace herald::commands
