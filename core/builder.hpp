// Builder definitions as plain data: what a builder's steps run. config/ fills
// them from TOML; builds/ runs them without knowing about the config file.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace herald::core {

using seconds = std::chrono::duration<double>;

// A step command: a list is exec'd as argv, a string runs under `sh -c`.
using command_line = std::variant<std::vector<std::string>, std::string>;

struct step_spec {
  std::string name;
  command_line command;
  std::optional<seconds> timeout;  // none: no limit
  std::vector<int> warning_exit_codes;
  bool halt_on_failure = true;
  std::filesystem::path workdir;  // relative to the build's work dir; empty: the work dir itself
  std::map<std::string, std::string> env;
};

struct builder_spec {
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  int max_builds = 1;
  std::map<std::string, std::string> env;
  std::vector<step_spec> steps;
};

}  // namespace herald::core
