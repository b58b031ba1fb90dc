#include "bot/chat.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

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
    : cfg_(cfg),
      transport_(t),
      log_(std::move(log)),
      format_{cfg.herald.url, cfg.irc.use_colors, cfg.irc.show_blame, cfg.irc.show_revision} {}

chat::contact_entry& chat::entry(const contact& c) {
  auto key = c.key();
  auto it = contacts_.find(key);
  if (it == contacts_.end()) it = contacts_.emplace(key, contact_entry{c, {}, false, std::nullopt, {}, nullptr}).first;
  return it->second;
}

void chat::restore(const std::map<std::string, std::string>& saved) {
  for (const auto& ch : cfg_.irc.channels) {
    auto& e = entry(contact{ch.name, {}});
    e.configured = &ch;
    const auto& events = ch.notify_events ? *ch.notify_events : cfg_.irc.notify_events;
    e.events.insert(events.begin(), events.end());
  }
  for (const auto& nick : cfg_.irc.pm_to_nicks)
    entry(contact{{}, nick}).events.insert(cfg_.irc.notify_events.begin(), cfg_.irc.notify_events.end());
  for (const auto& [key, text] : saved) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) {
      log_->warn("ignoring unreadable saved settings of {}", key);
      continue;
    }
    auto& e = entry(contact::from_key(key));
    if (auto it = j.find("events"); it != j.end() && it->is_array()) {
      e.events.clear();
      for (const auto& name : *it)
        if (name.is_string())
          if (auto canonical = core::canonical_notify_event(name.get<std::string>())) e.events.insert(*canonical);
    }
    e.muted = j.value("muted", false);
    if (auto it = j.find("joined"); it != j.end() && it->is_boolean()) e.joined = it->get<bool>();
    e.channel_key = j.value("key", std::string{});
    if (!e.who.is_channel() || !e.joined) continue;
    if (*e.joined) transport_.join(e.who.channel, e.channel_key);
    else transport_.part(e.who.channel, "");
  }
}

void chat::save(const contact_entry& e) {
  if (!persist_) return;
  nlohmann::json j;
  j["events"] = notify_events(e.who);
  if (e.muted) j["muted"] = true;
  if (e.joined) j["joined"] = *e.joined;
  if (!e.channel_key.empty()) j["key"] = e.channel_key;
  persist_(e.who.key(), j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));  // never throws on bytes
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
  r.channel_operator = m.channel_operator;
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
  auto it = contacts_.find(c.key());
  if (it == contacts_.end()) return {};
  // Report in the canonical order of `help notify`.
  std::vector<std::string> out;
  for (const auto& name : core::notify_event_names())
    if (it->second.events.contains(name)) out.push_back(name);
  return out;
}

void chat::set_notify_events(const contact& c, std::vector<std::string> events) {
  auto& e = entry(c);
  e.events = std::set<std::string>(events.begin(), events.end());
  save(e);
}

bool chat::muted(const contact& c) const {
  auto it = contacts_.find(c.key());
  return it != contacts_.end() && it->second.muted;
}

void chat::set_muted(const contact& c, bool muted) {
  auto& e = entry(c);
  e.muted = muted;
  save(e);
}

void chat::join(const std::string& channel, const std::string& key) {
  auto& e = entry(contact{channel, {}});
  e.joined = true;
  e.channel_key = key;
  save(e);
  transport_.join(channel, key);
}

void chat::leave(const std::string& channel, const std::string& reason) {
  auto& e = entry(contact{channel, {}});
  e.joined = false;
  e.channel_key.clear();
  save(e);
  transport_.part(channel, reason);
}

void chat::watch(const contact& who, const std::string& builder, std::int64_t number) {
  entry(who);
  watches_[{builder, number}].insert(who.key());
}

bool chat::wants_builder(const contact_entry& e, const std::string& builder) const {
  if (!e.configured || (e.configured->builders.empty() && e.configured->tags.empty())) return true;
  if (std::ranges::find(e.configured->builders, builder) != e.configured->builders.end()) return true;
  if (const auto* spec = cfg_.find_builder(builder))
    for (const auto& tag : spec->tags)
      if (std::ranges::find(e.configured->tags, tag) != e.configured->tags.end()) return true;
  return false;
}

void chat::on_event(const core::event& e) {
  if (auto* s = std::get_if<core::build_started>(&e)) {
    announce(s->header.builder, s->header.number, "started", {"started"}, started_line(format_, *s));
  } else if (auto* f = std::get_if<core::build_finished>(&e)) {
    auto previous = cfg_.irc.previous_builder_wide ? f->previous_on_builder : f->previous_on_branch;
    auto line = finished_line(format_, *f);
    auto told = announce(f->header.builder, f->header.number, "finished", core::finished_events(f->outcome, previous), line);
    // Watchers hear the end once, even when their notify settings already told them.
    auto w = watches_.extract({f->header.builder, f->header.number});
    if (!w.empty())
      for (const auto& key : w.mapped())
        if (!told.contains(key))
          if (auto it = contacts_.find(key); it != contacts_.end())
            send_announcement(it->second, f->header.builder + "#" + std::to_string(f->header.number) + "/watch/" + key, line);
  } else if (auto* w = std::get_if<core::worker_state>(&e)) {
    announce(w->worker, static_cast<std::int64_t>(w->header.seq), w->online ? "worker-online" : "worker-offline", {"worker"}, worker_line(*w));
  }
}

void chat::send_announcement(const contact_entry& e, std::string id, const std::string& line) {
  outgoing msg{e.who.target(), line, std::move(id), priority::notification};
  if (outbox_) outbox_(msg);
  transport_.send(std::move(msg));
}

std::set<std::string> chat::announce(const std::string& builder, std::int64_t number, std::string_view event,
                                     const std::vector<std::string>& triggers, const std::string& line) {
  std::set<std::string> told;
  for (const auto& item : contacts_) {
    const auto& [key, e] = item;
    const contact_entry& c = item.second;  // a structured binding cannot be captured by clang 14
    if (c.muted || (c.joined && !*c.joined)) continue;
    bool wanted = std::ranges::any_of(triggers, [&c](const std::string& t) { return c.events.contains(t); });
    if (!wanted || !wants_builder(e, builder)) continue;
    // One line per build, event and contact: the transport drops a confirmed repeat.
    send_announcement(e, builder + "#" + std::to_string(number) + "/" + std::string(event) + "/" + key, line);
    told.insert(key);
  }
  return told;
}

}  // namespace herald::bot
