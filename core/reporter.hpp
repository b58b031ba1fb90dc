// Push reporters as plain data: which events a reporter reports (its generator),
// how it words them (templates) and where it sends them. config/ fills these
// from [[reporter]] tables; notifiers/ runs them without knowing the config file.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/builder.hpp"
#include "core/result.hpp"
#include "core/secret.hpp"

namespace herald::core {

// ---- generators: which finished builds a reporter reports
enum class report_mode { failing, passing, warnings, exception, cancelled, change, problem, all };

// "failing", "passing", ..., "all"; case-insensitive.
std::optional<report_mode> parse_report_mode(std::string_view s);
std::span<const std::string_view> report_mode_names();

struct generator_spec {
  std::vector<report_mode> modes = {report_mode::all};  // any one matching reports; empty: no finish
  std::vector<std::string> builders, tags, branches;  // empty: any; branches may hold '*' globs
  bool report_start = false;           // also report build_started (commit statuses go pending)
  bool previous_builder_wide = false;  // Buildbot's builder-wide n-1 instead of same branch
};

// ---- senders
enum class reporter_type {
  mail,
  http,              // JSON POST to any URL
  github,            // commit status
  gitlab,            // commit status
  bitbucket_cloud,   // commit build status
  bitbucket_server,  // Bitbucket Server / Data Center build status
  gerrit,            // review with labels
  slack,             // incoming webhook
  mattermost,        // incoming webhook
  discord,           // webhook
  teams,             // Microsoft Teams workflow/incoming webhook, Adaptive Card
  matrix,            // client-server API, m.notice
  telegram,          // Bot API sendMessage
  zulip,             // REST API, stream message
};

// "mail", "http", "github", ..., "zulip" (the names above).
std::optional<reporter_type> parse_reporter_type(std::string_view s);
std::string_view reporter_type_name(reporter_type t);
std::span<const std::string_view> reporter_type_names();
// Commit-status targets: report_start defaults to true and the latest state wins
// per (target, commit, context).
bool is_status_api(reporter_type t);

enum class smtp_security { none, starttls, tls };  // tls: implicit TLS (smtps://)

struct reporter_spec {
  std::string name;  // unique; names the reporter's deliveries in the outbox and the log
  reporter_type type = reporter_type::http;
  generator_spec generator;

  // Mustache templates (files already read by config/). Empty: herald's default.
  std::string subject_template;  // mail subject; first line of chat messages
  std::string body_template;     // mail body; chat message text; status description
  std::string payload_template;  // http: the whole JSON body (must render to valid JSON)

  // Where to send. Forges: the API base (empty: the provider's public API).
  // http and chat webhooks: the full URL. matrix: the homeserver. telegram: the
  // Bot API base (empty: https://api.telegram.org). zulip: the server.
  // mail: smtp://host:port or smtps://host:port. A secret: webhook URLs hold tokens.
  secret url;
  secret token;          // bearer/API token, app password, bot token, HTTP or SMTP password
  std::string username;  // basic-auth user (bitbucket, gerrit, zulip bot email, smtp, http)
  // http: extra request headers; values are secrets (an API key is often one).
  std::vector<std::pair<std::string, secret>> headers;

  // Commit statuses.
  std::string repository;  // github "owner/repo"; gitlab project id or "group/project";
                           // bitbucket_cloud "workspace/repo"
  std::string context = "herald/{{builder}}";  // status context/name/key (a template)
  // gerrit: the label voted and the vote per result (results not listed: no vote).
  std::string gerrit_label = "Verified";
  std::map<result, int> gerrit_votes = {{result::success, 1}, {result::warnings, 1},
                                        {result::failure, -1}, {result::exception, -1}};

  // Chat.
  std::string room;   // matrix room id, telegram chat_id, zulip stream, slack/mattermost channel
  std::string topic = "{{builder}}";  // zulip topic (a template)

  // Mail.
  std::string from;
  std::vector<std::string> to;          // extra recipients, always sent to
  bool interested_users = false;        // also owner and blame list...
  std::string lookup_domain;            // ...as name@lookup_domain (addresses with '@' as they are)
  smtp_security security = smtp_security::starttls;
  bool tls_verify = true;
  std::filesystem::path tls_ca_file;    // empty: system store
  bool attach_logs = false;
  std::size_t max_log_bytes = 64 * 1024;  // per attached log, the tail is kept

  // Delivery.
  seconds timeout{30};            // per attempt
  seconds retry_initial{1};       // first backoff; doubles each attempt, with jitter
  seconds retry_max{3600};        // backoff cap
  int max_attempts = 0;           // 0: retry until max_age
  seconds max_age{3 * 24 * 3600}; // a delivery still failing this long after it was queued is dead
};

}  // namespace herald::core
