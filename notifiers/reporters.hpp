// The push reporters on the event feed: for each build event, each reporter's
// generator decides, its formatter words the report, its provider plans the
// requests, and the outbox delivers them through the transfer thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/event.hpp"
#include "core/reporter.hpp"
#include "notifiers/format.hpp"
#include "notifiers/outbox.hpp"
#include "notifiers/report.hpp"
#include "notifiers/request.hpp"
#include "notifiers/transfer.hpp"

namespace spdlog {
class logger;
}

namespace herald::notifiers {

struct site {
  std::string title = "herald";
  std::string url;  // [herald] url: base for build links; empty: none
};

// A stored request as text (JSON), and back; nullopt when the text is not one.
std::string serialize(const request& r);
std::optional<request> deserialize(const std::string& text);

// The mail a mail reporter sends for a report (subject/body from `fmt`).
std::vector<planned> plan_mail(const core::reporter_spec& spec, const formatter& fmt, const report& r,
                               core::time_point now);

class reporters {
 public:
  // `builder_tags`: builder name -> its tags (for the generators' tag filters).
  reporters(std::vector<core::reporter_spec> specs, std::map<std::string, std::vector<std::string>> builder_tags,
            site s, outbox& box, transfer& xfer, scheduler& sched, std::shared_ptr<spdlog::logger> log);
  ~reporters();

  void on_event(const core::event& e);
  bool empty() const { return specs_.empty(); }

 private:
  struct tracked;
  std::unique_ptr<tracked> track(const core::event_header& h, const core::build_request& request,
                                 std::optional<core::time_point> started_at) const;
  void report_on(tracked& t, report_kind kind, const core::event& e);
  void send(const core::reporter_spec& spec, const storage::delivery& d,
            std::function<void(attempt_outcome)> done);

  std::vector<core::reporter_spec> specs_;
  std::vector<formatter> formatters_;
  std::map<std::string, std::vector<std::string>> builder_tags_;
  site site_;
  outbox& box_;
  transfer& xfer_;
  scheduler& sched_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<std::pair<std::string, std::int64_t>, std::unique_ptr<tracked>> builds_;
  std::size_t log_cap_ = 16 * 1024;
};

}  // namespace herald::notifiers
