// Formatters: the mustache context a reporter's templates see, herald's default
// wording, and the escaping each output needs (none for plain text, JSON string
// content for payload templates, Slack's three entities, defused @-mentions).
#include "notifiers/format.hpp"

#include <fmt/format.h>
#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <exception>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace herald::notifiers {
namespace {

namespace mu = kainjow::mustache;
using core::reporter_type;
using core::result;
using json = nlohmann::json;

// ---- text hygiene

bool is_high_byte(char c) { return static_cast<unsigned char>(c) >= 0x80; }  // past ASCII: UTF-8, or not

// Invalid UTF-8 (stray bytes, overlong forms, surrogates, > U+10FFFF) becomes U+FFFD.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    std::size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len >= 3) {
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) ok = false;   // overlong
      if (c == 0xED && c1 >= 0xA0) ok = false;  // surrogate
      if (c == 0xF0 && c1 < 0x90) ok = false;   // overlong
      if (c == 0xF4 && c1 >= 0x90) ok = false;  // > U+10FFFF
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// Drops terminal escape sequences (colours in build logs): CSI, OSC and two-byte ESC forms.
std::string strip_ansi(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\x1b') {
      out += s[i];
      continue;
    }
    if (i + 1 >= s.size()) break;
    char kind = s[i + 1];
    i += 1;
    if (kind == '[') {  // CSI: parameters, then a final byte 0x40-0x7E
      while (i + 1 < s.size()) {
        auto b = static_cast<unsigned char>(s[++i]);
        if (b >= 0x40 && b <= 0x7E) break;
      }
    } else if (kind == ']') {  // OSC: up to BEL or ESC backslash
      while (i + 1 < s.size()) {
        char b = s[++i];
        if (b == '\x07') break;
        if (b == '\x1b' && i + 1 < s.size() && s[i + 1] == '\\') {
          ++i;
          break;
        }
      }
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Printable ASCII only (no controls, DEL, ESC or 8-bit bytes): the text the
// hygiene passes below leave as it is, but for the ends they trim.
bool plain_ascii(std::string_view s, bool newlines_and_tabs) {
  return std::ranges::all_of(s, [newlines_and_tabs](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c >= 0x20 && c < 0x7F) || (newlines_and_tabs && (c == '\n' || c == '\t'));
  });
}

// One line: every C0 control and DEL becomes a space (CRLF one space), ends trimmed.
std::string one_line(std::string_view in) {
  if (plain_ascii(in, false)) return std::string(trim(in));
  std::string s = strip_ansi(valid_utf8(in));
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;  // CRLF: the LF makes the space
    out += c < 0x20 || c == 0x7F ? ' ' : static_cast<char>(c);
  }
  return std::string(trim(out));
}

// Text with LF line ends: CRLF and CR become LF, NUL and DEL go, other controls
// (but TAB) become spaces; trailing blank space is dropped.
std::string multi_line(std::string_view in) {
  if (plain_ascii(in, true)) {
    while (!in.empty() && (in.back() == ' ' || in.back() == '\t' || in.back() == '\n')) in.remove_suffix(1);
    return std::string(in);
  }
  std::string s = strip_ansi(valid_utf8(in));
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      if (i + 1 < s.size() && s[i + 1] == '\n') continue;
      out += '\n';
    } else if (c == 0 || c == 0x7F) {
      continue;
    } else if (c < 0x20 && c != '\n' && c != '\t') {
      out += ' ';
    } else {
      out += static_cast<char>(c);
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\n')) out.pop_back();
  return out;
}

// ---- escapes for {{name}} (triple mustaches are never escaped)

std::string no_escape(const std::string& s) { return s; }

// JSON string content, without the quotes; invalid UTF-8 becomes U+FFFD.
std::string json_escape(const std::string& s) {
  std::string quoted = json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

// Slack's control characters: https://api.slack.com/reference/surfaces/formatting#escaping
std::string slack_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

// An '@' that starts a word (start, after blank space or an opening bracket or
// quote) and is followed by a name, '*' or '_' gets a zero-width space after it,
// so "@all", "@channel" or Zulip's "@**all**" in a branch name or a build's
// reason do not notify anyone. E-mail addresses and URLs are left alone.
std::string defuse_mentions(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    if (s[i] != '@' || i + 1 >= s.size()) continue;
    char prev = i == 0 ? ' ' : s[i - 1];
    bool word_start = prev == ' ' || prev == '\t' || prev == '\n' || prev == '(' || prev == '[' ||
                      prev == '{' || prev == '<' || prev == '"' || prev == '\'';
    auto next = static_cast<unsigned char>(s[i + 1]);
    bool name_follows = std::isalnum(next) || next == '*' || next == '_' || next >= 0x80;
    if (word_start && name_follows) out += "\xE2\x80\x8B";  // U+200B
  }
  return out;
}

using escape_fn = std::function<std::string(const std::string&)>;

bool is_chat(reporter_type t) {
  switch (t) {
    case reporter_type::slack:
    case reporter_type::mattermost:
    case reporter_type::discord:
    case reporter_type::teams:
    case reporter_type::matrix:
    case reporter_type::telegram:
    case reporter_type::zulip: return true;
    default: return false;
  }
}

bool is_commit_status(reporter_type t) {
  return t == reporter_type::github || t == reporter_type::gitlab ||
         t == reporter_type::bitbucket_cloud || t == reporter_type::bitbucket_server;
}

// How values are escaped in chat text of type `t` (plain text elsewhere).
std::string chat_escape(reporter_type t, const std::string& s) {
  switch (t) {
    case reporter_type::slack: return slack_escape(s);
    case reporter_type::mattermost:
    case reporter_type::zulip:
    case reporter_type::telegram: return defuse_mentions(s);
    default: return s;  // discord (allowed_mentions), matrix (m.mentions), teams: none needed
  }
}

// ---- facts

// "2024-05-01T12:00:05Z" (UTC, whole seconds). A time_point of nanoseconds
// spans the years 1677 to 2262, so the year has four digits.
std::string iso8601(core::time_point t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto day = floor<days>(secs);
  const year_month_day ymd(day);
  const hh_mm_ss hms(secs - day);
  const int y = static_cast<int>(ymd.year());
  char text[] = "0000-00-00T00:00:00Z";
  const auto two = [&](std::size_t at, unsigned v) {
    text[at] = static_cast<char>('0' + v / 10);
    text[at + 1] = static_cast<char>('0' + v % 10);
  };
  two(0, static_cast<unsigned>(y / 100));
  two(2, static_cast<unsigned>(y % 100));
  two(5, static_cast<unsigned>(ymd.month()));
  two(8, static_cast<unsigned>(ymd.day()));
  two(11, static_cast<unsigned>(hms.hours().count()));
  two(14, static_cast<unsigned>(hms.minutes().count()));
  two(17, static_cast<unsigned>(hms.seconds().count()));
  return std::string(text, sizeof text - 1);
}

long long whole_seconds(core::seconds d) {
  auto s = static_cast<long long>(d.count() + 0.5);
  return s < 0 ? 0 : s;
}

// "45 s", "1 min 5 s", "2 h 3 min", "1 d 4 h".
std::string human_duration(core::seconds d) {
  long long s = whole_seconds(d);
  auto two = [](long long a, const char* ua, long long b, const char* ub) {
    return b ? fmt::format("{} {} {} {}", a, ua, b, ub) : fmt::format("{} {}", a, ua);
  };
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return two(s / 60, "min", s % 60, "s");
  if (s < 86400) return two(s / 3600, "h", s % 3600 / 60, "min");
  return two(s / 86400, "d", s % 86400 / 3600, "h");
}

std::optional<core::seconds> build_duration(const report& r) {
  if (!r.started_at || !r.finished_at) return std::nullopt;
  return std::chrono::duration_cast<core::seconds>(*r.finished_at - *r.started_at);
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

bool finished(const report& r) { return r.kind == report_kind::finished; }

// A finished report without an outcome is reported as an exception.
result outcome_of(const report& r) { return r.outcome.value_or(result::exception); }

std::string short_revision(const report& r) { return r.request.revision.substr(0, 7); }

// The context's text values (every name is documented in docs/reporters.md);
// nullopt for a name that is not one of them.
constexpr std::string_view scalar_names[] = {
    "title",       "builder",  "number",         "result",   "result_text", "text",        "status_detected",
    "previous_result", "branch", "revision",     "short_revision", "codebase", "reason",     "owner",
    "blame_text",  "tags_text", "failed_step",   "log_excerpt", "build_url", "builder_url", "started",
    "finished",    "duration"};

std::optional<std::string> scalar_of(const report& r, std::string_view name) {
  const bool fin = finished(r);
  if (name == "title") return r.title;
  if (name == "builder") return r.builder;
  if (name == "number") return std::to_string(r.number);
  if (name == "result") return fin ? std::string(core::result_word(outcome_of(r))) : std::string("started");
  if (name == "result_text") return fin ? std::string(core::result_text(outcome_of(r))) : std::string("started");
  if (name == "text") return r.text;
  if (name == "status_detected") return r.status_detected;
  if (name == "previous_result") return r.previous ? std::string(core::result_word(*r.previous)) : std::string();
  if (name == "branch") return r.request.branch;
  if (name == "revision") return r.request.revision;
  if (name == "short_revision") return short_revision(r);
  if (name == "codebase") return r.request.codebase;
  if (name == "reason") return r.request.reason;
  if (name == "owner") return r.request.owner;
  if (name == "blame_text") return join(r.blame, ", ");
  if (name == "tags_text") return join(r.tags, ", ");
  if (name == "failed_step") return r.failed_step;
  if (name == "log_excerpt") return r.log_excerpt;
  if (name == "build_url") return r.build_url;
  if (name == "builder_url") return r.builder_url;
  if (name == "started") return r.started_at ? iso8601(*r.started_at) : std::string();
  if (name == "finished") return r.finished_at ? iso8601(*r.finished_at) : std::string();
  if (name == "duration") {
    auto dur = build_duration(r);
    return dur ? human_duration(*dur) : std::string();
  }
  return std::nullopt;
}

// The template context.
mu::data context_of(const report& r) {
  mu::data d;
  bool fin = finished(r);
  for (auto name : scalar_names) d.set(std::string(name), *scalar_of(r, name));
  d.set("is_started", mu::data{!fin});
  d.set("is_finished", mu::data{fin});
  for (result x : core::all_results) d.set(std::string(core::result_word(x)), mu::data{fin && outcome_of(r) == x});
  mu::data blame{mu::data::type::list};
  for (const auto& b : r.blame) blame.push_back(mu::data{b});
  d.set("blame", blame);
  mu::data tags{mu::data::type::list};
  for (const auto& t : r.tags) tags.push_back(mu::data{t});
  d.set("tags", tags);
  mu::data props{mu::data::type::list};
  for (const auto& [name, value] : r.request.props) {
    mu::data p;
    p.set("name", name);
    p.set("value", value);
    props.push_back(p);
  }
  d.set("properties", props);
  mu::data steps{mu::data::type::list};
  for (const auto& s : r.steps) {
    mu::data st;
    st.set("index", std::to_string(s.index));
    st.set("name", s.name);
    st.set("result", s.outcome ? std::string(core::result_word(*s.outcome)) : std::string());
    st.set("text", s.text);
    st.set("duration", s.duration ? human_duration(*s.duration) : std::string());
    steps.push_back(st);
  }
  d.set("steps", steps);
  return d;
}

// A template of text and {{name}} / {{{name}}} tags for text values only (a
// status context such as "herald/{{builder}}"), rendered without escapes and
// without building the whole context or parsing it as mustache each time; any
// other template (sections, comments, spaces in tags, unknown names): nullopt.
std::optional<std::string> render_plain(std::string_view tmpl, const report& r) {
  std::string out;
  for (;;) {
    auto open = tmpl.find("{{");
    out += tmpl.substr(0, open);
    if (open == std::string_view::npos) return out;
    tmpl.remove_prefix(open + 2);
    const bool triple = !tmpl.empty() && tmpl.front() == '{';
    if (triple) tmpl.remove_prefix(1);
    const std::string_view close = triple ? "}}}" : "}}";
    auto end = tmpl.find(close);
    if (end == std::string_view::npos || end == 0) return std::nullopt;
    auto name = tmpl.substr(0, end);
    if (!std::ranges::all_of(name, [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; })) return std::nullopt;
    auto value = scalar_of(r, name);
    if (!value) return std::nullopt;
    out += *value;
    tmpl.remove_prefix(end + close.size());
  }
}

// ---- defaults

// "linux #7 failure: new failure on main" (or "... failure (new failure) on
// main" with `parenthesized`), "linux #7 started on main".
std::string headline(const report& r, bool parenthesized = false) {
  std::string line = fmt::format("{} #{} ", r.builder, r.number);
  if (!finished(r)) {
    line += "started";
  } else {
    line += core::result_word(outcome_of(r));
    if (!r.status_detected.empty() && r.status_detected != core::result_word(outcome_of(r)))
      line += parenthesized ? " (" + r.status_detected + ")" : ": " + r.status_detected;
  }
  if (!r.request.branch.empty()) line += " on " + r.request.branch;
  return line;
}

std::string default_subject(const report& r) {
  return r.title.empty() ? headline(r) : fmt::format("[{}] {}", r.title, headline(r));
}

// Like the IRC bot: "linux #7 failure (new failure) on main abc1234 — <url>",
// then why it ended and the failed step, one line each.
std::string default_chat(const report& r) {
  std::string line = headline(r, true);
  if (!r.request.revision.empty()) line += " " + short_revision(r);
  if (!r.build_url.empty()) line += " \xE2\x80\x94 " + r.build_url;  // em dash
  if (finished(r) && !r.text.empty()) line += "\n" + r.text;
  if (finished(r) && !r.failed_step.empty()) {
    line += "\nfailed step: " + r.failed_step;
    for (const auto& s : r.steps)
      if (s.name == r.failed_step && !s.text.empty()) {
        line += " (" + s.text + ")";
        break;
      }
  }
  return line;
}

// A commit status description: "linux #7 failed (new failure) in step compile".
std::string default_description(const report& r) {
  std::string line = fmt::format("{} #{} ", r.builder, r.number);
  if (!finished(r)) return line + "started";
  line += core::result_text(outcome_of(r));
  if (!r.status_detected.empty() && r.status_detected != core::result_word(outcome_of(r)))
    line += " (" + r.status_detected + ")";
  if (!r.failed_step.empty()) line += " in step " + r.failed_step;
  return line;
}

std::string default_mail_body(const report& r) {
  std::string b;
  auto field = [&b](std::string_view name, const std::string& value) {
    if (!value.empty()) b += fmt::format("{}: {}\n", name, value);
  };
  b += headline(r) + "\n\n";
  field("Builder", r.builder);
  field("Build", fmt::format("#{}", r.number));
  if (finished(r)) {
    field("Result", fmt::format("{} ({})", core::result_word(outcome_of(r)), core::result_text(outcome_of(r))));
    field("Status", r.status_detected);
    field("Previous", r.previous ? std::string(core::result_word(*r.previous)) : std::string());
    field("Why", r.text);
  } else {
    field("Result", "started");
  }
  field("Branch", r.request.branch);
  field("Revision", r.request.revision);
  field("Codebase", r.request.codebase);
  field("Owner", r.request.owner);
  field("Reason", r.request.reason);
  if (r.blame.size() > 1 || (r.blame.size() == 1 && r.blame[0] != r.request.owner)) field("Blame", join(r.blame, ", "));
  if (r.started_at) field("Started", iso8601(*r.started_at));
  if (r.finished_at) field("Finished", iso8601(*r.finished_at));
  if (auto d = build_duration(r)) field("Duration", human_duration(*d));
  if (!r.steps.empty()) {
    b += "\nSteps:\n";
    for (const auto& s : r.steps) {
      b += fmt::format("  {}. {}: {}", s.index, s.name,
                       s.outcome ? core::result_word(*s.outcome) : std::string_view("not finished"));
      if (!s.text.empty()) b += " (" + s.text + ")";
      if (s.duration) b += ", " + human_duration(*s.duration);
      b += '\n';
    }
  }
  if (!r.failed_step.empty()) b += fmt::format("\nFailed step: {}\n", r.failed_step);
  if (!r.log_excerpt.empty()) {
    b += r.failed_step.empty() ? "\nLog excerpt:\n" : fmt::format("Log excerpt ({}):\n", r.failed_step);
    std::string_view log = r.log_excerpt;
    while (!log.empty()) {
      auto nl = log.find('\n');
      b += "    ";
      b += log.substr(0, nl);
      b += '\n';
      if (nl == std::string_view::npos) break;
      log.remove_prefix(nl + 1);
    }
  }
  if (!r.build_url.empty()) b += fmt::format("\nBuild: {}\n", r.build_url);
  return b;
}

// The default payload, written directly in the form nlohmann's dump() gives
// (keys in std::map order, no spaces, the same escapes) without building a
// document of map nodes first.
class json_writer {
 public:
  // Appends to `out`, which holds spare room (`expect` bytes to begin with)
  // until done(): a payload is about a hundred small pieces, each written in place.
  json_writer(std::string& out, std::size_t expect) : out_(out), size_(out.size()) { out_.resize(size_ + expect); }
  void done() { out_.resize(size_); }

  // A key from data (a property's name).
  void key(std::string_view k) {
    str(k);
    put(':');
    first_ = true;  // the value follows without a comma
  }
  // A key of the format itself: a literal with nothing to escape.
  template <std::size_t N>
  void name(const char (&k)[N]) {
    comma();
    char* p = room(N + 2);  // '"', the N - 1 characters, '"', ':'
    p[0] = '"';
    std::memcpy(p + 1, k, N - 1);
    p[N] = '"';
    p[N + 1] = ':';
    first_ = true;
  }
  void str(std::string_view s) {
    comma();
    const auto start = size_;
    put('"');
    std::size_t plain_from = 0;  // text since the last escape is copied in one piece
    for (std::size_t i = 0; i < s.size(); ++i) {
      // Eight plain characters at a time: most text has nothing to escape.
      while (i + 8 <= s.size() && plain8(s.data() + i)) i += 8;
      if (i == s.size()) break;
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x80) {  // UTF-8 (or not): nlohmann checks and replaces what is invalid
        size_ = start;
        append(json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace));
        return;
      }
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      append(s.substr(plain_from, i - plain_from));
      plain_from = i + 1;
      switch (c) {
        case '"': append("\\\""); break;
        case '\\': append("\\\\"); break;
        case '\b': append("\\b"); break;
        case '\f': append("\\f"); break;
        case '\n': append("\\n"); break;
        case '\r': append("\\r"); break;
        case '\t': append("\\t"); break;
        default: {
          static constexpr char hex[] = "0123456789abcdef";
          const char u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
          append({u, sizeof u});
        }
      }
    }
    append(s.substr(plain_from));
    put('"');
  }
  void null() {
    comma();
    append("null");
  }
  template <typename Int>
  void integer(Int n) {
    comma();
    const fmt::format_int text(n);
    append({text.data(), text.size()});
  }
  void str_or_null(bool present, std::string_view s) { present ? str(s) : null(); }
  void open(char c) {
    comma();
    put(c);
    first_ = true;
  }
  void close(char c) {
    put(c);
    first_ = false;
  }
  void strings(const std::vector<std::string>& v) {
    open('[');
    for (const auto& s : v) str(s);
    close(']');
  }

 private:
  // No byte of the eight is a control character, '"', '\\' or past ASCII.
  static bool plain8(const char* p) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    constexpr std::uint64_t ones = 0x0101010101010101, highs = 0x8080808080808080;
    const auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
    const std::uint64_t below_space = (x - ones * 0x20) & ~x & highs;  // bytes < 0x20 (ASCII bytes only)
    return ((x & highs) | below_space | has_zero(x ^ (ones * '"')) | has_zero(x ^ (ones * '\\'))) == 0;
  }

  // Where the next n bytes go.
  char* room(std::size_t n) {
    if (size_ + n > out_.size()) [[unlikely]]
      grow(n);
    char* at = out_.data() + size_;
    size_ += n;
    return at;
  }
  [[gnu::noinline]] void grow(std::size_t n) { out_.resize(std::max(2 * out_.size(), size_ + n + 512)); }
  void put(char c) { *room(1) = c; }
  void append(std::string_view s) {
    if (!s.empty()) std::memcpy(room(s.size()), s.data(), s.size());
  }
  void comma() {
    if (!first_) put(',');
    first_ = false;
  }
  std::string& out_;
  std::size_t size_;  // what is written; out_ is larger until done()
  bool first_ = true;
};

std::string default_payload(const report& r, const std::string& subject) {
  const bool fin = finished(r);
  std::string out;
  json_writer w(out, 1024 + r.log_excerpt.size() + 128 * r.steps.size());
  // In the order of std::map<std::string, ...>, as nlohmann dumps an object.
  w.open('{');
  w.name("blame");
  w.strings(r.blame);
  w.name("branch");
  w.str(r.request.branch);
  w.name("build_url");
  w.str(r.build_url);
  w.name("builder");
  w.str(r.builder);
  w.name("builder_url");
  w.str(r.builder_url);
  w.name("codebase");
  w.str(r.request.codebase);
  w.name("duration_seconds");
  if (auto dur = build_duration(r)) w.integer(whole_seconds(*dur));
  else w.null();
  w.name("event");
  w.str(fin ? "build_finished" : "build_started");
  w.name("failed_step");
  w.str(r.failed_step);
  w.name("finished");
  if (r.finished_at) w.str(iso8601(*r.finished_at));
  else w.null();
  w.name("log_excerpt");
  w.str(r.log_excerpt);
  w.name("number");
  w.integer(r.number);
  w.name("owner");
  w.str(r.request.owner);
  w.name("previous_result");
  w.str_or_null(r.previous.has_value(), r.previous ? core::result_word(*r.previous) : std::string_view());
  w.name("properties");
  w.open('{');
  const auto& props = r.request.props;
  if (std::ranges::none_of(props, [](const auto& p) { return std::ranges::any_of(p.first, is_high_byte); })) {
    for (const auto& [k, v] : props) {  // a std::map: already in order
      w.key(k);
      w.str(v);
    }
  } else {
    // Names that are not valid UTF-8 go out with U+FFFD, which can change
    // their order or make two of them one: the order is the written names',
    // and of two that became one the first (in byte order) is kept.
    std::map<std::string, const std::string*> written;
    for (const auto& [k, v] : props) written.try_emplace(valid_utf8(k), &v);
    for (const auto& [k, v] : written) {
      w.key(k);
      w.str(*v);
    }
  }
  w.close('}');
  w.name("reason");
  w.str(r.request.reason);
  w.name("result");
  w.str_or_null(fin, fin ? core::result_word(outcome_of(r)) : std::string_view());
  w.name("result_text");
  w.str_or_null(fin, fin ? core::result_text(outcome_of(r)) : std::string_view());
  w.name("revision");
  w.str(r.request.revision);
  w.name("seq");
  w.integer(r.seq);
  w.name("started");
  if (r.started_at) w.str(iso8601(*r.started_at));
  else w.null();
  w.name("status_detected");
  w.str(r.status_detected);
  w.name("steps");
  w.open('[');
  for (const auto& s : r.steps) {
    w.open('{');
    w.name("duration_seconds");
    if (s.duration) w.integer(whole_seconds(*s.duration));
    else w.null();
    w.name("index");
    w.integer(s.index);
    w.name("name");
    w.str(s.name);
    w.name("result");
    w.str_or_null(s.outcome.has_value(), s.outcome ? core::result_word(*s.outcome) : std::string_view());
    w.name("text");
    w.str(s.text);
    w.close('}');
  }
  w.close(']');
  w.name("subject");
  w.str(subject);
  w.name("tags");
  w.strings(r.tags);
  w.name("text");
  w.str(r.text);
  w.name("title");
  w.str(r.title);
  w.close('}');
  w.done();
  return out;
}

// ---- rendering

// Partials would render outside text (a property's value) as a template; a
// template that asks for one fails instead.
class guarded_context : public mu::context<std::string> {
 public:
  explicit guarded_context(const mu::data* d) : mu::context<std::string>(d) {}
  const mu::data* get_partial(const std::string&) const override {
    asked_for_partial = true;
    return nullptr;
  }
  mutable bool asked_for_partial = false;
};

struct rendered {
  std::optional<std::string> text;
  std::string error;
};

rendered render_mustache(const std::string& tmpl, const mu::data& ctx, const escape_fn& escape) {
  try {
    mu::mustache m{tmpl};
    if (!m.is_valid()) return {std::nullopt, m.error_message()};
    m.set_custom_escape(escape);
    guarded_context c{&ctx};
    std::string out = m.render(c);
    if (!m.is_valid()) return {std::nullopt, m.error_message()};
    if (c.asked_for_partial) return {std::nullopt, "partials are not supported"};
    return {std::move(out), {}};
  } catch (const std::exception& e) {
    return {std::nullopt, e.what()};
  }
}

std::string parse_error(const std::string& tmpl) {
  try {
    mu::mustache m{tmpl};
    return m.is_valid() ? std::string() : m.error_message();
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace

struct formatter::impl {
  std::string name;
  reporter_type type = reporter_type::http;
  std::shared_ptr<spdlog::logger> log;
  std::string subject_tmpl, body_tmpl, payload_tmpl;  // empty: the default

  void warn(std::string_view which, const std::string& error) const {
    if (log) log->warn("reporter {}: template {} failed: {}; using the default", name, which, error);
  }

  // The template rendered, or nullopt (logged) when it fails.
  std::optional<std::string> try_render(std::string_view which, const std::string& tmpl, const report& r,
                                        const escape_fn& escape) const {
    auto out = render_mustache(tmpl, context_of(r), escape);
    if (!out.text) warn(which, out.error);
    return out.text;
  }

  escape_fn text_escape() const {
    if (!is_chat(type)) return no_escape;
    return [t = type](const std::string& s) { return chat_escape(t, s); };
  }
};

formatter::formatter(const core::reporter_spec& spec, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<impl>()) {
  impl_->name = spec.name;
  impl_->type = spec.type;
  impl_->log = log ? std::move(log) : spdlog::default_logger();
  auto keep = [this](std::string_view which, const std::string& tmpl, std::string& slot) {
    if (tmpl.empty()) return;
    if (auto error = parse_error(tmpl); !error.empty()) {
      impl_->warn(which, error);
      return;
    }
    slot = tmpl;
  };
  keep("subject", spec.subject_template, impl_->subject_tmpl);
  keep("body", spec.body_template, impl_->body_tmpl);
  keep("payload", spec.payload_template, impl_->payload_tmpl);
}

formatter::~formatter() = default;
formatter::formatter(formatter&&) noexcept = default;
formatter& formatter::operator=(formatter&&) noexcept = default;

std::string formatter::subject(const report& r) const {
  if (!impl_->subject_tmpl.empty())
    if (auto s = impl_->try_render("subject", impl_->subject_tmpl, r, impl_->text_escape())) return one_line(*s);
  std::string s = default_subject(r);
  return one_line(is_chat(impl_->type) ? chat_escape(impl_->type, s) : s);
}

std::string formatter::body(const report& r) const {
  if (!impl_->body_tmpl.empty())
    if (auto b = impl_->try_render("body", impl_->body_tmpl, r, impl_->text_escape())) return multi_line(*b);
  if (is_chat(impl_->type)) return multi_line(chat_escape(impl_->type, default_chat(r)));
  if (impl_->type == reporter_type::gerrit) return multi_line(default_chat(r));
  if (is_commit_status(impl_->type)) return one_line(default_description(r));
  return multi_line(default_mail_body(r));
}

std::string formatter::payload(const report& r) const {
  if (!impl_->payload_tmpl.empty()) {
    if (auto p = impl_->try_render("payload", impl_->payload_tmpl, r, json_escape)) {
      try {
        return json::parse(*p).dump(-1, ' ', false, json::error_handler_t::replace);
      } catch (const std::exception& e) {
        impl_->warn("payload", fmt::format("not valid JSON: {}", e.what()));
      }
    }
  }
  return default_payload(r, one_line(default_subject(r)));
}

std::string formatter::render(std::string_view tmpl, const report& r, std::string_view fallback) const {
  if (tmpl.empty()) return one_line(fallback);
  if (auto s = render_plain(tmpl, r)) return one_line(*s);
  if (auto s = impl_->try_render("inline", std::string(tmpl), r, no_escape)) return one_line(*s);
  return one_line(fallback);
}

}  // namespace herald::notifiers
