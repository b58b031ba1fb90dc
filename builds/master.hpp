// The build master: builders, the request queue, running steps as child
// processes, stop, shutdown and restart recovery. Publishes every change on the feed.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/build.hpp"
#include "core/builder.hpp"
#include "core/feed.hpp"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace herald::builds {

// A request the user got wrong (unknown builder, bad property name): the text
// is safe to show in a channel.
class request_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class shutdown_state { none, clean, immediate };

// What the master runs builds on: today one local runner with slots.
struct worker_info {
  std::string name;
  int slots = 0;
  std::vector<std::pair<std::string, std::int64_t>> busy;  // (builder, number) running
  bool online = true;
};

// What commands may ask of and do to the build master.
class control {
 public:
  virtual ~control() = default;
  virtual std::span<const core::builder_spec> builders() const = 0;
  virtual const core::builder_spec* find_builder(std::string_view name) const = 0;
  // Queues a build and returns its number; throws request_error.
  virtual std::int64_t force(core::build_request request) = 0;
  // Stops the running and pending builds of `builder`; returns their numbers.
  virtual std::vector<std::int64_t> stop(const std::string& builder, const std::string& why) = 0;
  virtual std::vector<core::build_record> running(const std::string& builder) const = 0;
  virtual std::vector<core::build_record> pending(const std::string& builder) const = 0;
  virtual std::optional<core::build_record> last_finished(const std::string& builder) const = 0;
  virtual bool accepting() const = 0;
  virtual std::vector<worker_info> workers() const = 0;

  // Clean shutdown: refuse new builds and stop once none runs. Immediate:
  // interrupt running builds (EXCEPTION) and stop. Cancel: only a clean one.
  virtual shutdown_state shutdown_status() const = 0;
  virtual void request_shutdown(shutdown_state how, const std::string& why) = 0;
  virtual bool cancel_shutdown() = 0;
  virtual std::size_t running_count() const = 0;
};

struct master_options {
  std::filesystem::path work_root;  // builds run in work_root/<builder>
  int max_builds = 4;               // global cap on running builds
  std::chrono::milliseconds stop_grace{5000};
  std::map<std::string, std::string> base_env;  // environment every step starts from
};

class master final : public control {
 public:
  master(boost::asio::io_context& io, core::feed& feed, std::vector<core::builder_spec> builders,
         master_options options, std::shared_ptr<spdlog::logger> log);
  ~master() override;
  master(const master&) = delete;
  master& operator=(const master&) = delete;

  // Restores numbering and history, closes builds left running as EXCEPTION
  // ("interrupted by restart") and queues requests left pending, then starts them.
  void recover(const std::map<std::string, core::builder_history>& history,
               std::vector<core::build_record> unfinished);

  // Called once when a requested shutdown completes (no build runs any more).
  void set_on_shutdown(std::function<void()> done) { on_shutdown_done_ = std::move(done); }
  // Refuses new builds, interrupts running ones, and calls the shutdown handler once none runs.
  void shutdown(const std::string& why) { request_shutdown(shutdown_state::immediate, why); }

  std::span<const core::builder_spec> builders() const override { return builders_; }
  const core::builder_spec* find_builder(std::string_view name) const override;
  std::int64_t force(core::build_request request) override;
  std::vector<std::int64_t> stop(const std::string& builder, const std::string& why) override;
  std::vector<core::build_record> running(const std::string& builder) const override;
  std::vector<core::build_record> pending(const std::string& builder) const override;
  std::optional<core::build_record> last_finished(const std::string& builder) const override;
  bool accepting() const override { return shutdown_ == shutdown_state::none; }
  std::vector<worker_info> workers() const override;
  shutdown_state shutdown_status() const override { return shutdown_; }
  void request_shutdown(shutdown_state how, const std::string& why) override;
  bool cancel_shutdown() override;
  std::size_t running_count() const override { return static_cast<std::size_t>(running_total_); }

 private:
  struct active_build;
  struct builder_slot;

  builder_slot& slot(const std::string& name);
  const builder_slot* find_slot(std::string_view name) const;
  void start_ready();
  void start(std::shared_ptr<active_build> b);
  void run_step(const std::shared_ptr<active_build>& b, std::size_t index);
  void step_done(const std::shared_ptr<active_build>& b, std::size_t index, core::result r, std::string text);
  void finish(builder_slot& s, core::build_record record, core::result r, std::string text);
  void maybe_done_shutting_down();

  boost::asio::io_context& io_;
  core::feed& feed_;
  std::vector<core::builder_spec> builders_;
  master_options options_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<std::string, std::unique_ptr<builder_slot>, std::less<>> slots_;
  std::deque<std::shared_ptr<active_build>> queue_;  // global FIFO of pending builds
  int running_total_ = 0;
  shutdown_state shutdown_ = shutdown_state::none;
  bool shutdown_done_ = false;
  std::function<void()> on_shutdown_done_;
};

// Checks a property name: letters, digits and '_', not starting with a digit.
bool valid_property_name(std::string_view name);

}  // namespace herald::builds
