// herald's command line: run, check, --version, --help, --log-level.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "app/heap.hpp"
#include "app/service.hpp"
#include "config/config.hpp"

#ifndef HERALD_VERSION
#define HERALD_VERSION "0.0.0"
#endif

namespace {

std::optional<herald::config::config> load_or_report(const std::string& file) {
  try {
    return herald::config::load(file);
  } catch (const herald::config::config_error& e) {
    for (const auto& d : e.diagnostics()) std::cerr << herald::config::to_string(d) << '\n';
    return std::nullopt;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"herald: a chat bot with build control"};
  cli.set_version_flag("--version", "herald " HERALD_VERSION);
  cli.require_subcommand(1);
  std::string level = "info";
  cli.add_option("--log-level", level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  std::string config_file;
  auto* run = cli.add_subcommand("run", "Run herald with a configuration file");
  run->add_option("-c,--config", config_file, "Configuration file (TOML)")->required();
  run->add_option("--log-level", level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  auto* check = cli.add_subcommand("check", "Check a configuration file and report every error");
  check->add_option("-c,--config", config_file, "Configuration file (TOML)")->required();

  auto* outbox = cli.add_subcommand("outbox", "Show the push reporters' pending deliveries or dead letters");
  outbox->add_option("-c,--config", config_file, "Configuration file (TOML)")->required();
  bool dead = false;
  std::string revive;
  outbox->add_flag("--dead", dead, "Show the dead letters (deliveries that failed for good)");
  outbox->add_option("--revive", revive, "Queue dead letters again: an id, or `all`");

  CLI11_PARSE(cli, argc, argv);

  if (outbox->parsed()) {
    auto cfg = load_or_report(config_file);
    if (!cfg) return 1;
    return herald::app::show_outbox(*cfg, dead, revive);
  }

  if (check->parsed()) {
    auto cfg = load_or_report(config_file);
    if (!cfg) return 1;
    std::cout << config_file << ": OK, " << cfg->builders.size() << " builder(s), " << cfg->reporters.size()
              << " reporter(s)\n";
    return 0;
  }

  auto log = spdlog::stderr_color_mt("herald");
  log->set_level(spdlog::level::from_str(level));
  log->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  auto cfg = load_or_report(config_file);
  if (!cfg) {
    log->error("not starting: {} has errors", config_file);
    return 1;
  }
  // Before any other thread starts: a burst grows the heap by tens of MB.
  if (!herald::app::populate_heap_growth()) log->debug("the heap grows page by page: jemalloc refused the hooks");
  try {
    return herald::app::run_service(*cfg, log);
  } catch (const std::exception& e) {
    log->critical("fatal: {}", e.what());
    return 1;
  }
}
