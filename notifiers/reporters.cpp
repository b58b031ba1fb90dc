#include "notifiers/reporters.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "core/links.hpp"
#include "notifiers/generator.hpp"
#include "notifiers/mail.hpp"
#include "notifiers/providers.hpp"

namespace herald::notifiers {
namespace {

using namespace std::chrono;

// The last `lines` lines of `text`.
std::string tail_lines(const std::string& text, int lines) {
  std::size_t at = text.size();
  if (at && text[at - 1] == '\n') --at;
  while (at > 0 && lines > 0) {
    auto nl = text.rfind('\n', at - 1);
    if (nl == std::string::npos) return text;
    at = nl;
    --lines;
  }
  return at == 0 ? text : text.substr(at + 1);
}

// Letters, digits and `.-_` only: for Message-IDs and attachment names.
std::string token_of(std::string_view s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '.';
  return out.empty() ? std::string("x") : out;
}

std::string address_of(std::string_view who, const std::string& lookup_domain) {
  auto lt = who.find('<');
  auto gt = who.rfind('>');
  if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt) who = who.substr(lt + 1, gt - lt - 1);
  while (!who.empty() && who.front() == ' ') who.remove_prefix(1);
  while (!who.empty() && who.back() == ' ') who.remove_suffix(1);
  if (who.empty()) return {};
  auto ok = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("._+-@").find(c) != std::string_view::npos;
  };
  if (!std::ranges::all_of(who, ok)) return {};
  if (who.find('@') != std::string_view::npos) return std::count(who.begin(), who.end(), '@') == 1 ? std::string(who) : "";
  if (lookup_domain.empty()) return {};
  return std::string(who) + "@" + lookup_domain;
}

// `text` with the reporter's secrets (and the URL's path, which may hold a
// token) replaced by "***".
std::string without_secrets(std::string text, const core::reporter_spec& spec) {
  auto scrub = [&](const std::string& secret) {
    if (secret.size() < 4) return;  // too short to be a credential; would mangle the text
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
      text.replace(at, secret.size(), "***");
  };
  scrub(spec.token.reveal());
  scrub(spec.url.reveal());
  const auto& url = spec.url.reveal();
  if (auto scheme = url.find("://"); scheme != std::string::npos)
    if (auto path = url.find('/', scheme + 3); path != std::string::npos) scrub(url.substr(path));
  return text;
}

}  // namespace

// ---- stored requests
//
// A line format, not JSON: the body (often a JSON document itself) is stored
// as it is, without a second round of escaping and parsing per delivery.
//   herald-request/1 LF method LF path LF mail_from LF
//   N LF N recipient lines, M LF M "name: value" lines, then the body.
// Every field but the body is one line; CR and LF in them become spaces
// (the transfer refuses such headers anyway).

namespace {

constexpr std::string_view request_magic = "herald-request/1";

void put_field(std::string& out, std::string_view field) {
  const auto at = out.size();
  out += field;
  std::replace_if(out.begin() + static_cast<std::ptrdiff_t>(at), out.end(), [](char c) { return c == '\r' || c == '\n'; },
                  ' ');
}

void put_line(std::string& out, std::string_view field) {
  put_field(out, field);
  out += '\n';
}

struct line_reader {
  std::string_view text;
  bool ok = true;
  std::string_view next() {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
      ok = false;
      return {};
    }
    auto line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    return line;
  }
  std::size_t count() {
    auto line = next();
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
    if (ec != std::errc() || p != line.data() + line.size() || n > 100000) ok = false;
    return ok ? n : 0;
  }
};

}  // namespace

std::string serialize(const request& r) {
  // The exact size, so the text is one allocation of what it needs (a generous
  // guess lands past malloc's per-thread cache for the usual sizes).
  const fmt::format_int recipients(r.mail_to.size()), headers(r.headers.size());
  std::size_t size = request_magic.size() + r.method.size() + r.path.size() + r.mail_from.size() + 4 +
                     recipients.size() + 1 + headers.size() + 1 + r.body.size();
  for (const auto& a : r.mail_to) size += a.size() + 1;
  for (const auto& [name, value] : r.headers) size += name.size() + 2 + value.size() + 1;
  std::string out;
  out.reserve(size);
  put_line(out, request_magic);
  put_line(out, r.method);
  put_line(out, r.path);
  put_line(out, r.mail_from);
  put_line(out, {recipients.data(), recipients.size()});
  for (const auto& a : r.mail_to) put_line(out, a);
  put_line(out, {headers.data(), headers.size()});
  for (const auto& [name, value] : r.headers) {
    put_field(out, name);
    out += ": ";
    put_line(out, value);
  }
  out += r.body;
  return out;
}

std::optional<request> deserialize(const std::string& text) {
  line_reader in{text};
  if (in.next() != request_magic || !in.ok) return std::nullopt;
  request r;
  r.method = in.next();
  r.path = in.next();
  r.mail_from = in.next();
  const std::size_t recipients = in.count();
  r.mail_to.reserve(std::min<std::size_t>(recipients, 64));
  for (std::size_t i = 0; in.ok && i < recipients; ++i) r.mail_to.emplace_back(in.next());
  const std::size_t headers = in.count();
  r.headers.reserve(std::min<std::size_t>(headers, 64));
  for (std::size_t i = 0; in.ok && i < headers; ++i) {
    auto h = in.next();
    auto colon = h.find(": ");
    if (colon == std::string_view::npos) return std::nullopt;
    r.headers.emplace_back(std::string(h.substr(0, colon)), std::string(h.substr(colon + 2)));
  }
  if (!in.ok) return std::nullopt;
  r.body = in.text;
  return r;
}

// ---- mail

std::vector<planned> plan_mail(const core::reporter_spec& spec, const formatter& fmt, const report& r,
                               core::time_point now) {
  std::vector<std::string> to;
  std::set<std::string> seen;
  auto add = [&](const std::string& a) {
    if (!a.empty() && seen.insert(a).second) to.push_back(a);
  };
  for (const auto& a : spec.to) add(a);
  if (spec.interested_users) {
    add(address_of(r.request.owner, spec.lookup_domain));
    for (const auto& b : r.blame) add(address_of(b, spec.lookup_domain));
  }
  if (to.empty()) return {};

  const auto from_address = address_of(spec.from, "");
  auto at = from_address.find('@');
  const std::string domain = at == std::string::npos ? "herald.invalid" : from_address.substr(at + 1);
  const char* kind = r.kind == report_kind::started ? "started" : "finished";

  mail_message m;
  m.from = spec.from;
  m.to = to;
  m.subject = fmt.subject(r);
  m.body = fmt.body(r);
  m.message_id = fmt::format("herald.{}.{}.{}.{}@{}", token_of(r.builder), r.number, kind, token_of(spec.name), domain);
  m.thread_id = fmt::format("herald.{}.{}@{}", token_of(r.builder), token_of(r.request.branch), domain);
  m.date = r.finished_at.value_or(r.started_at.value_or(now));
  m.headers = {{"X-Herald-Builder", r.builder}, {"X-Herald-Build", std::to_string(r.number)}};
  if (r.outcome) m.headers.emplace_back("X-Herald-Result", std::string(core::result_name(*r.outcome)));
  if (spec.attach_logs) {
    for (const auto& l : r.logs) {
      mail_attachment a;
      a.filename = token_of(l.step) + ".log";
      a.data = l.text.size() > spec.max_log_bytes ? l.text.substr(l.text.size() - spec.max_log_bytes) : l.text;
      m.attachments.push_back(std::move(a));
    }
  }
  planned p;
  p.id = fmt::format("{}/{}/{}/{}", spec.name, r.builder, r.number, kind);
  p.req.method = "SEND";
  p.req.body = compose(m);
  p.req.mail_from = from_address;
  p.req.mail_to = std::move(to);
  p.summary = fmt::format("mail {} for {}#{} ({} recipient(s))", spec.name, r.builder, r.number, p.req.mail_to.size());
  return {std::move(p)};
}

// ---- the reporters

struct reporters::tracked {
  report base;  // build facts; kind/outcome set per report
  std::map<int, core::time_point> step_started;
  std::map<int, std::string> logs;
};

reporters::reporters(std::vector<core::reporter_spec> specs,
                     std::map<std::string, std::vector<std::string>> builder_tags, site s, outbox& box,
                     transfer& xfer, scheduler& sched, std::shared_ptr<spdlog::logger> log)
    : specs_(std::move(specs)),
      builder_tags_(std::move(builder_tags)),
      site_(std::move(s)),
      box_(box),
      xfer_(xfer),
      sched_(sched),
      log_(std::move(log)) {
  formatters_.reserve(specs_.size());
  for (const auto& spec : specs_) {
    formatters_.emplace_back(spec, log_);
    if (spec.attach_logs) log_cap_ = std::max(log_cap_, spec.max_log_bytes);
    retry_policy policy{spec.retry_initial, spec.retry_max, spec.max_attempts, spec.max_age};
    std::size_t parallel = 8;
    switch (spec.type) {
      case core::reporter_type::slack:
      case core::reporter_type::mattermost:
      case core::reporter_type::discord:
      case core::reporter_type::teams:
      case core::reporter_type::matrix:
      case core::reporter_type::telegram:
      case core::reporter_type::zulip: parallel = 1; break;  // chat keeps its order
      case core::reporter_type::mail: parallel = 4; break;
      default: break;
    }
    if (spec.type == core::reporter_type::bitbucket_server && spec.repository.empty())
      log_->warn("reporter `{}`: without `repository`, Bitbucket Server's build-status 1.0 API is used, "
                 "deprecated since Bitbucket 7.14 and without a cancelled state; set repository = "
                 "\"PROJECT/repo\" for the builds API of Bitbucket 7.4 and later",
                 spec.name);
    // The trusted certificates are read now, not by the first delivery on the
    // loop. resolve() gives the URL itself, or the provider's default.
    if (spec.type != core::reporter_type::mail)
      xfer_.prepare_tls(resolve(spec, request{}).url, spec.tls_verify, spec.tls_ca_file);
    const auto* spec_ptr = &spec;
    box_.add_reporter(spec.name, policy,
                      [this, spec_ptr](const storage::delivery& d, std::function<void(attempt_outcome)> done) {
                        send(*spec_ptr, d, std::move(done));
                      },
                      parallel);
  }
}

reporters::~reporters() = default;

void reporters::send(const core::reporter_spec& spec, const storage::delivery& d,
                     std::function<void(attempt_outcome)> done) {
  auto req = deserialize(d.request);
  if (!req) {
    done({attempt_outcome::kind::permanent, "the stored request is unreadable", {}});
    return;
  }
  const bool smtp = spec.type == core::reporter_type::mail;
  transfer_request t;
  t.body = std::move(req->body);
  if (smtp) {
    t.url = spec.url.reveal();
    t.username = spec.username;
    t.password = spec.token.reveal();
    t.mail_from = std::move(req->mail_from);
    t.mail_to = std::move(req->mail_to);
    t.security = spec.security;
  } else {
    t.method = std::move(req->method);
    auto ep = resolve(spec, std::move(*req));  // its path and headers: taken over, not copied
    t.url = std::move(ep.url);
    t.headers = std::move(ep.headers);
    t.username = std::move(ep.username);
    t.password = std::move(ep.password);
  }
  t.tls_verify = spec.tls_verify;
  if (!spec.tls_ca_file.empty()) t.tls_ca_file = spec.tls_ca_file;  // a path's copy parses it
  t.timeout = duration_cast<milliseconds>(spec.timeout);
  auto finish = [this, &spec, smtp, done = std::move(done)](const transfer_result& r) {
    auto outcome = classify(r, smtp, sched_.now());
    // A peer may echo a credential back in its error text; that text is logged and stored.
    outcome.reason = without_secrets(std::move(outcome.reason), spec);
    done(std::move(outcome));
  };
  if (xfer_.calls_back_on_loop()) {
    xfer_.submit(std::move(t), std::move(finish));
    return;
  }
  xfer_.submit(std::move(t), [this, finish = std::move(finish)](transfer_result r) {
    sched_.post([finish, r = std::move(r)] { finish(r); });
  });
}

std::unique_ptr<reporters::tracked> reporters::track(const core::event_header& h, const core::build_request& request,
                                                     std::optional<core::time_point> started_at) const {
  auto t = std::make_unique<tracked>();
  auto& b = t->base;
  b.title = site_.title;
  b.builder = h.builder;
  b.number = h.number;
  b.request = request;
  b.started_at = started_at;
  if (auto it = builder_tags_.find(h.builder); it != builder_tags_.end()) b.tags = it->second;
  if (!request.owner.empty()) b.blame = {request.owner};
  b.build_url = core::build_url(site_.url, h.builder, h.number);
  b.builder_url = core::builder_url(site_.url, h.builder);
  return t;
}

void reporters::on_event(const core::event& e) {
  if (specs_.empty()) return;
  const auto& h = core::header_of(e);
  const auto key = std::pair(h.builder, h.number);
  std::visit(
      [&](const auto& ev) {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, core::build_started>) {
          auto& t = builds_[key];
          t = track(h, ev.request, h.time);
          report_on(*t, report_kind::started, e);
        } else if constexpr (std::is_same_v<T, core::step_started>) {
          if (auto it = builds_.find(key); it != builds_.end()) {
            it->second->base.steps.push_back({ev.step, ev.name, std::nullopt, {}, std::nullopt});
            it->second->step_started[ev.step] = h.time;
          }
        } else if constexpr (std::is_same_v<T, core::log_appended>) {
          if (auto it = builds_.find(key); it != builds_.end()) {
            auto& text = it->second->logs[ev.step];
            text += ev.text;
            if (text.size() > 2 * log_cap_) text.erase(0, text.size() - log_cap_);
          }
        } else if constexpr (std::is_same_v<T, core::step_finished>) {
          if (auto it = builds_.find(key); it != builds_.end()) {
            for (auto& s : it->second->base.steps)
              if (s.index == ev.step) {
                s.outcome = ev.outcome;
                s.text = ev.text;
                if (auto st = it->second->step_started.find(ev.step); st != it->second->step_started.end())
                  s.duration = duration_cast<core::seconds>(h.time - st->second);
              }
          }
        } else if constexpr (std::is_same_v<T, core::build_finished>) {
          auto it = builds_.find(key);
          std::unique_ptr<tracked> t;
          if (it != builds_.end()) {
            t = std::move(it->second);
            builds_.erase(it);
          } else {  // finished without a start in this run (closed by a restart)
            t = track(h, ev.request, ev.started_at);
          }
          t->base.finished_at = h.time;
          t->base.outcome = ev.outcome;
          t->base.text = ev.text;
          // The failed step's log, else the last step's.
          int log_step = -1;
          for (const auto& s : t->base.steps) {
            if (s.outcome && (*s.outcome == core::result::failure || *s.outcome == core::result::exception) &&
                t->base.failed_step.empty()) {
              t->base.failed_step = s.name;
              log_step = s.index;
            }
          }
          if (log_step < 0 && !t->base.steps.empty()) log_step = t->base.steps.back().index;
          if (auto l = t->logs.find(log_step); l != t->logs.end()) t->base.log_excerpt = tail_lines(l->second, 20);
          for (const auto& s : t->base.steps) {
            if (auto l = t->logs.find(s.index); l != t->logs.end()) {
              bool cut = l->second.size() > log_cap_;
              t->base.logs.push_back({s.name, cut ? l->second.substr(l->second.size() - log_cap_) : l->second, cut});
            }
          }
          report_on(*t, report_kind::finished, e);
        }
      },
      e);
}

void reporters::report_on(tracked& t, report_kind kind, const core::event& e) {
  // One report, adjusted per reporter: a build's logs are not copied for each.
  report& r = t.base;
  r.kind = kind;
  r.seq = core::header_of(e).seq;
  const auto now = sched_.now();  // one reading for the event's deliveries
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    const auto& spec = specs_[i];
    auto wanted = wants(spec.generator, e, r.tags);
    if (!wanted || *wanted != kind) continue;
    if (const auto* f = std::get_if<core::build_finished>(&e)) {
      r.previous = spec.generator.previous_builder_wide ? f->previous_on_builder : f->previous_on_branch;
      if (r.previous == core::result::retry) r.previous.reset();
      r.status_detected = status_detected(f->outcome, r.previous);
    }
    std::vector<planned> plans;
    try {
      plans = spec.type == core::reporter_type::mail ? plan_mail(spec, formatters_[i], r, now)
                                                     : plan(spec, formatters_[i], r);
    } catch (const std::exception& ex) {
      log_->error("reporter {}: cannot report {}#{}: {}", spec.name, r.builder, r.number, ex.what());
      continue;
    }
    for (auto& p : plans) {
      storage::delivery d;
      d.id = std::move(p.id);
      d.reporter = spec.name;
      // Reporters are independent: one's newer state never replaces another's.
      d.key = p.key.empty() ? std::string() : spec.name + "|" + p.key;
      d.seq = r.seq;
      d.request = serialize(p.req);
      d.summary = std::move(p.summary);
      d.created = now;
      d.next_attempt = d.created;
      box_.add(std::move(d));
    }
  }
}

}  // namespace herald::notifiers
