#include "app/service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bot/chat.hpp"
#include "bot/irc/client.hpp"
#include "builds/master.hpp"
#include "builds/process.hpp"
#include "commands/registry.hpp"
#include "core/feed.hpp"
#include "app/loop_runner.hpp"
#include "app/loop_scheduler.hpp"
#include "notifiers/outbox.hpp"
#include "notifiers/reporters.hpp"
#include "notifiers/transfer.hpp"
#include "storage/store.hpp"

namespace herald::app {
namespace asio = boost::asio;

int run_service(const config::config& cfg, std::shared_ptr<spdlog::logger> log) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.herald.data_dir, ec);
  if (ec) {
    log->error("cannot create data_dir {}: {}", cfg.herald.data_dir.string(), ec.message());
    return 1;
  }
  auto store = storage::open_sqlite(cfg.herald.data_dir / "herald.db", log);

  asio::io_context io(1);
  core::feed feed(store->last_seq(), [log](const char* what) { log->error("event subscriber failed: {}", what); });
  // Storage first, so an event is queued for disk before anyone announces it.
  auto store_sub = feed.subscribe([&](const core::event& e) { store->record(e); });

  builds::master_options opts;
  opts.work_root = cfg.herald.data_dir / "work";
  opts.max_builds = cfg.herald.max_builds;
  opts.stop_grace = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.herald.stop_grace);
  opts.base_env = builds::current_environment();
  builds::master master(io, feed, cfg.builders, opts, log);

  // Push reporters: the same feed, through the durable outbox.
  loop_scheduler sched(io);
  // Ended first after the loop stops: no transfer callback outlives the reporters.
  auto transfers = std::make_unique<notifiers::transfer>(io);
  notifiers::outbox outbox(sched, *store, log, static_cast<std::size_t>(cfg.herald.outbox_memory_mib) << 20);
  std::map<std::string, std::vector<std::string>> builder_tags;
  for (const auto& b : cfg.builders) builder_tags[b.name] = b.tags;
  notifiers::reporters reporters(cfg.reporters, std::move(builder_tags), {cfg.herald.title, cfg.herald.url}, outbox,
                                 *transfers, sched, log);
  auto reporters_sub = feed.subscribe([&](const core::event& e) { reporters.on_event(e); });
  outbox.restore(store->deliveries_without_requests(false));
  // Dead letters revived by `herald outbox --revive` while herald runs are
  // taken up within seconds; the look runs on the writer thread.
  asio::steady_timer revived_timer(io);
  std::function<void()> look_for_revived = [&] {
    revived_timer.expires_after(std::chrono::seconds(2));
    revived_timer.async_wait([&](const boost::system::error_code& e) {
      if (e) return;
      store->take_revived([&sched, &outbox, &log](std::vector<storage::delivery> revived) {
        sched.post([&outbox, &log, revived = std::move(revived)]() mutable {
          log->info("outbox: {} revived dead letter(s) queued again", revived.size());
          for (auto& d : revived) outbox.add(std::move(d));
        });
      });
      look_for_revived();
    });
  };
  if (!cfg.reporters.empty()) look_for_revived();

  bot::irc::client irc(io, cfg.irc, log);
  bool account_rules = false;
  for (const auto* rules : {&cfg.authz.dangerous, &cfg.authz.harmless, &cfg.authz.channel})
    for (const auto& r : *rules) account_rules |= r.starts_with("account:");
  for (const auto& [command, rules] : cfg.authz.commands)
    for (const auto& r : rules) account_rules |= r.starts_with("account:");
  irc.set_account_lookup(account_rules);
  bot::chat chat(cfg, irc, log);
  chat.restore(store->contacts());
  chat.set_persist([&](const std::string& key, const std::string& state) { store->save_contact(key, state); });
  auto commands = commands::make_registry(log);
  commands->set_audit([&](const storage::audit_entry& a) { store->record_audit(a); });
  chat.set_command_handler([&](const bot::request& r) { commands->dispatch(r, chat, master, cfg); });

  bot::transport_events events;
  events.on_message = [&](const bot::incoming_message& m) { chat.on_message(m); };
  // Announcements stay in the database until the server confirmed them, so a
  // restart resends what was in flight.
  if (cfg.irc.enabled)
    chat.set_outbox([&](const bot::outgoing& m) { store->add_chat_message({m.id, m.target, m.text}); });
  events.on_delivered = [&](const std::string& id) { store->remove_chat_message(id); };
  events.on_dropped = [&](const std::string& id) {
    log->warn("notification {} dropped: queue full", id);
    store->remove_chat_message(id);
  };
  irc.set_events(std::move(events));
  auto chat_sub = feed.subscribe([&](const core::event& e) { chat.on_event(e); });

  std::vector<bot::outgoing> unconfirmed;
  for (auto& m : store->chat_outbox())
    unconfirmed.push_back({std::move(m.target), std::move(m.text), std::move(m.id), bot::priority::notification});
  if (!unconfirmed.empty()) log->info("resending {} unconfirmed announcement(s) from the last run", unconfirmed.size());
  chat.resend(unconfirmed);

  std::map<std::string, core::builder_history> history;
  for (const auto& b : cfg.builders) history[b.name] = store->history(b.name);
  master.recover(history, store->unfinished_builds());

  if (cfg.irc.enabled) irc.start();
  log->info("herald started: {} builders, data in {}", cfg.builders.size(), cfg.herald.data_dir.string());

  // A shutdown asked for by signal or by the `shutdown` command ends here: the
  // reporters get a few seconds to send what is due (the rest stays stored),
  // then IRC says goodbye.
  asio::steady_timer drain_limit(io);
  master.set_on_shutdown([&] {
    auto quit = std::make_shared<std::function<void()>>([&] {
      if (!cfg.irc.enabled) {
        io.stop();
        return;
      }
      irc.stop("herald shutting down", [&] { io.stop(); });
    });
    auto once = [quit] {
      if (auto q = std::exchange(*quit, nullptr)) q();
    };
    drain_limit.expires_after(std::chrono::seconds(5));
    drain_limit.async_wait([once, &log, &outbox](const boost::system::error_code& e) {
      if (e) return;
      log->warn("shutdown: {} deliveries still pending; they are sent after the next start", outbox.pending());
      once();
    });
    outbox.drain([once, &drain_limit] {
      drain_limit.cancel();
      once();
    });
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool stopping = false;
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& e, int sig) {
    if (e) return;
    if (stopping) {
      log->warn("second signal {}: quitting now", sig);
      io.stop();
      return;
    }
    stopping = true;
    signals.async_wait(on_signal);
    master.shutdown("signal " + std::to_string(sig));
  };
  signals.async_wait(on_signal);
  run_loop(io, [&] { return transfers->http_in_flight() >= nap_when_in_flight; });
  transfers.reset();
  store->flush();
  log->info("herald stopped");
  return 0;
}

int show_outbox(const config::config& cfg, bool dead, const std::string& revive) {
  auto log = std::make_shared<spdlog::logger>("outbox");  // no sinks: the command prints, it does not log
  const auto file = cfg.herald.data_dir / "herald.db";
  if (!std::filesystem::exists(file)) {
    std::cout << "no database at " << file.string() << " yet: nothing pending\n";
    return 0;
  }
  auto store = storage::open_sqlite(file, log);
  if (!revive.empty()) {
    auto n = store->revive(revive == "all" ? std::string() : revive);
    std::cout << n << " dead letter(s) queued again: a running herald sends them within seconds, "
                      "a stopped one after its next start\n";
    if (n == 0 && revive != "all") return 1;
    return 0;
  }
  const auto now = core::clock::now();
  auto list = store->deliveries_without_requests(dead);
  for (const auto& d : list) {
    std::string when;
    if (!dead) {
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(d.next_attempt - now).count();
      when = secs > 0 ? fmt::format("next in {} s", secs) : std::string("due");
    }
    std::cout << fmt::format("{}  {}  attempts {}{}{}  {}\n", d.id, d.reporter, d.attempts,
                             when.empty() ? "" : ", ", when, d.summary);
    if (!d.last_error.empty()) std::cout << "    last error: " << d.last_error << '\n';
  }
  std::cout << list.size() << (dead ? " dead letter(s)\n" : " pending deliveries\n");
  return 0;
}

}  // namespace herald::app
