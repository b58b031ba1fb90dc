// Formatters: reporter templates rendered with kainjow-mustache. Every template
// has a default; a template that fails to render falls back to it, with a log line.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/reporter.hpp"
#include "notifiers/report.hpp"

namespace spdlog {
class logger;
}

namespace herald::notifiers {

class formatter {
 public:
  // Parses the spec's templates once. A template that does not parse is logged
  // and replaced by the default (config/ rejects those already; this is the
  // second line of defence).
  formatter(const core::reporter_spec& spec, std::shared_ptr<spdlog::logger> log);
  ~formatter();
  formatter(formatter&&) noexcept;
  formatter& operator=(formatter&&) noexcept;

  std::string subject(const report& r) const;  // one line, no CR/LF
  std::string body(const report& r) const;     // plain text for mail; the chat message text
  std::string payload(const report& r) const;  // http: a JSON document (falls back to the default JSON)
  // Renders a small template from the spec (a status context, a zulip topic);
  // one line, no CR/LF/NUL. On failure: `fallback`.
  std::string render(std::string_view tmpl, const report& r, std::string_view fallback) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace herald::notifiers
