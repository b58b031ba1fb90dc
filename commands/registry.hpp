// The command registry: each command is one entry (name, synopsis, help,
// subcommands, its authorization group, handler), so `help`, `commands` and
// authorization all read the same table.
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
#include "storage/store.hpp"

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
  // Says whether the sender may use `command` (group as registered) here.
  bool may(std::string_view command) const;
};

struct subcommand {
  std::string name;      // "on"
  std::string synopsis;  // "notify on [EVENT...]"
  std::string help;
};

struct command {
  std::string name;
  std::string synopsis;  // "force build [--branch=B] ... BUILDER [REASON...]"
  std::string help;
  config::command_group group = config::command_group::harmless;
  std::function<void(context&)> run;
  std::vector<subcommand> subcommands;  // for `help COMMAND SUB`
};

class registry {
 public:
  using audit_handler = std::function<void(const storage::audit_entry&)>;

  explicit registry(std::shared_ptr<spdlog::logger> log);
  void add(command c);
  const command* find(std::string_view name) const;
  const std::map<std::string, command, std::less<>>& all() const { return commands_; }
  // Every dangerous command that runs, and every refusal, is also handed here.
  void set_audit(audit_handler h) { audit_ = std::move(h); }

  // Parses, authorizes and runs one request; every outcome gets a reply.
  void dispatch(const bot::request& req, bot::chat& chat, builds::control& builds, const config::config& cfg) const;

  bool allowed(const command& cmd, const bot::request& req, const config::config& cfg) const;

 private:
  void audit(const command& cmd, const bot::request& req, const char* outcome) const;

  std::map<std::string, command, std::less<>> commands_;
  std::shared_ptr<spdlog::logger> log_;
  audit_handler audit_;
};

// A registry holding every built-in command.
std::unique_ptr<registry> make_registry(std::shared_ptr<spdlog::logger> log);

// One registration function per command file.
void add_help_commands(registry& r);
void add_info_commands(registry& r);
void add_list_command(registry& r);
void add_status_commands(registry& r);
void add_watch_command(registry& r);
void add_force_command(registry& r);
void add_stop_command(registry& r);
void add_shutdown_command(registry& r);
void add_channel_commands(registry& r);
void add_notify_command(registry& r);

// Chat text echoed in a reply: at most `max_chars` characters, valid UTF-8,
// no control bytes (so it carries no formatting).
std::string shown(std::string_view word, std::size_t max_chars = 40);

// Shared by commands: the builder named by `word`, or a user_error.
const core::builder_spec& builder_named(const context& c, const std::string& word);

}  // namespace herald::commands
