// The transport-agnostic chat core: who is talking to us and where, which
// messages are commands for us, each contact's settings (notify events, mute,
// joined or left), watches, and announcements of feed events to the contacts
// that want them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bot/format.hpp"
#include "bot/transport.hpp"
#include "config/config.hpp"
#include "core/event.hpp"

namespace spdlog {
class logger;
}

namespace herald::bot {

// Where a conversation happens: a channel, or a private chat with one nick.
struct contact {
  std::string channel;  // empty for a private contact
  std::string nick;     // for a private contact

  bool is_channel() const { return !channel.empty(); }
  // Where replies go.
  const std::string& target() const { return is_channel() ? channel : nick; }
  // Stable storage key: "irc:#builds", "irc:alice" (case-folded).
  std::string key() const;
  static contact from_key(std::string_view key);
};

// A command addressed to us, with where it came from.
struct request {
  contact where;
  sender from;
  std::string text;  // the command text, address prefix removed
  bool channel_operator = false;  // the sender is an operator of `where`
};

class chat {
 public:
  using command_handler = std::function<void(const request&)>;
  // Saves one contact's settings (an opaque JSON text) under its key.
  using persist_handler = std::function<void(const std::string& key, const std::string& state)>;
  using outbox_handler = std::function<void(const outgoing& announcement)>;

  chat(const config::config& cfg, transport& t, std::shared_ptr<spdlog::logger> log);

  // Settings saved by an earlier run (key -> state). Configured channels and
  // `pm_to_nicks` without saved settings start with their configured events.
  // Joins and leaves made by command are replayed on the transport.
  void restore(const std::map<std::string, std::string>& saved);
  void set_persist(persist_handler h) { persist_ = std::move(h); }
  void set_command_handler(command_handler h) { on_command_ = std::move(h); }
  // Called with each announcement before it goes to the transport, so it can be
  // kept until the transport confirms it (transport_events::on_delivered).
  void set_outbox(outbox_handler h) { outbox_ = std::move(h); }
  // Hands announcements an earlier run left unconfirmed to the transport again.
  void resend(const std::vector<outgoing>& pending);

  // From the transport.
  void on_message(const incoming_message& m);
  // From the feed.
  void on_event(const core::event& e);

  void reply(const contact& c, std::string_view text);

  // ---- what commands change
  std::vector<std::string> notify_events(const contact& c) const;
  void set_notify_events(const contact& c, std::vector<std::string> events);
  bool muted(const contact& c) const;
  void set_muted(const contact& c, bool muted);
  void join(const std::string& channel, const std::string& key);
  void leave(const std::string& channel, const std::string& reason);
  // Announces the end of build #number of `builder` to `who`, whatever its notify settings.
  void watch(const contact& who, const std::string& builder, std::int64_t number);
  std::vector<std::string> joined_channels() const { return transport_.joined_channels(); }

  const format_options& format() const { return format_; }
  const config::config& cfg() const { return cfg_; }

  // Returns the command text if `text` addresses `nick` ("nick: cmd", "nick, cmd").
  static std::optional<std::string> addressed_to(std::string_view nick, std::string_view text);

 private:
  struct contact_entry {
    contact who;
    std::set<std::string> events;
    bool muted = false;
    std::optional<bool> joined;  // set by join/leave; none: as configured
    std::string channel_key;
    const config::channel* configured = nullptr;  // builder and tag filters
  };

  contact_entry& entry(const contact& c);
  void save(const contact_entry& e);
  bool wants_builder(const contact_entry& e, const std::string& builder) const;
  // Sends `line` to every contact that wants one of `triggers` for `builder`;
  // returns the keys of the contacts it went to.
  std::set<std::string> announce(const std::string& builder, std::int64_t number, std::string_view event,
                                 const std::vector<std::string>& triggers, const std::string& line);
  void send_announcement(const contact_entry& e, std::string id, const std::string& line);

  const config::config& cfg_;
  transport& transport_;
  std::shared_ptr<spdlog::logger> log_;
  format_options format_;
  std::map<std::string, contact_entry> contacts_;  // by contact key
  // (builder, number) -> contact keys watching it
  std::map<std::pair<std::string, std::int64_t>, std::set<std::string>> watches_;
  command_handler on_command_;
  persist_handler persist_;
  outbox_handler outbox_;
};

}  // namespace herald::bot
