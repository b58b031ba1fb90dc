// Shared by the config unit tests: parse-and-collect-diagnostics helpers and a
// temporary directory for file-based configs.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace herald::config::testing {

namespace fs = std::filesystem;

inline constexpr const char* file = "/srv/h.toml";

// The diagnostics of `text` as "file:line:col: message" lines; fails if it parses.
inline std::vector<std::string> errors(std::string_view text) {
  try {
    parse(text, file);
  } catch (const config_error& e) {
    std::vector<std::string> out;
    for (const auto& d : e.diagnostics()) out.push_back(to_string(d));
    return out;
  }
  ADD_FAILURE() << "expected a config_error for:\n" << text;
  return {};
}

inline std::string error(std::string_view text) {
  auto all = errors(text);
  EXPECT_EQ(all.size(), 1u) << ::testing::PrintToString(all);
  return all.empty() ? std::string() : all.front();
}

// A fresh directory under the system temp dir, removed at the end of the test.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "herald-config-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? fs::path(pattern) : fs::path();
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  fs::path write(const std::string& name, std::string_view text) const {
    fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace herald::config::testing
