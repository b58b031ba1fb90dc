// Senders: what each reporter type sends for a report (plan) and how a stored
// request is turned into a real one when it is attempted (resolve). Each
// provider's endpoint, fields and state mapping are in docs/reporters.md.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/reporter.hpp"
#include "notifiers/format.hpp"
#include "notifiers/report.hpp"
#include "notifiers/request.hpp"

namespace herald::notifiers {

// The requests a reporter makes for one report; none when the report does not
// apply (a commit status for a build without a revision). No secrets inside.
std::vector<planned> plan(const core::reporter_spec& spec, const formatter& fmt, const report& r);

// A stored request made real at attempt time: URL and credentials from the spec.
struct endpoint {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // the request's plus auth
  std::string username, password;                           // basic auth / SMTP AUTH; empty: none
};
// Takes the request's headers over: pass an rvalue when it is not needed after.
endpoint resolve(const core::reporter_spec& spec, request req);

}  // namespace herald::notifiers
