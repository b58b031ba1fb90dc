// The composition root: the only place that knows every concrete type.
#pragma once

#include <memory>
#include <string>

#include "config/config.hpp"

namespace spdlog {
class logger;
}

namespace herald::app {

// Runs herald until SIGINT or SIGTERM; returns the process exit code.
int run_service(const config::config& cfg, std::shared_ptr<spdlog::logger> log);

// `herald outbox`: prints the reporters' pending deliveries, or the dead letters;
// with `revive` ("all" or an id) puts dead letters back in the queue first.
int show_outbox(const config::config& cfg, bool dead, const std::string& revive);

}  // namespace herald::app
