// herald's configuration as typed structs, loaded from TOML and validated.
// Every error names file:line:col; loading never half-succeeds.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "core/builder.hpp"
#include "core/reporter.hpp"
#include "core/secret.hpp"

namespace herald::config {

using seconds = core::seconds;

// A secret value: given in the file as itself, `env:NAME` or `file:PATH`.
using secret = core::secret;

// A delay drawn uniformly from [min, max] each time it is used.
struct delay_range {
  seconds min{0};
  seconds max{0};
};

struct herald_section {
  std::string title = "herald";
  std::string url;  // base for links in messages; empty: no links
  std::filesystem::path data_dir = "var";  // relative paths are relative to the config file
  int max_builds = 4;                       // global cap on running builds
  seconds stop_grace{5};                    // SIGTERM -> SIGKILL grace for stopped steps
  // Requests of waiting outbox deliveries kept in memory; past it they are read
  // back from the database when their turn comes (notifiers::outbox).
  int outbox_memory_mib = 64;
};

struct channel {
  std::string name;
  std::string key;  // empty: none
  // Announce only builds of these builders / builders with one of these tags
  // (both empty: every builder).
  std::vector<std::string> builders;
  std::vector<std::string> tags;
  // Initial notify set for this channel; none: irc.notify_events.
  std::optional<std::vector<std::string>> notify_events;
};

struct irc_section {
  bool enabled = false;  // true when an [irc] table is present
  std::string host = "127.0.0.1";
  int port = 6667;
  bool tls = false;
  bool tls_verify = true;
  std::filesystem::path tls_ca_file;  // empty: system store
  secret password;                    // server password (PASS)
  std::string nick = "herald";
  std::vector<std::string> alt_nicks;  // empty: nick + "_", nick + "__", ...
  std::string username = "herald";
  std::string realname = "herald build bot";
  std::vector<channel> channels;
  std::vector<std::string> notify_events = {};  // canonical names, validated
  bool use_colors = false;
  delay_range lost_delay{seconds{1}, seconds{5}};
  delay_range failed_delay{seconds{45}, seconds{60}};
  seconds reclaim_nick_interval{60};
  int flood_burst = 4;             // lines sent back to back
  double flood_rate = 1.0;         // lines per second after the burst
  std::size_t max_queue = 10000;   // undelivered lines kept; older notifications dropped past this
  seconds ping_interval{60};       // idle time before we PING the server
  seconds ping_timeout{120};       // no traffic this long: reconnect
  bool previous_builder_wide = false;  // "previous build" rule: same branch (default) or builder-wide
  // SASL during registration: "none", "plain" (username + password) or "external" (the
  // TLS client certificate).
  std::string sasl_mechanism = "none";
  std::string sasl_username;  // empty: nick
  secret sasl_password;
  bool sasl_required = false;  // refuse to go on unauthenticated: QUIT and retry later
  std::filesystem::path tls_client_cert;  // PEM; relative to the config file
  std::filesystem::path tls_client_key;   // PEM; empty: in tls_client_cert
  secret nickserv_password;  // IDENTIFY after 001 when SASL was not used or failed
  std::string nickserv_name = "NickServ";
  bool notice_on_channel = false;  // notifications to channels as NOTICE (replies stay PRIVMSG)
  // When flood control holds several one-line notifications for one target, send them
  // joined with " · " on as few lines as fit, instead of one line each.
  bool summarize_bursts = true;
  // Private contacts that get the notify_events announcements, as channels do.
  std::vector<std::string> pm_to_nicks;
  bool show_blame = false;     // who asked for a build, in finished announcements
  bool show_revision = false;  // revision and branch, in finished announcements
};

// How much harm a chat command can do decides who may use it by default.
enum class command_group { harmless, channel, dangerous };

// Rules are nicks, "account:NAME", "nick!user@host" globs, "@ops" (operators
// of the channel the command is used in) or "*" (anyone).
struct authz_section {
  // Rules for one command ("force", "join", ...); a command without its own
  // list uses the list of its group.
  std::map<std::string, std::vector<std::string>, std::less<>> commands;
  std::vector<std::string> dangerous;           // force, stop, shutdown, join, leave: nobody
  std::vector<std::string> harmless = {"*"};    // status, list, help, watch, ...: anyone
  std::vector<std::string> channel = {"@ops"};  // mute, unmute, notify in a channel: its operators

  const std::vector<std::string>& rules_for(std::string_view command, command_group group) const;
};

// Command names [authz] accepts as keys (the chat commands herald has).
std::span<const std::string_view> authz_command_names();

// Builders are core vocabulary (builds/ runs them without knowing this file).
using command_line = core::command_line;
using step = core::step_spec;
using builder = core::builder_spec;

struct config {
  std::filesystem::path file;  // where it was loaded from
  herald_section herald;
  irc_section irc;
  authz_section authz;
  std::vector<builder> builders;
  std::vector<core::reporter_spec> reporters;  // [[reporter]] tables, in file order

  const builder* find_builder(std::string_view name) const;
  const core::reporter_spec* find_reporter(std::string_view name) const;
};

struct diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
};
// "file:line:col: message"
std::string to_string(const diagnostic& d);

class config_error : public std::runtime_error {
 public:
  explicit config_error(std::vector<diagnostic> d);
  const std::vector<diagnostic>& diagnostics() const noexcept { return diagnostics_; }

 private:
  std::vector<diagnostic> diagnostics_;
};

// Loads and validates; throws config_error listing every problem found.
config load(const std::filesystem::path& file);
// Same, from text; `name` is used in diagnostics and to resolve relative paths.
config parse(std::string_view text, const std::filesystem::path& name);

}  // namespace herald::config
