// Recording fakes for command tests: a transport that keeps what was sent and
// a build control that keeps what was asked.
#pragma once

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "bot/chat.hpp"
#include "builds/master.hpp"
#include "commands/registry.hpp"

namespace herald::testing {

struct recording_transport final : bot::transport {
  std::string nick = "herald";
  std::vector<bot::outgoing> sent;
  std::vector<std::string> channels;  // joined, as join/part left them
  std::string current_nick() const override { return nick; }
  void send(bot::outgoing m) override { sent.push_back(std::move(m)); }
  void join(const std::string& c, const std::string&) override { channels.push_back(c); }
  void part(const std::string& c, const std::string&) override { std::erase(channels, c); }
  std::vector<std::string> joined_channels() const override { return channels; }
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const auto& m : sent) out.push_back(m.text);
    return out;
  }
};

struct fake_control final : builds::control {
  std::vector<core::builder_spec> specs;
  std::vector<core::build_request> forced;
  std::vector<std::pair<std::string, std::string>> stops;
  std::map<std::string, std::vector<core::build_record>> running_builds;
  std::map<std::string, core::build_record> last;
  std::int64_t next = 1;

  std::span<const core::builder_spec> builders() const override { return specs; }
  const core::builder_spec* find_builder(std::string_view name) const override {
    for (const auto& s : specs)
      if (s.name == name) return &s;
    return nullptr;
  }
  std::int64_t force(core::build_request r) override {
    forced.push_back(std::move(r));
    return next++;
  }
  std::vector<std::int64_t> stop(const std::string& b, const std::string& why) override {
    stops.emplace_back(b, why);
    std::vector<std::int64_t> out;
    for (const auto& r : running_builds[b]) out.push_back(r.number);
    return out;
  }
  std::vector<core::build_record> running(const std::string& b) const override {
    auto it = running_builds.find(b);
    return it == running_builds.end() ? std::vector<core::build_record>{} : it->second;
  }
  std::vector<core::build_record> pending(const std::string&) const override { return {}; }
  std::optional<core::build_record> last_finished(const std::string& b) const override {
    auto it = last.find(b);
    if (it == last.end()) return std::nullopt;
    return it->second;
  }
  bool accepting() const override { return shutdown == builds::shutdown_state::none; }
  std::vector<builds::worker_info> workers() const override { return {{"local", 4, {}, true}}; }
  builds::shutdown_state shutdown = builds::shutdown_state::none;
  builds::shutdown_state shutdown_status() const override { return shutdown; }
  void request_shutdown(builds::shutdown_state how, const std::string&) override { shutdown = how; }
  bool cancel_shutdown() override {
    if (shutdown != builds::shutdown_state::clean) return false;
    shutdown = builds::shutdown_state::none;
    return true;
  }
  std::size_t running_count() const override { return 0; }
};

inline std::shared_ptr<spdlog::logger> null_logger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

inline config::config test_config() {
  config::config cfg;
  cfg.herald.url = "http://ci.test/";
  cfg.irc.channels.resize(1);
  cfg.irc.channels[0].name = "#builds";
  cfg.irc.notify_events = {"started", "finished"};
  cfg.authz.commands["force"] = {"alice"};
  cfg.authz.commands["stop"] = {"alice"};
  for (auto name : {"quick", "broken"}) {
    core::builder_spec b;
    b.name = name;
    b.steps.push_back({"s", std::string("true"), {}, {}, true, {}, {}});
    cfg.builders.push_back(b);
  }
  return cfg;
}

// A chat core wired to a registry and the fakes, as app/ wires the real ones.
struct command_harness {
  config::config cfg = test_config();
  recording_transport transport;
  fake_control control;
  bot::chat chat{cfg, transport, null_logger()};
  std::unique_ptr<commands::registry> registry = commands::make_registry(null_logger());
  std::vector<std::pair<std::string, std::string>> persisted;
  std::vector<storage::audit_entry> audited;

  command_harness() {
    control.specs = cfg.builders;
    chat.restore({});
    chat.set_command_handler([this](const bot::request& r) { registry->dispatch(r, chat, control, cfg); });
    chat.set_persist([this](const std::string& k, const std::string& state) { persisted.emplace_back(k, state); });
    registry->set_audit([this](const storage::audit_entry& a) { audited.push_back(a); });
  }

  // Says `text` in #builds as `nick` and returns the replies.
  std::vector<std::string> say(std::string nick, std::string text, std::string channel = "#builds", bool op = false) {
    transport.sent.clear();
    chat.on_message(bot::incoming_message{channel, bot::sender{nick, "user", "host", ""}, std::move(text), op});
    return transport.texts();
  }
};

}  // namespace herald::testing
