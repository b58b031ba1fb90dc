#include "bot/chat.hpp"

#include <spdlog/spdlog.h>

#include "bot/authz.hpp"
#include "core/transitions.hpp"

namespace herald::bot {

std::string contact::key() const { return "irc:" + irc_lower(target()); }

contact contact::from_key(std::string_view key) {
  if (key.starts_with("irc:")) key.remove_prefix(4);
  contact c;
  if (!key.empty() && (key[0] == '#' || key[0] == '&')) c.channel = std::string(key);
  else c.nick = std::string(key);
  return c;
}

chat::chat(const config::config& cfg, transport& t, std::shared_ptr<spdlog::logger> log)
    : cfg_(cfg), transport_(t), log_(std::move(log)), format_{cfg.herald.url, cfg.irc.use_colors} {}

void chat::restore_subscriptions(const std::map<std::string, std::vector<std::string>>& saved) {
  for (const auto& [key, events] : saved) {
    auto& set = subscriptions_[key];
    for (const auto& e : events)
      if (auto name = core::canonical_notify_event(e)) set.insert(*name);
  }
  for (const auto& ch : cfg_.irc.channels) {
    auto key = contact{ch.name, {}}.key();
    if (!saved.contains(key)) subscriptions_[key].insert(cfg_.irc.notify_events.begin(), cfg_.irc.notify_events.end());
  }
}

std::optional<std::string> chat::addressed_to(std::string_view nick, std::string_view text) {
  if (text.size() <= nick.size() || irc_lower(text.substr(0, nick.size())) != irc_lower(nick)) return std::nullopt;
  auto rest = text.substr(nick.size());
  if (rest[0] != ':' && rest[0] != ',') return std::nullopt;
  rest.remove_prefix(1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return std::string(rest);
}

void chat::on_message(const incoming_message& m) {
  request r;
  r.from = m.from;
  if (m.channel.empty()) {
    r.where.nick = m.from.nick;
    r.text = m.text;
  } else {
    auto cmd = addressed_to(transport_.current_nick(), m.text);
    if (!cmd) return;
    r.where.channel = m.channel;
    r.text = std::move(*cmd);
  }
  while (!r.text.empty() && (r.text.back() == ' ' || r.text.back() == '\t')) r.text.pop_back();
  if (r.text.empty() || !on_command_) return;
  on_command_(r);
}

void chat::resend(const std::vector<outgoing>& pending) {
  for (const auto& m : pending) transport_.send(m);
}

void chat::reply(const contact& c, std::string_view text) {
  transport_.send(outgoing{c.target(), std::string(text), {}, priority::reply});
}

std::vector<std::string> chat::notify_events(const contact& c) const {
  auto it = subscriptions_.find(c.key());
  if (it == subscriptions_.end()) return {};
  // Report in the canonical order of `help notify`.
  std::vector<std::string> out;
  for (const auto& name : core::notify_event_names())
    if (it->second.contains(name)) out.push_back(name);
  return out;
}

void chat::set_notify_events(const contact& c, std::vector<std::string> events) {
  auto key = c.key();
  subscriptions_[key] = std::set<std::string>(events.begin(), events.end());
  if (persist_) persist_(key, notify_events(c));
}

void chat::on_event(const core::event& e) {
  if (auto* s = std::get_if<core::build_started>(&e)) {
    announce(s->header.builder, s->header.number, "started", {"started"}, started_line(format_, *s));
  } else if (auto* f = std::get_if<core::build_finished>(&e)) {
    auto previous = cfg_.irc.previous_builder_wide ? f->previous_on_builder : f->previous_on_branch;
    announce(f->header.builder, f->header.number, "finished", core::finished_events(f->outcome, previous),
             finished_line(format_, *f));
  }
}

void chat::announce(const std::string& builder, std::int64_t number, std::string_view event,
                    const std::vector<std::string>& triggers, const std::string& line) {
  for (const auto& [key, events] : subscriptions_) {
    bool wanted = false;
    for (const auto& t : triggers)
      if (events.contains(t)) {
        wanted = true;
        break;
      }
    if (!wanted) continue;
    auto c = contact::from_key(key);
    // One line per build, event and contact: the transport drops a confirmed repeat.
    std::string id = builder + "#" + std::to_string(number) + "/" + std::string(event) + "/" + key;
    outgoing msg{c.target(), line, std::move(id), priority::notification};
    if (outbox_) outbox_(msg);
    transport_.send(std::move(msg));
  }
}

}  // namespace herald::bot
