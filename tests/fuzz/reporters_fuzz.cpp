// libFuzzer target for the push reporters' text handling: fuzzed templates and
// report facts through the formatter, every provider's plan (and plan_mail),
// the outbox's stored-request format (serialize/deserialize) and mail compose.
//
// Input: 4 control bytes (type, flags, outcomes, numbers), then text fields
// separated by 0x1F (list fields split again by 0x1E); missing fields are empty
// (the spec's context/topic keep their defaults). Invariants broken: abort.
#include "core/reporter.hpp"
#include "notifiers/format.hpp"
#include "notifiers/mail.hpp"
#include "notifiers/providers.hpp"
#include "notifiers/report.hpp"
#include "notifiers/reporters.hpp"
#include "notifiers/request.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace core = herald::core;
namespace nt = herald::notifiers;

constexpr std::string_view token_a = "T0KEN-SECRET-xyz";
constexpr std::string_view url_a = "https://hooks.example/SECRET-PATH";
constexpr std::string_view token_b = "T0KEN-OTHER-abc";
constexpr std::string_view url_b = "https://hooks.example/OTHER-PATH";

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  if (!detail.empty())
    std::fprintf(stderr, "  in: %.*s\n", static_cast<int>(std::min<std::size_t>(detail.size(), 2000)), detail.data());
  std::abort();
}

bool has_any(std::string_view s, std::string_view chars) { return s.find_first_of(chars) != std::string_view::npos; }
bool one_line_ok(std::string_view s) { return !has_any(s, std::string_view("\r\n\0", 3)); }

std::string flat(std::string_view s) {
  std::string out(s);
  std::replace_if(out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != lower(prefix[i])) return false;
  return true;
}

// config/'s valid_mail_address: what a reporter's `from` and `to` may be.
bool config_address(std::string_view a) {
  auto at = a.find('@');
  return at != std::string_view::npos && at != 0 && at + 1 < a.size() &&
         a.find('@', at + 1) == std::string_view::npos && !has_any(a, std::string_view(" \t\r\n\0<>,", 8));
}

bool config_builder_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

// Types whose bodies are JSON documents (providers.cpp: json_request, and http's payload).
bool sends_json(core::reporter_type t) { return t != core::reporter_type::zulip && t != core::reporter_type::mail; }

// compose()'s output: CRLF everywhere, short lines, and only the header fields it
// writes itself plus the extra ones (token characters of the given names).
void check_mail(std::string_view msg, const std::vector<std::string>& extra_names) {
  if (msg.size() < 2 || !msg.ends_with("\r\n")) fail("mail does not end in CRLF", msg);
  static constexpr std::array<std::string_view, 11> own{
      "Date", "From", "To", "Subject", "Message-ID", "In-Reply-To", "References", "Auto-Submitted",
      "MIME-Version", "Content-Type", "Content-Transfer-Encoding"};
  bool in_header = true;
  std::size_t from = 0, to = 0, subject = 0, date = 0;
  std::size_t start = 0;
  while (start < msg.size()) {
    auto end = msg.find("\r\n", start);
    if (end == std::string_view::npos) fail("mail line without CRLF", msg.substr(start));
    std::string_view line = msg.substr(start, end - start);
    start = end + 2;
    if (has_any(line, "\r\n")) fail("bare CR or LF in mail", line);
    if (line.size() > 998) fail("mail line longer than 998 octets", line);
    if (!in_header) continue;
    if (line.empty()) {
      in_header = false;
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') continue;  // folded
    if (istarts_with(line, "bcc:") || istarts_with(line, "cc:")) fail("injected Bcc/Cc header", line);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) fail("header line without a field name", line);
    std::string_view name = line.substr(0, colon);
    bool known = std::find(own.begin(), own.end(), name) != own.end() ||
                 std::find(extra_names.begin(), extra_names.end(), name) != extra_names.end();
    if (!known) fail("header field compose does not write", line);
    from += name == "From";
    to += name == "To";
    subject += name == "Subject";
    date += name == "Date";
  }
  if (in_header) fail("mail without an empty line after the header", msg);
  if (from != 1 || to != 1 || subject != 1 || date != 1) fail("Date/From/To/Subject not exactly once", msg);
}

// The extra header names compose may write: token characters of the given ones.
std::vector<std::string> token_names(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::string> out;
  for (const auto& [raw, value] : headers) {
    std::string name;
    for (char c : raw)
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos)
        name += c;
    out.push_back(name);
  }
  return out;
}

void check_round_trip(const nt::request& req) {
  auto back = nt::deserialize(nt::serialize(req));
  if (!back) fail("deserialize(serialize(req)) failed", req.path);
  if (back->method != flat(req.method) || back->path != flat(req.path) || back->mail_from != flat(req.mail_from))
    fail("stored request: method/path/mail_from changed", req.path);
  if (back->body != req.body) fail("stored request: body changed", req.body);
  if (back->mail_to.size() != req.mail_to.size()) fail("stored request: recipients lost");
  for (std::size_t i = 0; i < req.mail_to.size(); ++i)
    if (back->mail_to[i] != flat(req.mail_to[i])) fail("stored request: recipient changed", req.mail_to[i]);
  if (back->headers.size() != req.headers.size()) fail("stored request: headers lost");
  for (std::size_t i = 0; i < req.headers.size(); ++i)
    if (back->headers[i].first != flat(req.headers[i].first) || back->headers[i].second != flat(req.headers[i].second))
      fail("stored request: header changed", req.headers[i].first);
}

bool request_holds(const nt::request& req, std::string_view s) {
  if (req.path.find(s) != std::string::npos || req.body.find(s) != std::string::npos) return true;
  for (const auto& [name, value] : req.headers)
    if (name.find(s) != std::string::npos || value.find(s) != std::string::npos) return true;
  return false;
}

std::vector<nt::planned> plan_any(const core::reporter_spec& spec, const nt::formatter& fmt, const nt::report& r,
                                  core::time_point now) {
  return spec.type == core::reporter_type::mail ? nt::plan_mail(spec, fmt, r, now) : nt::plan(spec, fmt, r);
}

std::shared_ptr<spdlog::logger> null_logger() {
  static auto log = std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4 || size > 64 * 1024) return -1;
  const std::uint8_t type_byte = data[0], flags = data[1], outcomes = data[2], numbers = data[3];
  std::string_view text(reinterpret_cast<const char*>(data) + 4, size - 4);
  auto fields = split(text, '\x1f');
  auto field = [&](std::size_t i) { return i < fields.size() ? std::string(fields[i]) : std::string(); };
  auto list = [&](std::size_t i) {
    std::vector<std::string> out;
    if (i < fields.size() && !fields[i].empty())
      for (auto part : split(fields[i], '\x1e')) out.emplace_back(part);
    return out;
  };

  const auto results = core::all_results;
  const std::size_t n_results = std::size(core::all_results);

  // ---- the spec
  core::reporter_spec spec;
  spec.name = "fuzz";
  spec.type = static_cast<core::reporter_type>(type_byte % 14);
  spec.subject_template = field(0);
  spec.body_template = field(1);
  spec.payload_template = field(2);
  spec.token = core::secret(std::string(token_a));
  spec.url = core::secret(std::string(url_a));
  spec.username = "bot";
  spec.repository = field(16);
  spec.room = field(17);
  if (fields.size() > 18) spec.context = field(18);
  if (fields.size() > 19) spec.topic = field(19);
  // config/ accepts bare addresses only for from/to (valid_mail_address): the same here.
  spec.from = config_address(field(20)) ? field(20) : "ci@example.org";
  for (auto& a : list(21))
    if (config_address(a)) spec.to.push_back(a);
  spec.interested_users = (flags & 0x08) != 0;
  spec.lookup_domain = "example.org";
  spec.attach_logs = (flags & 0x10) != 0;
  spec.max_log_bytes = 64u + numbers * 4u;

  // ---- the report
  nt::report r;
  r.kind = (flags & 0x01) ? nt::report_kind::started : nt::report_kind::finished;
  r.seq = numbers;
  r.title = (flags & 0x40) ? std::string() : field(15);
  r.builder = field(3);
  r.number = static_cast<std::int64_t>(numbers) - 8;  // a few negative numbers too
  r.request.builder = r.builder;
  r.request.branch = field(4);
  r.request.revision = field(5);
  r.request.owner = field(6);
  r.request.reason = field(7);
  r.request.codebase = field(14);
  r.text = field(8);
  r.log_excerpt = field(9);
  if (flags & 0x02) r.outcome = results[(outcomes & 0x0F) % n_results];
  if (flags & 0x04) r.previous = results[(outcomes >> 4) % n_results];
  r.status_detected = field(12);
  r.failed_step = field(13);
  int index = 0;
  for (auto& name : list(10)) {
    nt::step_report s;
    s.index = ++index;
    s.name = name;
    if ((outcomes + index) % 3) s.outcome = results[static_cast<std::size_t>(outcomes + index) % n_results];
    s.text = name.size() % 2 ? r.text : std::string();
    s.duration = core::seconds(static_cast<double>(numbers) * index * 37.5);
    r.logs.push_back({name, r.log_excerpt + name, false});
    r.steps.push_back(std::move(s));
  }
  for (auto& prop : list(11)) {
    auto eq = prop.find('=');
    r.request.props[prop.substr(0, eq)] = eq == std::string::npos ? std::string() : prop.substr(eq + 1);
  }
  for (auto& who : list(29)) {
    r.blame.push_back(who);
    r.tags.push_back(who);
  }
  if (flags & 0x80) {
    r.build_url = field(30);
    r.builder_url = field(30);
  }
  const auto epoch = core::time_point{} + std::chrono::seconds(1'700'000'000);
  if (flags & 0x20) {
    r.started_at = epoch + std::chrono::seconds(outcomes * 1000);
    r.finished_at = *r.started_at + std::chrono::seconds(numbers * 61);
  }

  // ---- 1. the formatter
  nt::formatter fmt(spec, null_logger());
  const std::string subject = fmt.subject(r);
  if (!one_line_ok(subject)) fail("subject holds CR/LF/NUL", subject);
  const std::string body = fmt.body(r);
  if (has_any(body, std::string_view("\r\0", 2))) fail("body holds CR/NUL", body);
  for (const std::string& tmpl : {spec.context, spec.topic, spec.subject_template, spec.body_template}) {
    const std::string line = fmt.render(tmpl, r, field(7));
    if (!one_line_ok(line)) fail("render() holds CR/LF/NUL", line);
  }
  const std::string payload = fmt.payload(r);
  const auto doc = nlohmann::json::parse(payload, nullptr, false);
  if (doc.is_discarded()) fail("payload is not JSON", payload);
  // Receivers may sign or compare the bytes: the default payload, written
  // without a document, must be exactly what nlohmann's dump() makes of it.
  if (doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) != payload)
    fail("payload is not in the canonical dump form", payload);

  // ---- 2. the requests
  // Builder names reach a report only from the config, which allows letters, digits,
  // `.`, `_` and `-` (valid_builder_name); the ids in http's headers are made of them.
  // The formatter above had the raw text; the senders get it as config/ would allow it.
  std::replace_if(r.builder.begin(), r.builder.end(), [](char c) { return !config_builder_char(c); }, '_');
  r.request.builder = r.builder;
  std::vector<nt::planned> plans;
  try {
    plans = plan_any(spec, fmt, r, epoch);
  } catch (const std::exception& e) {
    fail("plan threw", e.what());
  }
  bool leaked_maybe = false;
  for (const auto& p : plans) {
    const auto& req = p.req;
    if (!one_line_ok(req.path)) fail("request path holds CR/LF/NUL", req.path);
    for (const auto& [name, value] : req.headers)
      if (!one_line_ok(name) || !one_line_ok(value)) fail("request header holds CR/LF/NUL", name + ": " + value);
    if (sends_json(spec.type) && nlohmann::json::parse(req.body, nullptr, false).is_discarded())
      fail("request body is not JSON", req.body);
    if (spec.type == core::reporter_type::mail) {
      if (!one_line_ok(req.mail_from)) fail("envelope sender holds CR/LF/NUL", req.mail_from);
      for (const auto& a : req.mail_to)
        if (!one_line_ok(a)) fail("envelope recipient holds CR/LF/NUL", a);
      check_mail(req.body, {"X-Herald-Builder", "X-Herald-Build", "X-Herald-Result"});
    }
    if (request_holds(req, token_a) || request_holds(req, url_a)) leaked_maybe = true;
    check_round_trip(req);
  }
  // A secret in a request: a leak unless the fuzzed text itself spells it, which
  // planning again with other secrets tells apart.
  if (leaked_maybe) {
    core::reporter_spec other = spec;
    other.token = core::secret(std::string(token_b));
    other.url = core::secret(std::string(url_b));
    nt::formatter fmt_b(other, null_logger());
    auto again = plan_any(other, fmt_b, r, epoch);
    bool spelled = false;
    for (const auto& p : again)
      if (request_holds(p.req, token_a) || request_holds(p.req, url_a)) spelled = true;
    if (!spelled) fail("a secret of the spec is in a planned request");
  }

  // ---- 3. stored requests built from fuzzed fields, and any text as one
  nt::request fuzzed;
  fuzzed.method = field(27);
  fuzzed.path = field(22);
  fuzzed.body = field(23);
  fuzzed.mail_from = field(20);
  fuzzed.mail_to = list(21);
  // Header names are herald's constants, never ": " (the stored separator).
  if (flat(field(27)).find(": ") == std::string::npos) fuzzed.headers.emplace_back(field(27), field(28));
  check_round_trip(fuzzed);
  (void)nt::deserialize(std::string(text));

  // ---- 4. mail compose with hostile parts
  nt::mail_message m;
  m.from = field(20);
  m.to = list(21);
  m.subject = field(22);
  m.body = field(23);
  m.message_id = field(3);
  m.thread_id = field(4);
  m.date = epoch + std::chrono::seconds(static_cast<std::int64_t>(numbers) * 86'400 * 40);
  m.headers = {{field(27), field(28)}, {"X-Injected", "x\r\nBcc: victim@example.org"}, {"Cc", "victim@example.org"}};
  if (flags & 0x10) {
    nt::mail_attachment a;
    a.filename = field(24);
    if (fields.size() > 25) a.content_type = field(25);
    a.data = field(26);
    m.attachments.push_back(std::move(a));
  }
  check_mail(nt::compose(m), token_names(m.headers));
  for (const std::string& v : {field(22), field(28)}) {
    const std::string enc = nt::encode_header_value(v);
    // Folded as "\r\n " between encoded-words; nothing else may break the line.
    std::string unfolded = enc;
    for (auto at = unfolded.find("\r\n "); at != std::string::npos; at = unfolded.find("\r\n ", at))
      unfolded.erase(at, 2);
    if (!one_line_ok(unfolded)) fail("encode_header_value holds CR/LF/NUL", enc);
  }
  return 0;
}
