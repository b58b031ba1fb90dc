// Runs builds step by step; every state change goes out as one feed event.
#include "builds/master.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <cstring>
#include <system_error>

#include "builds/process.hpp"

namespace herald::builds {
namespace asio = boost::asio;

struct master::active_build {
  explicit active_build(asio::io_context& io) : timer(io) {}
  core::build_record record;
  const core::builder_spec* spec = nullptr;
  std::shared_ptr<child_process> child;
  asio::steady_timer timer;
  bool timed_out = false;
  std::optional<std::string> stop_reason;  // set when stopped or interrupted
  bool interrupted = false;                 // shutdown: EXCEPTION rather than CANCELLED
  std::optional<core::result> worst;
  std::string failure_text;
};

struct master::builder_slot {
  const core::builder_spec* spec = nullptr;
  std::int64_t last_number = 0;
  std::vector<std::shared_ptr<active_build>> running;
  std::optional<core::build_record> last_finished;
  std::map<std::string, core::result> last_result_by_branch;
  std::optional<core::result> last_result;
};

bool valid_property_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::ranges::all_of(name, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string seconds_text(core::seconds s) {
  auto v = s.count();
  if (v == static_cast<double>(static_cast<long long>(v))) return std::to_string(static_cast<long long>(v)) + " s";
  return fmt::format("{:.1f} s", v);
}

core::result worst_of(std::optional<core::result> a, core::result b) {
  if (!a) return b;
  return core::is_worse(b, *a) ? b : *a;
}

}  // namespace

master::master(asio::io_context& io, core::feed& feed, std::vector<core::builder_spec> builders,
               master_options options, std::shared_ptr<spdlog::logger> log)
    : io_(io), feed_(feed), builders_(std::move(builders)), options_(std::move(options)), log_(std::move(log)) {
  for (const auto& b : builders_) {
    auto s = std::make_unique<builder_slot>();
    s->spec = &b;
    slots_.emplace(b.name, std::move(s));
  }
}

master::~master() {
  for (auto& [name, s] : slots_)
    for (auto& b : s->running)
      if (b->child) b->child->terminate(std::chrono::milliseconds(0));
}

const core::builder_spec* master::find_builder(std::string_view name) const {
  auto s = find_slot(name);
  return s ? s->spec : nullptr;
}

master::builder_slot& master::slot(const std::string& name) { return *slots_.at(name); }

const master::builder_slot* master::find_slot(std::string_view name) const {
  auto it = slots_.find(name);
  return it == slots_.end() ? nullptr : it->second.get();
}

void master::recover(const std::map<std::string, core::builder_history>& history,
                     std::vector<core::build_record> unfinished) {
  for (auto& [name, s] : slots_) {
    auto it = history.find(name);
    if (it == history.end()) continue;
    s->last_number = it->second.last_number;
    s->last_finished = it->second.last_finished;
    s->last_result_by_branch = it->second.last_result_by_branch;
    s->last_result = it->second.last_result;
  }
  for (auto& rec : unfinished) {
    auto* s = slots_.contains(rec.request.builder) ? slots_.at(rec.request.builder).get() : nullptr;
    if (rec.state == core::build_state::running || !s) {
      // A builder that vanished from the config cannot run its pending builds either.
      std::string why = s ? "interrupted by restart" : "builder no longer configured";
      log_->warn("closing build #{} of {} as EXCEPTION: {}", rec.number, rec.request.builder, why);
      if (s) {
        finish(*s, std::move(rec), core::result::exception, why);
      } else {
        core::build_finished ev;
        ev.header.builder = rec.request.builder;
        ev.header.number = rec.number;
        ev.request = rec.request;
        ev.outcome = core::result::exception;
        ev.text = why;
        feed_.publish(std::move(ev));
      }
      continue;
    }
    auto b = std::make_shared<active_build>(io_);
    b->record = std::move(rec);
    b->spec = s->spec;
    queue_.push_back(std::move(b));
  }
  core::worker_state online;
  online.worker = "local";
  online.online = true;
  feed_.publish(std::move(online));
  start_ready();
}

std::int64_t master::force(core::build_request request) {
  if (shutdown_ != shutdown_state::none) throw request_error("herald is shutting down and starts no new builds");
  auto it = slots_.find(request.builder);
  if (it == slots_.end()) throw request_error("no such builder `" + request.builder + "`");
  for (const auto& [k, v] : request.props)
    if (!valid_property_name(k)) throw request_error("bad property name `" + k + "` (letters, digits and _ only)");
  auto& s = *it->second;
  auto b = std::make_shared<active_build>(io_);
  b->spec = s.spec;
  b->record.request = std::move(request);
  b->record.number = ++s.last_number;
  b->record.requested_at = core::clock::now();
  core::build_requested ev;
  ev.header.builder = b->record.request.builder;
  ev.header.number = b->record.number;
  ev.header.time = b->record.requested_at;
  ev.request = b->record.request;
  auto number = b->record.number;
  queue_.push_back(std::move(b));
  feed_.publish(std::move(ev));
  start_ready();
  return number;
}

void master::start_ready() {
  if (shutdown_ != shutdown_state::none) return;
  for (auto it = queue_.begin(); it != queue_.end() && running_total_ < options_.max_builds;) {
    auto& s = slot((*it)->record.request.builder);
    if (static_cast<int>(s.running.size()) >= s.spec->max_builds) {
      ++it;
      continue;
    }
    auto b = std::move(*it);
    it = queue_.erase(it);
    start(std::move(b));
  }
}

void master::start(std::shared_ptr<active_build> b) {
  auto& s = slot(b->record.request.builder);
  s.running.push_back(b);
  ++running_total_;
  b->record.state = core::build_state::running;
  b->record.started_at = core::clock::now();
  core::build_started ev;
  ev.header.builder = b->record.request.builder;
  ev.header.number = b->record.number;
  ev.header.time = *b->record.started_at;
  ev.request = b->record.request;
  feed_.publish(std::move(ev));
  run_step(b, 0);
}

void master::run_step(const std::shared_ptr<active_build>& b, std::size_t index) {
  const auto& steps = b->spec->steps;
  auto& s = slot(b->record.request.builder);
  if (index >= steps.size() || b->stop_reason) {
    core::result r = b->worst.value_or(core::result::success);
    std::string text = b->failure_text;
    if (b->stop_reason) {
      r = b->interrupted ? core::result::exception : core::result::cancelled;
      text = *b->stop_reason;
    }
    finish(s, b->record, r, std::move(text));
    std::erase(s.running, b);
    --running_total_;
    if (shutdown_ != shutdown_state::none) maybe_done_shutting_down();
    else start_ready();
    return;
  }
  const auto& step = steps[index];
  core::step_record rec;
  rec.index = static_cast<int>(index);
  rec.name = step.name;
  rec.state = core::build_state::running;
  rec.started_at = core::clock::now();
  b->record.steps.push_back(rec);

  core::step_started ev;
  ev.header.builder = b->record.request.builder;
  ev.header.number = b->record.number;
  ev.header.time = *rec.started_at;
  ev.step = rec.index;
  ev.name = step.name;
  feed_.publish(std::move(ev));

  process_spec spec;
  if (auto* argv = std::get_if<std::vector<std::string>>(&step.command)) spec.argv = *argv;
  else spec.argv = {"/bin/sh", "-c", std::get<std::string>(step.command)};
  spec.env = options_.base_env;
  for (const auto& [k, v] : b->spec->env) spec.env[k] = v;
  for (const auto& [k, v] : step.env) spec.env[k] = v;
  // Chat text reaches a step only here, as data in the environment.
  const auto& req = b->record.request;
  for (const auto& [k, v] : req.props) spec.env["HERALD_PROP_" + upper(k)] = v;
  spec.env["HERALD_BUILDER"] = req.builder;
  spec.env["HERALD_BUILD_NUMBER"] = std::to_string(b->record.number);
  spec.env["HERALD_BRANCH"] = req.branch;
  spec.env["HERALD_REVISION"] = req.revision;
  spec.env["HERALD_CODEBASE"] = req.codebase;
  spec.env["HERALD_REASON"] = req.reason;
  spec.env["HERALD_OWNER"] = req.owner;
  spec.env["HERALD_STEP"] = step.name;
  auto workdir = options_.work_root / req.builder;
  std::error_code ec;
  std::filesystem::create_directories(workdir / step.workdir, ec);
  spec.cwd = workdir / step.workdir;

  auto on_output = [this, b, index](std::string_view chunk) {
    core::log_appended log;
    log.header.builder = b->record.request.builder;
    log.header.number = b->record.number;
    log.step = static_cast<int>(index);
    log.text.assign(chunk);
    feed_.publish(std::move(log));
  };
  auto on_exit = [this, b, index, timeout = step.timeout](const process_exit& ex) {
    b->timer.cancel();
    b->child.reset();
    const auto& st = b->spec->steps[index];
    if (ex.spawn_error) {
      step_done(b, index, core::result::exception, "could not start: " + std::string(std::strerror(ex.spawn_error)));
    } else if (b->stop_reason) {
      step_done(b, index, b->interrupted ? core::result::exception : core::result::cancelled, "stopped");
    } else if (b->timed_out) {
      step_done(b, index, core::result::exception, "timed out after " + seconds_text(timeout.value_or(core::seconds{})));
    } else if (ex.exit_code == 0) {
      step_done(b, index, core::result::success, "");
    } else if (ex.exit_code && std::ranges::find(st.warning_exit_codes, *ex.exit_code) != st.warning_exit_codes.end()) {
      step_done(b, index, core::result::warnings, "exit " + std::to_string(*ex.exit_code));
    } else if (ex.exit_code) {
      step_done(b, index, core::result::failure, "exit " + std::to_string(*ex.exit_code));
    } else {
      step_done(b, index, core::result::failure, "killed by signal " + std::to_string(ex.signal.value_or(0)));
    }
  };
  b->child = child_process::spawn(io_, spec, std::move(on_output), std::move(on_exit));
  if (step.timeout) {
    b->timer.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(*step.timeout));
    b->timer.async_wait([this, b](const boost::system::error_code& e) {
      if (e || !b->child) return;
      b->timed_out = true;
      b->child->terminate(options_.stop_grace);
    });
  }
}

void master::step_done(const std::shared_ptr<active_build>& b, std::size_t index, core::result r, std::string text) {
  auto& rec = b->record.steps.back();
  rec.state = core::build_state::finished;
  rec.outcome = r;
  rec.text = text;
  rec.finished_at = core::clock::now();

  core::step_finished ev;
  ev.header.builder = b->record.request.builder;
  ev.header.number = b->record.number;
  ev.header.time = *rec.finished_at;
  ev.step = static_cast<int>(index);
  ev.name = rec.name;
  ev.outcome = r;
  ev.text = text;
  feed_.publish(std::move(ev));

  auto before = b->worst;
  b->worst = worst_of(b->worst, r);
  if (b->worst != before && r != core::result::success)
    b->failure_text = "step `" + rec.name + "` " + std::string(core::result_text(r)) + (text.empty() ? "" : " (" + text + ")");
  const auto& step = b->spec->steps[index];
  bool halt = r == core::result::exception || r == core::result::cancelled ||
              (r == core::result::failure && step.halt_on_failure);
  run_step(b, halt ? b->spec->steps.size() : index + 1);
}

void master::finish(builder_slot& s, core::build_record record, core::result r, std::string text) {
  const auto& branch = record.request.branch;
  core::build_finished ev;
  ev.header.builder = record.request.builder;
  ev.header.number = record.number;
  ev.request = record.request;
  ev.outcome = r;
  ev.text = text;
  ev.started_at = record.started_at;
  if (auto it = s.last_result_by_branch.find(branch); it != s.last_result_by_branch.end())
    ev.previous_on_branch = it->second;
  ev.previous_on_builder = s.last_result;
  if (r != core::result::retry) {
    s.last_result_by_branch[branch] = r;
    s.last_result = r;
  }
  record.state = core::build_state::finished;
  record.outcome = r;
  record.text = text;
  record.finished_at = core::clock::now();
  ev.header.time = *record.finished_at;
  if (!s.last_finished || s.last_finished->number < record.number) s.last_finished = std::move(record);
  feed_.publish(std::move(ev));
}

std::vector<std::int64_t> master::stop(const std::string& builder, const std::string& why) {
  auto it = slots_.find(builder);
  if (it == slots_.end()) throw request_error("no such builder `" + builder + "`");
  auto& s = *it->second;
  std::vector<std::int64_t> stopped;
  // Pending ones first: they never started, so they end at once.
  for (auto q = queue_.begin(); q != queue_.end();) {
    if ((*q)->record.request.builder != builder) {
      ++q;
      continue;
    }
    stopped.push_back((*q)->record.number);
    auto rec = (*q)->record;
    q = queue_.erase(q);
    finish(s, std::move(rec), core::result::cancelled, why);
  }
  for (auto& b : s.running) {
    if (b->stop_reason) continue;
    stopped.push_back(b->record.number);
    b->stop_reason = why;
    b->timer.cancel();
    if (b->child) b->child->terminate(options_.stop_grace);
  }
  std::ranges::sort(stopped);
  return stopped;
}

void master::request_shutdown(shutdown_state how, const std::string& why) {
  if (how == shutdown_state::none || shutdown_done_) return;
  if (shutdown_ != shutdown_state::immediate) shutdown_ = how;
  log_->info("{} shutdown requested: {}", how == shutdown_state::clean ? "clean" : "immediate", why);
  if (how == shutdown_state::immediate) {
    for (auto& [name, s] : slots_)
      for (auto& b : s->running) {
        if (b->stop_reason) continue;
        b->stop_reason = "interrupted by shutdown";
        b->interrupted = true;
        b->timer.cancel();
        if (b->child) b->child->terminate(options_.stop_grace);
      }
  }
  maybe_done_shutting_down();
}

bool master::cancel_shutdown() {
  if (shutdown_ != shutdown_state::clean || shutdown_done_) return false;
  shutdown_ = shutdown_state::none;
  log_->info("clean shutdown cancelled");
  start_ready();
  return true;
}

void master::maybe_done_shutting_down() {
  if (running_total_ != 0 || shutdown_done_) return;
  shutdown_done_ = true;
  core::worker_state ev;
  ev.worker = "local";
  ev.online = false;
  ev.text = "herald is shutting down";
  feed_.publish(std::move(ev));
  if (on_shutdown_done_) std::exchange(on_shutdown_done_, nullptr)();
}

std::vector<worker_info> master::workers() const {
  worker_info w;
  w.name = "local";
  w.slots = options_.max_builds;
  w.online = !shutdown_done_;
  for (const auto& [name, s] : slots_)
    for (const auto& b : s->running) w.busy.emplace_back(name, b->record.number);
  return {w};
}

std::vector<core::build_record> master::running(const std::string& builder) const {
  std::vector<core::build_record> out;
  if (auto s = find_slot(builder))
    for (const auto& b : s->running) out.push_back(b->record);
  return out;
}

std::vector<core::build_record> master::pending(const std::string& builder) const {
  std::vector<core::build_record> out;
  for (const auto& b : queue_)
    if (b->record.request.builder == builder) out.push_back(b->record);
  return out;
}

std::optional<core::build_record> master::last_finished(const std::string& builder) const {
  auto s = find_slot(builder);
  return s ? s->last_finished : std::nullopt;
}

}  // namespace herald::builds
