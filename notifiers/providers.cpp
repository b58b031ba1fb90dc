// Senders: the request each reporter type makes for a report (plan) and the
// credentials added when it is attempted (resolve). Endpoints, fields, state
// mappings and length limits, with links to each provider's documentation, are
// in docs/reporters.md; keep the two in step.
#include "notifiers/providers.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "notifiers/transfer.hpp"

namespace herald::notifiers {
namespace {

using core::reporter_type;
using core::result;
using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---- encodings

// RFC 3986 percent-encoding of everything but the unreserved characters, so a
// '/' inside a path part ("group/project", a Gerrit project) stays one part.
std::string pct(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

// application/x-www-form-urlencoded.
std::string form(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += pct(name) + "=" + pct(value);
  }
  return out;
}

std::string hex_digest(const EVP_MD* md, std::string_view s) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(s.data(), s.size(), digest, &len, md, nullptr) != 1) throw std::runtime_error("EVP_Digest failed");
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

// ---- lengths

enum class unit { bytes, utf16 };  // utf16: what "characters" means to the strictest counter

std::size_t sequence_length(unsigned char lead) {
  if (lead >= 0xF0 && lead <= 0xF7) return 4;
  if (lead >= 0xE0) return lead <= 0xEF ? 3 : 1;
  if (lead >= 0xC0) return 2;
  return 1;
}

// `s` cut to at most `max` units on a UTF-8 boundary; a cut text ends in "…".
std::string truncate(std::string_view s, std::size_t max, unit u) {
  auto cost = [u](std::size_t len) -> std::size_t { return u == unit::bytes ? len : len == 4 ? 2 : 1; };
  std::size_t total = 0;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = std::min(sequence_length(static_cast<unsigned char>(s[i])), s.size() - i);
    total += cost(len);
    i += len;
  }
  if (total <= max) return std::string(s);
  std::string_view ellipsis = "\xE2\x80\xA6";
  std::size_t room = max >= cost(3) ? max - cost(3) : max;
  std::size_t used = 0, end = 0;
  while (end < s.size()) {
    std::size_t len = std::min(sequence_length(static_cast<unsigned char>(s[end])), s.size() - end);
    if (used + cost(len) > room) break;
    used += cost(len);
    end += len;
  }
  std::string out(s.substr(0, end));
  if (max >= cost(3)) out += ellipsis;
  return out;
}

std::string flatten(std::string_view s) {
  std::string out(s);
  std::replace_if(out.begin(), out.end(), [](char c) { return c == '\n' || c == '\t'; }, ' ');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// scheme://[userinfo@]host[:port]/... -> host[:port], lower-case; never the userinfo.
std::string host_of(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  std::string host(url);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host;
}

std::optional<std::pair<std::string, std::string>> split_repository(std::string_view repo) {
  auto slash = repo.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == repo.size()) return std::nullopt;
  return std::pair{std::string(repo.substr(0, slash)), std::string(repo.substr(slash + 1))};
}

// ---- states: none is a started report; a finished report without an outcome is an exception

using phase = std::optional<result>;

phase phase_of(const report& r) {
  if (r.kind == report_kind::started) return std::nullopt;
  return r.outcome.value_or(result::exception);
}

std::string_view phase_word(phase p) { return p ? core::result_word(*p) : "started"; }

// A RETRY build is followed by another build of the same request: the commit's
// outcome is not known yet, so every forge shows it as still in progress.
std::string_view github_state(phase p) {
  if (!p) return "pending";
  switch (*p) {
    case result::success:
    case result::warnings:
    case result::skipped: return "success";
    case result::failure: return "failure";
    case result::retry: return "pending";
    case result::exception:
    case result::cancelled: return "error";
  }
  return "error";
}

std::string_view gitlab_state(phase p) {
  if (!p) return "running";
  switch (*p) {
    case result::success:
    case result::warnings: return "success";
    case result::skipped: return "skipped";
    case result::failure:
    case result::exception: return "failed";
    case result::retry: return "pending";
    case result::cancelled: return "canceled";
  }
  return "failed";
}

std::string_view bitbucket_cloud_state(phase p) {
  if (!p) return "INPROGRESS";
  switch (*p) {
    case result::success:
    case result::warnings:
    case result::skipped: return "SUCCESSFUL";
    case result::failure:
    case result::exception: return "FAILED";
    case result::retry: return "INPROGRESS";
    case result::cancelled: return "STOPPED";
  }
  return "FAILED";
}

// The repository's builds resource (Bitbucket 7.4 and later) has CANCELLED; the
// older build-status API (deprecated since 7.14) does not.
std::string_view bitbucket_server_state(phase p, bool has_cancelled) {
  if (!p) return "INPROGRESS";
  switch (*p) {
    case result::success:
    case result::warnings:
    case result::skipped: return "SUCCESSFUL";
    case result::retry: return "INPROGRESS";
    case result::cancelled: return has_cancelled ? "CANCELLED" : "FAILED";
    case result::failure:
    case result::exception: return "FAILED";
  }
  return "FAILED";
}

// ---- common pieces

constexpr std::size_t github_description_max = 140;   // characters
constexpr std::size_t gitlab_field_max = 255;         // characters: description, name, ref, target_url
constexpr std::size_t bitbucket_text_max = 255;       // characters: name, description (Server's limit, Cloud's cap)
constexpr std::size_t bitbucket_cloud_key_max = 40;
constexpr std::size_t bitbucket_server_key_max = 255;
constexpr std::size_t bitbucket_server_field_max = 255;  // characters: every field but url
constexpr std::size_t bitbucket_server_url_max = 450;    // characters
constexpr std::size_t gerrit_message_max = 15000;     // bytes; Gerrit's default commentSizeLimit is 16 KiB
constexpr std::size_t slack_text_max = 40000;         // characters
constexpr std::size_t mattermost_text_max = 16383;    // characters
constexpr std::size_t discord_content_max = 2000;     // characters
constexpr std::size_t teams_text_max = 16000;         // bytes of text; the whole message must stay under 28 KB
constexpr std::size_t teams_max_blocks = 40;
constexpr std::size_t matrix_body_max = 30000;        // bytes; a whole event must stay under 64 KiB
constexpr std::size_t telegram_text_max = 4096;       // characters (UTF-16 code units)
constexpr std::size_t zulip_content_max = 10000;      // bytes
constexpr std::size_t zulip_topic_max = 60;           // characters

struct context {
  const core::reporter_spec& spec;
  const formatter& fmt;
  const report& r;

  std::string kind() const { return r.kind == report_kind::started ? "started" : "finished"; }
  std::string id() const { return fmt::format("{}/{}/{}/{}", spec.name, r.builder, r.number, kind()); }
  std::string build() const { return fmt::format("{}#{}", r.builder, r.number); }
  std::string sha() const { return r.request.revision; }
  std::string short_sha() const { return r.request.revision.substr(0, 7); }
  std::string status_context() const { return fmt.render(spec.context, r, "herald/" + r.builder); }
  std::string description(std::size_t max) const { return truncate(flatten(fmt.body(r)), max, unit::utf16); }

  // The chat message: the body, after the subject line when a subject template is set.
  std::string chat_text() const {
    std::string text = fmt.body(r);
    if (!spec.subject_template.empty()) {
      std::string s = fmt.subject(r);
      text = trim(text).empty() ? s : s + "\n" + text;
    }
    if (trim(text).empty()) text = fmt.subject(r);
    return text;
  }

  request json_request(std::string method, std::string path, const json& body) const {
    request req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.headers = {{"Content-Type", "application/json"}, {"User-Agent", "herald"}};
    req.body = dump(body);
    return req;
  }

  // The one request planned, moved into its vector (a braced list would copy it, body and all).
  std::vector<planned> make(request req, std::string key, std::string summary, std::string id_ = {}) const {
    std::vector<planned> out(1);
    auto& p = out.front();
    p.id = id_.empty() ? id() : std::move(id_);
    p.key = std::move(key);
    p.req = std::move(req);
    p.summary = std::move(summary);
    return out;
  }

  std::string status_key(std::string_view target, const std::string& ctx) const {
    return fmt::format("{}:{}|{}|{}", core::reporter_type_name(spec.type), target, sha(), ctx);
  }
  std::string status_summary(std::string_view state) const {
    return fmt::format("{} status {} for {} on {}", core::reporter_type_name(spec.type), state, build(), short_sha());
  }
  std::string message_summary() const {
    return fmt::format("{} message for {} {}", core::reporter_type_name(spec.type), build(), phase_word(phase_of(r)));
  }
};

// ---- commit statuses

std::vector<planned> plan_github(const context& c) {
  auto repo = split_repository(c.spec.repository);
  if (c.sha().empty() || !repo) return {};
  std::string ctx = c.status_context();
  auto state = github_state(phase_of(c.r));
  json body = {{"state", state}, {"context", ctx}, {"description", c.description(github_description_max)}};
  if (!c.r.build_url.empty()) body["target_url"] = c.r.build_url;
  auto path = fmt::format("/repos/{}/{}/statuses/{}", pct(repo->first), pct(repo->second), pct(c.sha()));
  auto req = c.json_request("POST", path, body);
  req.headers.emplace_back("Accept", "application/vnd.github+json");
  req.headers.emplace_back("X-GitHub-Api-Version", "2022-11-28");
  return c.make(std::move(req), c.status_key(c.spec.repository, ctx), c.status_summary(state));
}

std::vector<planned> plan_gitlab(const context& c) {
  if (c.sha().empty() || c.spec.repository.empty()) return {};
  std::string ctx = c.status_context();
  auto state = gitlab_state(phase_of(c.r));
  json body = {{"state", state},
               {"name", truncate(ctx, gitlab_field_max, unit::utf16)},
               {"description", c.description(gitlab_field_max)}};
  // A cut ref or URL would be wrong, so an overlong one is left out instead.
  if (!c.r.request.branch.empty() && c.r.request.branch.size() <= gitlab_field_max) body["ref"] = c.r.request.branch;
  if (!c.r.build_url.empty() && c.r.build_url.size() <= gitlab_field_max) body["target_url"] = c.r.build_url;
  auto path = fmt::format("/projects/{}/statuses/{}", pct(c.spec.repository), pct(c.sha()));
  auto req = c.json_request("POST", path, body);
  req.headers.emplace_back("Accept", "application/json");
  return c.make(std::move(req), c.status_key(c.spec.repository, ctx), c.status_summary(state));
}

// Bitbucket keys are identifiers, not text: one that is too long is replaced by
// its SHA-1 in hex (40 characters), as Buildbot does, rather than cut.
std::string bitbucket_key(const std::string& ctx, std::size_t max) {
  return ctx.size() <= max ? ctx : hex_digest(EVP_sha1(), ctx);
}

std::vector<planned> plan_bitbucket_cloud(const context& c) {
  auto repo = split_repository(c.spec.repository);
  if (c.sha().empty() || !repo) return {};
  std::string ctx = c.status_context();
  auto state = bitbucket_cloud_state(phase_of(c.r));
  // `url` is required: the build, else the builder, else the commit on bitbucket.org.
  std::string url = !c.r.build_url.empty()     ? c.r.build_url
                    : !c.r.builder_url.empty() ? c.r.builder_url
                                               : fmt::format("https://bitbucket.org/{}/{}/commits/{}", pct(repo->first),
                                                             pct(repo->second), pct(c.sha()));
  json body = {{"key", bitbucket_key(ctx, bitbucket_cloud_key_max)},
               {"state", state},
               {"name", truncate(ctx, bitbucket_text_max, unit::utf16)},
               {"url", url},
               {"description", c.description(bitbucket_text_max)}};
  auto req = c.json_request(
      "POST",
      fmt::format("/repositories/{}/{}/commit/{}/statuses/build", pct(repo->first), pct(repo->second), pct(c.sha())),
      body);
  req.headers.emplace_back("Accept", "application/json");
  return c.make(std::move(req), c.status_key(c.spec.repository, ctx), c.status_summary(state));
}

// With `repository` ("PROJECT/repo"): the repository's builds resource, which
// also takes the build number, the branch and the duration. Without it: the
// server-wide build-status API of older servers.
std::vector<planned> plan_bitbucket_server(const context& c) {
  // `url` is required, at most 450 characters; herald has none without [herald] url.
  const auto fits = [](const std::string& u) { return !u.empty() && u.size() <= bitbucket_server_url_max; };
  const std::string& url = fits(c.r.build_url) ? c.r.build_url : c.r.builder_url;
  if (c.sha().empty() || url.empty()) return {};
  const auto repo = split_repository(c.spec.repository);
  std::string ctx = c.status_context();
  auto state = bitbucket_server_state(phase_of(c.r), repo.has_value());
  json body = {{"state", state},
               {"key", bitbucket_key(ctx, bitbucket_server_key_max)},
               {"name", truncate(ctx, bitbucket_text_max, unit::utf16)},
               {"url", url},
               {"description", c.description(bitbucket_text_max)}};
  std::string path = "/rest/build-status/1.0/commits/" + pct(c.sha());
  std::string target = host_of(c.spec.url.reveal());
  if (repo) {
    path = fmt::format("/rest/api/latest/projects/{}/repos/{}/commits/{}/builds", pct(repo->first), pct(repo->second),
                       pct(c.sha()));
    target += "/" + c.spec.repository;
    body["buildNumber"] = std::to_string(c.r.number);
    const auto& branch = c.r.request.branch;
    const std::string ref = branch.empty() || branch.starts_with("refs/") ? branch : "refs/heads/" + branch;
    if (!ref.empty() && ref.size() <= bitbucket_server_field_max) body["ref"] = ref;  // never cut: that names another
    if (c.r.started_at && c.r.finished_at && *c.r.finished_at >= *c.r.started_at)  // not across a clock step back
      body["duration"] = std::chrono::duration_cast<std::chrono::milliseconds>(*c.r.finished_at - *c.r.started_at).count();
  }
  auto req = c.json_request("POST", path, body);
  req.headers.emplace_back("Accept", "application/json");
  return c.make(std::move(req), c.status_key(target, ctx), c.status_summary(state));
}

std::string prop(const report& r, const char* name) {
  auto it = r.request.props.find(name);
  return it == r.request.props.end() ? std::string() : std::string(trim(it->second));
}

std::vector<planned> plan_gerrit(const context& c) {
  // The change: "gerrit_change" (a number, "project~branch~Id", or "number,patchset")
  // or Buildbot's "event.change.number". The revision: the commit, else the patch set.
  std::string change = prop(c.r, "gerrit_change");
  std::string patchset;
  if (auto comma = change.find(','); comma != std::string::npos) {
    patchset = std::string(trim(std::string_view(change).substr(comma + 1)));
    change = std::string(trim(std::string_view(change).substr(0, comma)));
  }
  if (change.empty()) change = prop(c.r, "event.change.number");
  std::string revision = c.sha();
  if (revision.empty()) revision = prop(c.r, "gerrit_patchset");
  if (revision.empty()) revision = prop(c.r, "event.patchSet.number");
  if (revision.empty()) revision = patchset;
  if (change.empty() || revision.empty()) return {};

  phase p = phase_of(c.r);
  json body = {{"message", truncate(c.fmt.body(c.r), gerrit_message_max, unit::bytes)},
               {"tag", "autogenerated:herald"}};
  std::string summary = fmt::format("gerrit review for {} {} on change {}", c.build(), phase_word(p), change);
  if (p) {
    if (auto vote = c.spec.gerrit_votes.find(*p); vote != c.spec.gerrit_votes.end() && !c.spec.gerrit_label.empty()) {
      body["labels"] = {{c.spec.gerrit_label, vote->second}};
      summary += fmt::format(" ({} {:+})", c.spec.gerrit_label, vote->second);
    }
  }
  auto req = c.json_request("POST", fmt::format("/a/changes/{}/revisions/{}/review", pct(change), pct(revision)), body);
  req.headers.emplace_back("Accept", "application/json");
  std::string key = fmt::format("gerrit:{}|{}|{}", host_of(c.spec.url.reveal()), revision, c.status_context());
  return c.make(std::move(req), std::move(key), std::move(summary));
}

// ---- generic HTTP

std::vector<planned> plan_http(const context& c) {
  std::string id = c.id();
  request req;
  req.method = "POST";
  req.headers.reserve(4);
  req.headers.emplace_back("Content-Type", "application/json");
  req.headers.emplace_back("User-Agent", "herald");
  req.headers.emplace_back("Idempotency-Key", id);
  req.headers.emplace_back("X-Herald-Delivery", id);
  req.body = c.fmt.payload(c.r);
  return c.make(std::move(req), {}, fmt::format("http post for {}#{} {}", c.r.builder, c.r.number, phase_word(phase_of(c.r))),
                std::move(id));
}

// ---- chat

std::vector<planned> plan_slack(const context& c) {
  json body = {{"text", truncate(c.chat_text(), slack_text_max, unit::utf16)}};
  if (!c.spec.room.empty()) body["channel"] = c.spec.room;
  return c.make(c.json_request("POST", "", body), {}, c.message_summary());
}

std::vector<planned> plan_mattermost(const context& c) {
  json body = {{"text", truncate(c.chat_text(), mattermost_text_max, unit::utf16)}};
  if (!c.spec.room.empty()) body["channel"] = c.spec.room;
  if (!c.spec.username.empty()) body["username"] = c.spec.username;
  return c.make(c.json_request("POST", "", body), {}, c.message_summary());
}

std::vector<planned> plan_discord(const context& c) {
  json body = {{"content", truncate(c.chat_text(), discord_content_max, unit::utf16)},
               {"allowed_mentions", {{"parse", json::array()}}}};
  return c.make(c.json_request("POST", "", body), {}, c.message_summary());
}

std::string_view teams_colour(phase p) {
  if (!p) return "Accent";
  switch (*p) {
    case result::success: return "Good";
    case result::warnings: return "Warning";
    case result::failure:
    case result::exception: return "Attention";
    default: return "Default";
  }
}

std::vector<planned> plan_teams(const context& c) {
  std::string text = truncate(c.chat_text(), teams_text_max, unit::bytes);
  std::vector<std::string> lines;
  std::string_view rest = text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto line = trim(rest.substr(0, nl));
    if (!line.empty()) {
      if (lines.size() < teams_max_blocks) lines.emplace_back(line);
      else lines.back() += "\n\n" + std::string(line);  // a markdown paragraph break inside the last block
    }
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  json blocks = json::array();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json b = {{"type", "TextBlock"}, {"text", lines[i]}, {"wrap", true}};
    if (i == 0) {
      b["weight"] = "Bolder";
      b["color"] = teams_colour(phase_of(c.r));
    }
    blocks.push_back(b);
  }
  json card = {{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
               {"type", "AdaptiveCard"},
               {"version", "1.4"},
               {"body", blocks},
               {"msteams", {{"width", "Full"}}}};
  if (!c.r.build_url.empty())
    card["actions"] = json::array({{{"type", "Action.OpenUrl"}, {"title", "Open build"}, {"url", c.r.build_url}}});
  json body = {{"type", "message"},
               {"attachments", json::array({{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                             {"contentUrl", nullptr},
                                             {"content", card}}})}};
  return c.make(c.json_request("POST", "", body), {}, c.message_summary());
}

std::vector<planned> plan_matrix(const context& c) {
  if (c.spec.room.empty()) return {};
  // The transaction id makes a retried PUT (even after a restart) the same event.
  std::string txn = "herald." + hex_digest(EVP_sha256(), c.id()).substr(0, 32);
  json body = {{"msgtype", "m.notice"},
               {"body", truncate(c.chat_text(), matrix_body_max, unit::bytes)},
               {"m.mentions", json::object()}};  // mentions nobody, whatever the text says
  auto req = c.json_request(
      "PUT", fmt::format("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", pct(c.spec.room), txn), body);
  return c.make(std::move(req), {}, c.message_summary());
}

std::vector<planned> plan_telegram(const context& c) {
  if (c.spec.room.empty()) return {};
  json body = {{"chat_id", c.spec.room},
               {"text", truncate(c.chat_text(), telegram_text_max, unit::utf16)},
               {"link_preview_options", {{"is_disabled", true}}}};
  // The bot token belongs in the path; resolve() puts "/bot<token>" before this.
  return c.make(c.json_request("POST", "/sendMessage", body), {}, c.message_summary());
}

std::vector<planned> plan_zulip(const context& c) {
  if (c.spec.room.empty()) return {};
  std::string topic = truncate(c.fmt.render(c.spec.topic, c.r, c.r.builder), zulip_topic_max, unit::utf16);
  if (topic.empty()) topic = truncate(c.r.builder, zulip_topic_max, unit::utf16);
  request req;
  req.method = "POST";
  req.path = "/api/v1/messages";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"User-Agent", "herald"}};
  req.body = form({{"type", "stream"},
                   {"to", c.spec.room},
                   {"topic", topic},
                   {"content", truncate(c.chat_text(), zulip_content_max, unit::bytes)}});
  return c.make(std::move(req), {}, c.message_summary());
}

// ---- resolve

std::string default_base(reporter_type t) {
  switch (t) {
    case reporter_type::github: return "https://api.github.com";
    case reporter_type::gitlab: return "https://gitlab.com/api/v4";
    case reporter_type::bitbucket_cloud: return "https://api.bitbucket.org/2.0";
    case reporter_type::telegram: return "https://api.telegram.org";
    default: return {};
  }
}

std::string join_url(std::string base, std::string_view path) {
  if (path.empty()) return base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + std::string(path);
}

}  // namespace

std::vector<planned> plan(const core::reporter_spec& spec, const formatter& fmt, const report& r) {
  context c{spec, fmt, r};
  switch (spec.type) {
    case reporter_type::mail: throw std::logic_error("mail is planned by notifiers/mail_plan");
    case reporter_type::http: return plan_http(c);
    case reporter_type::github: return plan_github(c);
    case reporter_type::gitlab: return plan_gitlab(c);
    case reporter_type::bitbucket_cloud: return plan_bitbucket_cloud(c);
    case reporter_type::bitbucket_server: return plan_bitbucket_server(c);
    case reporter_type::gerrit: return plan_gerrit(c);
    case reporter_type::slack: return plan_slack(c);
    case reporter_type::mattermost: return plan_mattermost(c);
    case reporter_type::discord: return plan_discord(c);
    case reporter_type::teams: return plan_teams(c);
    case reporter_type::matrix: return plan_matrix(c);
    case reporter_type::telegram: return plan_telegram(c);
    case reporter_type::zulip: return plan_zulip(c);
  }
  return {};
}

endpoint resolve(const core::reporter_spec& spec, request req) {
  endpoint e;
  const std::string& token = spec.token.reveal();
  if (spec.type == reporter_type::mail) {
    e.url = spec.url.reveal();
    if (!spec.username.empty()) {
      e.username = spec.username;
      e.password = token;
    }
    return e;
  }

  std::string base = spec.url.empty() ? default_base(spec.type) : spec.url.reveal();
  if (spec.type == reporter_type::telegram) {
    while (!base.empty() && base.back() == '/') base.pop_back();
    e.url = base + "/bot" + token + req.path;
  } else {
    e.url = join_url(std::move(base), req.path);
  }

  e.headers = std::move(req.headers);
  // Extra headers come from the spec at attempt time, so a header holding a key
  // never sits in the outbox.
  for (const auto& [name, value] : spec.headers)
    if (!name.empty() && is_line_safe(name) && is_line_safe(value.reveal()) && name.find(':') == std::string::npos)
      e.headers.emplace_back(name, value.reveal());

  auto basic = [&] {
    e.username = spec.username;
    e.password = token;
  };
  auto bearer = [&] {
    if (!token.empty()) e.headers.emplace_back("Authorization", "Bearer " + token);
  };
  switch (spec.type) {
    case reporter_type::github:
    case reporter_type::matrix: bearer(); break;
    case reporter_type::gitlab:
      if (!token.empty()) e.headers.emplace_back("PRIVATE-TOKEN", token);
      break;
    case reporter_type::http:
    case reporter_type::bitbucket_cloud:
    case reporter_type::bitbucket_server:
      if (!spec.username.empty()) basic();
      else bearer();
      break;
    case reporter_type::gerrit:
    case reporter_type::zulip: basic(); break;
    case reporter_type::slack:
    case reporter_type::mattermost:
    case reporter_type::discord:
    case reporter_type::teams:    // the webhook URL is the credential
    case reporter_type::telegram:  // the token is in the path
    case reporter_type::mail: break;
  }
  return e;
}

}  // namespace herald::notifiers
