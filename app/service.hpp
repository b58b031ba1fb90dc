// The composition root: the only place that knows every concrete type.
#pragma once

#include <memory>

#include "config/config.hpp"

namespace spdlog {
class logger;
}

namespace herald::app {

// Runs herald until SIGINT or SIGTERM; returns the process exit code.
int run_service(const config::config& cfg, std::shared_ptr<spdlog::logger> log);

}  // namespace herald::app
