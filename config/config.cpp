// TOML -> config structs. Every problem is collected with its file:line:col,
// then all are thrown together, so one `herald check` shows the whole list.
#include "config/config.hpp"

#include <kainjow/mustache.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <set>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/transitions.hpp"

namespace herald::config {
namespace {

namespace fs = std::filesystem;
using keys = std::span<const std::string_view>;

constexpr std::string_view root_keys[] = {"herald", "irc", "authz", "builder", "reporter"};
constexpr std::string_view herald_keys[] = {"title", "url", "data_dir", "max_builds", "stop_grace", "outbox_memory_mib"};
constexpr std::string_view irc_keys[] = {"host",         "port",
                                         "tls",          "tls_verify",
                                         "tls_ca_file",  "password",
                                         "nick",         "alt_nicks",
                                         "username",     "realname",
                                         "channels",     "notify_events",
                                         "use_colors",   "lost_delay",
                                         "failed_delay", "reclaim_nick_interval",
                                         "flood_burst",  "flood_rate",
                                         "max_queue",    "ping_interval",
                                         "ping_timeout", "previous_builder_wide",
                                         "sasl_mechanism", "sasl_username",
                                         "sasl_password", "sasl_required",
                                         "tls_client_cert", "tls_client_key",
                                         "nickserv_password", "nickserv_name",
                                         "notice_on_channel", "summarize_bursts",
                                         "pm_to_nicks",       "show_blame",
                                         "show_revision"};
constexpr std::string_view channel_keys[] = {"name", "key", "builders", "tags", "notify_events"};
constexpr std::string_view command_names[] = {"force", "stop",  "shutdown", "join",   "leave",   "mute",
                                              "unmute", "notify", "watch",  "status", "last",    "list",
                                              "help",  "commands", "version", "source"};
constexpr std::string_view authz_groups[] = {"dangerous", "harmless", "channel"};
constexpr std::string_view builder_keys[] = {"name", "description", "tags", "max_builds", "env", "step"};
constexpr std::string_view step_keys[] = {
    "name", "command", "timeout", "warning_exit_codes", "halt_on_failure", "workdir", "env"};

constexpr auto int_max = std::numeric_limits<int>::max();

// ---- [[reporter]]: which keys each reporter type accepts, and which it needs.
using core::reporter_type;
using type_mask = std::uint32_t;

constexpr type_mask bit(reporter_type t) { return type_mask{1} << static_cast<unsigned>(t); }

constexpr type_mask all_types = bit(reporter_type::zulip) * 2 - 1;  // zulip is the last type
constexpr type_mask mail_type = bit(reporter_type::mail);
constexpr type_mask http_type = bit(reporter_type::http);
constexpr type_mask webhook_types = bit(reporter_type::slack) | bit(reporter_type::mattermost) |
                                    bit(reporter_type::discord) | bit(reporter_type::teams);
constexpr type_mask status_types = bit(reporter_type::github) | bit(reporter_type::gitlab) |
                                   bit(reporter_type::bitbucket_cloud) |
                                   bit(reporter_type::bitbucket_server) | bit(reporter_type::gerrit);
constexpr type_mask repository_types =  // they need it
    bit(reporter_type::github) | bit(reporter_type::gitlab) | bit(reporter_type::bitbucket_cloud);
constexpr type_mask repository_allowed = repository_types | bit(reporter_type::bitbucket_server);
constexpr type_mask room_types = bit(reporter_type::matrix) | bit(reporter_type::telegram) |
                                 bit(reporter_type::zulip) | bit(reporter_type::slack) |
                                 bit(reporter_type::mattermost);
constexpr type_mask username_types = http_type | mail_type | bit(reporter_type::bitbucket_cloud) |
                                     bit(reporter_type::bitbucket_server) | bit(reporter_type::gerrit) |
                                     bit(reporter_type::zulip);

struct reporter_key {
  std::string_view name;
  type_mask types;  // the types it applies to
};

constexpr reporter_key reporter_key_table[] = {
    {"name", all_types},
    {"type", all_types},
    // generator
    {"mode", all_types},
    {"builders", all_types},
    {"tags", all_types},
    {"branches", all_types},
    {"report_start", all_types},
    {"previous_builder_wide", all_types},
    // templates
    {"subject", all_types},
    {"subject_file", all_types},
    {"body", all_types},
    {"body_file", all_types},
    {"payload", http_type},
    {"payload_file", http_type},
    // target and credentials
    {"url", all_types},
    {"token", all_types & ~webhook_types},
    {"username", username_types},
    {"headers", http_type},
    // commit statuses
    {"repository", repository_allowed},
    {"context", status_types},
    {"gerrit_label", bit(reporter_type::gerrit)},
    {"gerrit_votes", bit(reporter_type::gerrit)},
    // chat
    {"room", room_types},
    {"topic", bit(reporter_type::zulip)},
    // mail
    {"from", mail_type},
    {"to", mail_type},
    {"interested_users", mail_type},
    {"lookup_domain", mail_type},
    {"security", mail_type},
    {"attach_logs", mail_type},
    {"max_log_bytes", mail_type},
    // delivery (TLS settings serve HTTPS and SMTP alike)
    {"tls_verify", all_types},
    {"tls_ca_file", all_types},
    {"timeout", all_types},
    {"retry_initial", all_types},
    {"retry_max", all_types},
    {"max_age", all_types},
    {"max_attempts", all_types},
};

constexpr auto reporter_keys = [] {
  std::array<std::string_view, std::size(reporter_key_table)> names{};
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = reporter_key_table[i].name;
  return names;
}();

// Types whose reporters cannot work without the key.
constexpr type_mask url_required =
    all_types & ~(bit(reporter_type::github) | bit(reporter_type::gitlab) |
                  bit(reporter_type::bitbucket_cloud) | bit(reporter_type::telegram));
constexpr type_mask token_required =
    status_types | bit(reporter_type::matrix) | bit(reporter_type::telegram) | bit(reporter_type::zulip);
constexpr type_mask room_required =
    bit(reporter_type::matrix) | bit(reporter_type::telegram) | bit(reporter_type::zulip);
constexpr type_mask username_required =
    bit(reporter_type::gerrit) | bit(reporter_type::zulip) | bit(reporter_type::bitbucket_cloud);

static_assert(std::ranges::all_of(reporter_key_table, [](const reporter_key& k) { return k.types != 0; }));

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known name nearest to `word` (case-insensitive), if within 2 edits.
template <class Names>
std::optional<std::string> closest(std::string_view word, const Names& known) {
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  for (const auto& candidate : known) {
    std::size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

// "; did you mean `near`? Expected one of: a, b, c" (or "; expected one of: ..." when
// nothing is near `word`), to end a message about an unknown name.
template <class Names>
std::string suggestion(std::string_view word, const Names& known) {
  std::string out;
  if (auto near = closest(word, known))
    out = "; did you mean `" + *near + "`? Expected one of:";
  else
    out = "; expected one of:";
  bool first = true;
  for (const auto& name : known) {
    out += (first ? " " : ", ") + std::string(name);
    first = false;
  }
  return out;
}

// Values are echoed in messages; control characters would garble a terminal.
std::string backticked(std::string_view text) {
  std::string out = "`";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "`";
}

std::string type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::optional<double> number_of(const toml::node& n) {
  if (const auto* i = n.as_integer()) return static_cast<double>(i->get());
  if (const auto* f = n.as_floating_point()) return f->get();
  return std::nullopt;
}

std::string number_text(const toml::node& n) {
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), number_of(n).value_or(0));
  return ec == std::errc{} ? std::string(buf.data(), end) : std::string("?");
}

std::string seconds_text(seconds s) {
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), s.count());
  return ec == std::errc{} ? std::string(buf.data(), end) : std::string("?");
}

bool has_any_of(std::string_view text, std::string_view chars) {
  return text.find_first_of(chars) != std::string_view::npos;
}

constexpr std::string_view line_breaks_or_nul{"\r\n\0", 3};

bool is_nick_special(char c) { return std::string_view("[]\\`_^{|}-").find(c) != std::string_view::npos; }

// RFC 2812 nick syntax, with the 30-character limit most networks use.
std::optional<std::string> nick_problem(std::string_view nick) {
  if (nick.size() > 30) return "at most 30 characters are allowed";
  if (std::isdigit(static_cast<unsigned char>(nick[0])) || nick[0] == '-')
    return "it must not start with a digit or `-`";
  for (char c : nick)
    if (!std::isalnum(static_cast<unsigned char>(c)) && !is_nick_special(c))
      return "only letters, digits and []\\`_^{|}- are allowed";
  return std::nullopt;
}

bool valid_builder_name(std::string_view name) {
  if (name == "." || name == "..") return false;  // names become directory names
  return std::ranges::all_of(name, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::ranges::all_of(name,
                             [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool is_ascii_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_ascii_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// What is wrong with `url` as scheme://[userinfo@]host[:port][/path][?query][#fragment]
// with one of `schemes`; nothing when it is fine. Never quotes the URL: webhook URLs
// carry tokens in their paths, and a userinfo part carries a password.
std::optional<std::string> url_problem(std::string_view url, std::span<const std::string_view> schemes) {
  std::string expected;
  for (std::size_t i = 0; i < schemes.size(); ++i)
    expected += (i == 0 ? "" : i + 1 == schemes.size() ? " or " : ", ") + std::string(schemes[i]);
  if (std::ranges::any_of(url, [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      }))
    return "it contains spaces or control characters";
  auto sep = url.find("://");
  std::string scheme = ascii_lower(url.substr(0, sep == std::string_view::npos ? 0 : sep));
  bool scheme_ok = !scheme.empty() && std::isalpha(static_cast<unsigned char>(scheme[0])) &&
                   std::ranges::all_of(
                       scheme, [](char c) { return is_ascii_alnum(c) || c == '+' || c == '-' || c == '.'; });
  if (!scheme_ok) return "it is not an absolute URL (" + std::string(schemes[0]) + "://host/...)";
  if (std::ranges::find(schemes, scheme) == schemes.end())
    return "the scheme must be " + expected + ", got " + backticked(scheme);

  std::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return "its IPv6 host has no closing `]`";
    host = authority.substr(1, close - 1);
    if (host.empty() || !std::ranges::all_of(host, [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        }))
      return "its IPv6 host is not an IPv6 address";
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return "it has text after the host where a `:port` may go";
    if (!after.empty()) port = after.substr(1);
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (host.empty()) return "it has no host";
    if (!std::ranges::all_of(host,
                             [](char c) { return is_ascii_alnum(c) || c == '.' || c == '-' || c == '_'; }))
      return "its host may only have letters, digits, `.`, `-` and `_`";
  }
  if (port) {
    int value = 0;
    auto [end, ec] = std::from_chars(port->data(), port->data() + port->size(), value);
    if (port->empty() || ec != std::errc{} || end != port->data() + port->size() || value < 1 ||
        value > 65535)
      return "its port must be a number from 1 to 65535";
  }
  return std::nullopt;
}

// One `@` with something on each side, and nothing that would break a mail header.
bool valid_mail_address(std::string_view a) {
  auto at = a.find('@');
  return at != std::string_view::npos && at != 0 && at + 1 < a.size() &&
         a.find('@', at + 1) == std::string_view::npos && !has_any_of(a, std::string_view(" \t\r\n\0<>,", 8));
}

// RFC 9110 token characters.
bool valid_header_name(std::string_view name) {
  return !name.empty() && std::ranges::all_of(name, [](char c) {
    return is_ascii_alnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// "a/b/c" with between `min` and `max` segments of letters, digits, `.`, `_` and `-`.
bool valid_slash_path(std::string_view path, std::size_t min, std::size_t max) {
  std::size_t segments = 0;
  for (;;) {
    auto slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    if (segment.empty() || !std::ranges::all_of(segment, [](char c) {
          return is_ascii_alnum(c) || c == '.' || c == '_' || c == '-';
        }))
      return false;
    ++segments;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments >= min && segments <= max;
}

// kainjow-mustache's complaint about `text`, if it does not parse.
std::optional<std::string> template_problem(const std::string& text) {
  kainjow::mustache::mustache parsed{text};
  if (parsed.is_valid()) return std::nullopt;
  return parsed.error_message();
}

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

// The whole file, or the errno that stopped us.
std::variant<std::string, int> read_file(const fs::path& path) {
  errno = 0;
  std::unique_ptr<std::FILE, file_closer> f(std::fopen(path.c_str(), "rb"));
  if (!f) return errno != 0 ? errno : EIO;
  std::string text;
  std::array<char, 8192> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), f.get())) text.append(buf.data(), n);
  if (std::ferror(f.get())) return errno != 0 ? errno : EIO;
  return text;
}

std::string error_text(int err) { return std::generic_category().message(err); }

// A table being read, with its dotted name for messages ("irc", "builder.step").
struct scope {
  const toml::table& table;
  std::string name;

  std::string key(std::string_view k) const {
    return name.empty() ? std::string(k) : name + "." + std::string(k);
  }
};

class reader {
 public:
  reader(std::string file, fs::path base_dir) : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  std::vector<diagnostic> take_diagnostics() {
    std::ranges::stable_sort(diagnostics_, [](const diagnostic& a, const diagnostic& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    return std::move(diagnostics_);
  }

  void read(const toml::table& root, config& out) {
    scope top{root, ""};
    check_keys(top, root_keys);
    if (const auto* t = table_at(top, "herald")) read_herald({*t, "herald"}, out.herald);
    if (const auto* t = table_at(top, "irc")) {
      out.irc.enabled = true;
      read_irc({*t, "irc"}, out.irc);
    }
    if (const auto* t = table_at(top, "authz")) read_authz({*t, "authz"}, out.authz);
    read_builders(top, out.builders);
    read_reporters(top, out.builders, out.reporters, !out.herald.url.empty());
    out.herald.data_dir = resolve(out.herald.data_dir);
    out.irc.tls_ca_file = resolve(out.irc.tls_ca_file);
    out.irc.tls_client_cert = resolve(out.irc.tls_client_cert);
    out.irc.tls_client_key = resolve(out.irc.tls_client_key);
  }

 private:
  void error(const toml::source_region& at, std::string message) {
    diagnostics_.push_back(
        {file_, static_cast<int>(at.begin.line), static_cast<int>(at.begin.column), std::move(message)});
  }
  void error(const toml::node& at, std::string message) { error(at.source(), std::move(message)); }

  void wrong_type(const toml::node& n, std::string_view expected, std::string_view name) {
    error(n, "expected " + std::string(expected) + " for `" + std::string(name) + "`, got " +
                 type_name(n.type()));
  }

  void missing(const toml::node& table, std::string_view key, std::string_view table_name) {
    error(table, "missing required key `" + std::string(key) + "` in `" + std::string(table_name) + "`");
  }

  fs::path resolve(const fs::path& p) const { return p.empty() ? p : (base_dir_ / p).lexically_normal(); }

  void check_keys(const scope& s, keys known) {
    for (auto&& [k, v] : s.table) {
      if (std::ranges::find(known, k.str()) != known.end()) continue;
      std::string message = "unknown key " + backticked(s.key(k.str()));
      if (auto near = closest(k.str(), known)) message += "; did you mean `" + *near + "`?";
      error(k.source(), std::move(message));
    }
  }

  const toml::table* table_at(const scope& s, std::string_view key) {
    const auto* n = s.table.get(key);
    if (!n) return nullptr;
    if (const auto* t = n->as_table()) return t;
    wrong_type(*n, "a table", s.key(key));
    return nullptr;
  }

  // The string at `key`; also hands back its node so callers can point at it.
  std::optional<std::string> string_at(const scope& s, std::string_view key,
                                       const toml::node** where = nullptr) {
    const auto* n = s.table.get(key);
    if (!n) return std::nullopt;
    if (where) *where = n;
    if (const auto* v = n->as_string()) return v->get();
    wrong_type(*n, "a string", s.key(key));
    return std::nullopt;
  }

  std::optional<std::string> non_empty_string_at(const scope& s, std::string_view key) {
    const toml::node* n = nullptr;
    auto v = string_at(s, key, &n);
    if (v && v->empty()) {
      error(*n, "`" + s.key(key) + "` must not be empty");
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> bool_at(const scope& s, std::string_view key) {
    const auto* n = s.table.get(key);
    if (!n) return std::nullopt;
    if (const auto* v = n->as_boolean()) return v->get();
    wrong_type(*n, "a boolean", s.key(key));
    return std::nullopt;
  }

  std::optional<std::int64_t> integer_at(const scope& s, std::string_view key, std::int64_t min,
                                         std::int64_t max) {
    const auto* n = s.table.get(key);
    if (!n) return std::nullopt;
    const auto* v = n->as_integer();
    if (!v) {
      wrong_type(*n, "an integer", s.key(key));
      return std::nullopt;
    }
    if (!in_range(*n, v->get(), min, max, s.key(key))) return std::nullopt;
    return v->get();
  }

  std::optional<int> int_at(const scope& s, std::string_view key, int min) {
    auto v = integer_at(s, key, min, int_max);
    if (!v) return std::nullopt;
    return static_cast<int>(*v);
  }

  bool in_range(const toml::node& n, std::int64_t v, std::int64_t min, std::int64_t max,
                const std::string& name) {
    if (v >= min && v <= max) return true;
    std::string got = ", got " + std::to_string(v);
    if (max >= int_max && v < min)
      error(n, "`" + name + "` must be at least " + std::to_string(min) + got);
    else if (max >= int_max)
      error(n, "`" + name + "` must be at most " + std::to_string(max) + got);
    else
      error(n, "`" + name + "` must be between " + std::to_string(min) + " and " + std::to_string(max) + got);
    return false;
  }

  // A finite number greater than zero, integer or float.
  std::optional<double> positive_at(const scope& s, std::string_view key, std::string_view expected) {
    const auto* n = s.table.get(key);
    if (!n) return std::nullopt;
    auto v = number_of(*n);
    if (!v) {
      wrong_type(*n, expected, s.key(key));
      return std::nullopt;
    }
    if (!(*v > 0)) {
      error(*n, "`" + s.key(key) + "` must be greater than 0, got " + number_text(*n));
      return std::nullopt;
    }
    if (std::isinf(*v)) {
      error(*n, "`" + s.key(key) + "` must be finite, got " + number_text(*n));
      return std::nullopt;
    }
    return v;
  }

  std::optional<seconds> seconds_at(const scope& s, std::string_view key) {
    if (auto v = positive_at(s, key, "a number of seconds")) return seconds{*v};
    return std::nullopt;
  }

  // A non-negative, finite number of seconds inside a delay.
  std::optional<double> delay_bound(const toml::node& n, const std::string& name) {
    auto v = number_of(n);
    if (!v) {
      wrong_type(n, "a number of seconds", name);
      return std::nullopt;
    }
    if (!(*v >= 0) || std::isinf(*v)) {
      error(n, "`" + name + "` must be a finite number of seconds >= 0, got " + number_text(n));
      return std::nullopt;
    }
    return v;
  }

  std::optional<delay_range> delay_at(const scope& s, std::string_view key) {
    const auto* n = s.table.get(key);
    if (!n) return std::nullopt;
    std::string name = s.key(key);
    if (number_of(*n)) {
      auto v = delay_bound(*n, name);
      if (!v) return std::nullopt;
      return delay_range{seconds{*v}, seconds{*v}};
    }
    const auto* a = n->as_array();
    if (!a) {
      wrong_type(*n, "a number of seconds or a [min, max] array", name);
      return std::nullopt;
    }
    if (a->size() != 2) {
      error(*n, "`" + name + "` must be [min, max], got an array of " + std::to_string(a->size()) +
                    " element" + (a->size() == 1 ? "" : "s"));
      return std::nullopt;
    }
    auto min = delay_bound(*a->get(0), name);
    auto max = delay_bound(*a->get(1), name);
    if (!min || !max) return std::nullopt;
    if (*min > *max) {
      error(*n, "`" + name + "` must be [min, max] with min <= max, got [" + number_text(*a->get(0)) + ", " +
                    number_text(*a->get(1)) + "]");
      return std::nullopt;
    }
    return delay_range{seconds{*min}, seconds{*max}};
  }

  // An array of strings; `check` sees each string with its node to add its own errors.
  template <class Check>
  std::optional<std::vector<std::string>> strings_at(const scope& s, std::string_view key, Check check) {
    const auto* n = s.table.get(key);
    if (!n) return std::nullopt;
    std::string name = s.key(key);
    const auto* a = n->as_array();
    if (!a) {
      wrong_type(*n, "an array of strings", name);
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const toml::node& item : *a) {
      if (const auto* v = item.as_string()) {
        check(v->get(), item);
        out.push_back(v->get());
      } else {
        error(item, "expected a string in `" + name + "`, got " + type_name(item.type()));
      }
    }
    return out;
  }

  std::optional<std::vector<std::string>> non_empty_strings_at(const scope& s, std::string_view key) {
    std::string name = s.key(key);
    return strings_at(s, key, [&](const std::string& v, const toml::node& at) {
      if (v.empty()) error(at, "empty string in `" + name + "`");
    });
  }

  std::optional<fs::path> path_at(const scope& s, std::string_view key) {
    if (auto v = non_empty_string_at(s, key)) return fs::path(*v);
    return std::nullopt;
  }

  // `env:NAME`, `file:PATH` or the value itself. Messages never quote the value.
  std::optional<secret> secret_at(const scope& s, std::string_view key) {
    const toml::node* n = nullptr;
    auto text = string_at(s, key, &n);
    if (!text) return std::nullopt;
    std::string name = s.key(key);
    std::string_view spec = *text;
    if (spec.starts_with("env:")) {
      std::string var(spec.substr(4));
      if (var.empty()) {
        error(*n, "`" + name + "`: `env:` needs a variable name");
        return std::nullopt;
      }
      const char* value = std::getenv(var.c_str());
      if (!value) {
        error(*n, "`" + name + "`: environment variable " + backticked(var) + " is not set");
        return std::nullopt;
      }
      return secret(value);
    }
    if (spec.starts_with("file:")) {
      fs::path path(std::string(spec.substr(5)));
      if (path.empty()) {
        error(*n, "`" + name + "`: `file:` needs a path");
        return std::nullopt;
      }
      path = resolve(path);
      auto contents = read_file(path);
      if (const int* err = std::get_if<int>(&contents)) {
        error(*n, "`" + name + "`: cannot read " + backticked(path.string()) + ": " + error_text(*err));
        return std::nullopt;
      }
      auto& value = std::get<std::string>(contents);
      if (value.ends_with("\r\n"))
        value.resize(value.size() - 2);
      else if (value.ends_with('\n'))
        value.pop_back();
      return secret(std::move(value));
    }
    return secret(*text);
  }

  std::map<std::string, std::string> env_at(const scope& s, std::string_view key) {
    std::map<std::string, std::string> out;
    const auto* n = s.table.get(key);
    if (!n) return out;
    std::string name = s.key(key);
    const auto* t = n->as_table();
    if (!t) {
      wrong_type(*n, "a table of strings", name);
      return out;
    }
    for (auto&& [k, v] : *t) {
      if (!valid_env_name(k.str()))
        error(k.source(), "invalid environment variable name " + backticked(k.str()) + " in `" + name +
                              "`: use letters, digits and `_`, not starting with a digit");
      if (const auto* str = v.as_string()) {
        if (has_any_of(str->get(), std::string_view("\0", 1)))
          error(v, "`" + name + "." + std::string(k.str()) + "` must not contain NUL");
        out.emplace(k.str(), str->get());
      } else {
        wrong_type(v, "a string", name + "." + std::string(k.str()));
      }
    }
    return out;
  }

  void read_herald(const scope& s, herald_section& h) {
    check_keys(s, herald_keys);
    if (auto v = string_at(s, "title")) h.title = *v;
    if (auto v = string_at(s, "url")) h.url = *v;
    if (auto v = path_at(s, "data_dir")) h.data_dir = *v;
    if (auto v = int_at(s, "max_builds", 1)) h.max_builds = *v;
    if (auto v = seconds_at(s, "stop_grace")) h.stop_grace = *v;
    if (auto v = integer_at(s, "outbox_memory_mib", 1, 1 << 20)) h.outbox_memory_mib = static_cast<int>(*v);
  }

  void check_nick(const std::string& nick, const toml::node& at, const std::string& name) {
    if (nick.empty()) {
      error(at, "`" + name + "` must not contain an empty nick");
      return;
    }
    if (auto problem = nick_problem(nick))
      error(at, "invalid IRC nick " + backticked(nick) + " in `" + name + "`: " + *problem);
  }

  void read_irc(const scope& s, irc_section& irc) {
    check_keys(s, irc_keys);
    if (auto v = non_empty_string_at(s, "host")) irc.host = *v;
    if (auto v = integer_at(s, "port", 1, 65535)) irc.port = static_cast<int>(*v);
    if (auto v = bool_at(s, "tls")) irc.tls = *v;
    if (auto v = bool_at(s, "tls_verify")) irc.tls_verify = *v;
    if (auto v = path_at(s, "tls_ca_file")) irc.tls_ca_file = *v;
    if (auto v = secret_at(s, "password")) {
      if (has_any_of(v->reveal(), line_breaks_or_nul))
        error(*s.table.get("password"), "`irc.password` must not contain line breaks or NUL");
      else
        irc.password = std::move(*v);
    }
    const toml::node* at = nullptr;
    if (auto v = string_at(s, "nick", &at)) {
      if (v->empty())
        error(*at, "`irc.nick` must not be empty");
      else
        check_nick(*v, *at, "irc.nick");
      irc.nick = *v;
    }
    if (auto v = strings_at(s, "alt_nicks", [&](const std::string& nick, const toml::node& item) {
          check_nick(nick, item, "irc.alt_nicks");
        }))
      irc.alt_nicks = std::move(*v);
    if (auto v = string_at(s, "username", &at)) {
      if (v->empty() || has_any_of(*v, std::string_view(" \r\n\0@", 5)))
        error(*at, "`irc.username` must be non-empty, without spaces, `@`, line breaks or NUL");
      irc.username = *v;
    }
    if (auto v = string_at(s, "realname", &at)) {
      if (has_any_of(*v, line_breaks_or_nul))
        error(*at, "`irc.realname` must not contain line breaks or NUL");
      irc.realname = *v;
    }
    read_channels(s, irc.channels);
    read_notify_events(s, irc.notify_events);
    if (auto v = bool_at(s, "use_colors")) irc.use_colors = *v;
    if (auto v = delay_at(s, "lost_delay")) irc.lost_delay = *v;
    if (auto v = delay_at(s, "failed_delay")) irc.failed_delay = *v;
    if (auto v = seconds_at(s, "reclaim_nick_interval")) irc.reclaim_nick_interval = *v;
    if (auto v = int_at(s, "flood_burst", 1)) irc.flood_burst = *v;
    if (auto v = positive_at(s, "flood_rate", "a number of lines per second")) irc.flood_rate = *v;
    if (auto v = integer_at(s, "max_queue", 1, std::numeric_limits<std::int64_t>::max()))
      irc.max_queue = static_cast<std::size_t>(*v);
    if (auto v = seconds_at(s, "ping_interval")) irc.ping_interval = *v;
    if (auto v = seconds_at(s, "ping_timeout")) irc.ping_timeout = *v;
    if (auto v = bool_at(s, "previous_builder_wide")) irc.previous_builder_wide = *v;
    read_irc_identity(s, irc);
  }

  // SASL, client certificate and NickServ keys, checked together as they depend on each other.
  void read_irc_identity(const scope& s, irc_section& irc) {
    const toml::node* at = nullptr;
    const toml::node* mechanism_at = nullptr;
    if (auto v = string_at(s, "sasl_mechanism", &mechanism_at)) {
      if (*v == "none" || *v == "plain" || *v == "external")
        irc.sasl_mechanism = *v;
      else
        error(*mechanism_at, "unknown SASL mechanism " + backticked(*v) +
                                 " in `irc.sasl_mechanism`: use \"none\", \"plain\" or \"external\"");
    }
    if (auto v = string_at(s, "sasl_username", &at)) {
      if (v->empty() || has_any_of(*v, std::string_view(" \r\n\0", 4)))
        error(*at, "`irc.sasl_username` must be non-empty, without spaces, line breaks or NUL");
      irc.sasl_username = *v;
    }
    auto read_secret = [&](std::string_view key, secret& into) {
      if (auto v = secret_at(s, key)) {
        if (has_any_of(v->reveal(), line_breaks_or_nul))
          error(*s.table.get(key), "`irc." + std::string(key) + "` must not contain line breaks or NUL");
        else
          into = std::move(*v);
      }
    };
    read_secret("sasl_password", irc.sasl_password);
    read_secret("nickserv_password", irc.nickserv_password);
    if (auto v = bool_at(s, "sasl_required")) irc.sasl_required = *v;
    if (auto v = path_at(s, "tls_client_cert")) irc.tls_client_cert = *v;
    if (auto v = path_at(s, "tls_client_key")) irc.tls_client_key = *v;
    if (auto v = string_at(s, "nickserv_name", &at)) {
      if (auto problem = nick_problem(*v); v->empty() || problem)
        error(*at, "invalid IRC nick " + backticked(*v) + " in `irc.nickserv_name`");
      else
        irc.nickserv_name = *v;
    }
    if (auto v = bool_at(s, "notice_on_channel")) irc.notice_on_channel = *v;
    if (auto v = bool_at(s, "summarize_bursts")) irc.summarize_bursts = *v;
    if (auto v = strings_at(s, "pm_to_nicks", [&](const std::string& nick, const toml::node& item) {
          check_nick(nick, item, "irc.pm_to_nicks");
        }))
      irc.pm_to_nicks = std::move(*v);
    if (auto v = bool_at(s, "show_blame")) irc.show_blame = *v;
    if (auto v = bool_at(s, "show_revision")) irc.show_revision = *v;

    const toml::node& where = mechanism_at ? *mechanism_at : static_cast<const toml::node&>(s.table);
    if (irc.sasl_mechanism == "plain" && irc.sasl_password.empty() && !s.table.get("sasl_password"))
      error(where, "`irc.sasl_mechanism = \"plain\"` needs `irc.sasl_password`");
    if (irc.sasl_mechanism == "external") {
      if (!irc.tls) error(where, "`irc.sasl_mechanism = \"external\"` needs `irc.tls = true`");
      if (irc.tls_client_cert.empty() && !s.table.get("tls_client_cert"))
        error(where, "`irc.sasl_mechanism = \"external\"` needs `irc.tls_client_cert` (and its key)");
    }
    if (irc.sasl_required && irc.sasl_mechanism == "none")
      error(*s.table.get("sasl_required"), "`irc.sasl_required = true` needs `irc.sasl_mechanism`");
    if (!irc.tls_client_key.empty() && irc.tls_client_cert.empty() && !s.table.get("tls_client_cert"))
      error(*s.table.get("tls_client_key"), "`irc.tls_client_key` needs `irc.tls_client_cert`");
  }

  void check_channel_name(const std::string& name, const toml::node& at) {
    bool ok = !name.empty() && (name[0] == '#' || name[0] == '&') &&
              !has_any_of(name, std::string_view(" ,\r\n\0\a", 6));
    if (!ok)
      error(at, "invalid channel name " + backticked(name) +
                    " in `irc.channels`: it must start with `#` or `&` and contain no spaces, commas, "
                    "CR, LF, NUL or BEL");
  }

  void read_channels(const scope& s, std::vector<channel>& out) {
    const auto* n = s.table.get("channels");
    if (!n) return;
    const auto* a = n->as_array();
    if (!a) {
      wrong_type(*n, "an array of channels", "irc.channels");
      return;
    }
    std::vector<std::string> seen;
    for (const toml::node& item : *a) {
      channel c;
      if (const auto* v = item.as_string()) {
        c.name = v->get();
        check_channel_name(c.name, item);
      } else if (const auto* t = item.as_table()) {
        scope cs{*t, "irc.channels"};
        check_keys(cs, channel_keys);
        const toml::node* name_at = nullptr;
        if (auto name = string_at(cs, "name", &name_at)) {
          c.name = *name;
          check_channel_name(c.name, *name_at);
        } else if (!name_at) {
          missing(item, "name", "irc.channels");
        }
        const toml::node* key_at = nullptr;
        if (auto key = string_at(cs, "key", &key_at)) {
          if (has_any_of(*key, std::string_view(" ,\r\n\0", 5)))
            error(*key_at, "`irc.channels.key` must not contain spaces, commas, line breaks or NUL");
          c.key = *key;
        }
        if (auto list = non_empty_strings_at(cs, "builders")) c.builders = std::move(*list);
        if (auto list = non_empty_strings_at(cs, "tags")) c.tags = std::move(*list);
        if (cs.table.get("notify_events")) {
          std::vector<std::string> events;
          read_notify_events(cs, events);
          c.notify_events = std::move(events);
        }
      } else {
        wrong_type(item, "a channel name or a { name, key } table", "irc.channels");
        continue;
      }
      if (c.name.empty()) continue;
      // IRC channel names are case-insensitive, so "#Builds" would join the same channel twice.
      auto folded = ascii_lower(c.name);
      if (std::ranges::find(seen, folded) != seen.end())
        error(item, "duplicate channel " + backticked(c.name) + " in `irc.channels`");
      seen.push_back(folded);
      out.push_back(std::move(c));
    }
  }

  void read_notify_events(const scope& s, std::vector<std::string>& out) {
    std::vector<std::string> events;
    std::string where = s.key("notify_events");
    auto names = strings_at(s, "notify_events", [&](const std::string& name, const toml::node& at) {
      auto canonical = core::canonical_notify_event(name);
      if (canonical) {
        if (std::ranges::find(events, *canonical) == events.end()) events.push_back(*canonical);
        return;
      }
      auto valid = core::notify_event_names();
      std::string message = "unknown notify event " + backticked(name) + " in `" + where + "`";
      if (auto near = closest(name, valid)) message += "; did you mean `" + *near + "`?";
      message += " Valid events:";
      for (std::size_t i = 0; i < valid.size(); ++i) message += (i ? ", " : " ") + valid[i];
      error(at, std::move(message));
    });
    if (names) out = std::move(events);
  }

  void read_authz(const scope& s, authz_section& authz) {
    std::vector<std::string_view> known(std::begin(command_names), std::end(command_names));
    known.insert(known.end(), std::begin(authz_groups), std::end(authz_groups));
    check_keys(s, known);
    auto list = [&](std::string_view key, std::vector<std::string>& into) {
      std::string name = s.key(key);
      auto v = strings_at(s, key, [&](const std::string& entry, const toml::node& at) {
        if (entry.empty())
          error(at, "empty entry in `" + name + "`");
        else if (entry == "account:")
          error(at, "`account:` in `" + name + "` needs an account name");
        else if (entry.starts_with('@') && entry != "@ops")
          error(at, backticked(entry) + " in `" + name + "`: the only @ rule is `@ops` (channel operators)");
      });
      if (v) into = std::move(*v);
    };
    for (auto command : command_names)
      if (s.table.get(command)) list(command, authz.commands[std::string(command)]);
    list("dangerous", authz.dangerous);
    list("harmless", authz.harmless);
    list("channel", authz.channel);
  }

  // The tables of `[[key]]`; anything else is reported.
  std::vector<const toml::table*> tables_at(const scope& s, std::string_view key) {
    std::vector<const toml::table*> out;
    const auto* n = s.table.get(key);
    if (!n) return out;
    std::string name = s.key(key);
    const auto* a = n->as_array();
    if (!a) {
      wrong_type(*n, "an array of tables ([[" + name + "]])", name);
      return out;
    }
    for (const toml::node& item : *a) {
      if (const auto* t = item.as_table())
        out.push_back(t);
      else
        wrong_type(item, "a table in [[" + name + "]]", name);
    }
    return out;
  }

  void read_builders(const scope& root, std::vector<builder>& out) {
    std::map<std::string, int> first_line;
    for (const toml::table* t : tables_at(root, "builder")) {
      scope s{*t, "builder"};
      check_keys(s, builder_keys);
      builder b;
      const toml::node* name_at = nullptr;
      if (auto name = string_at(s, "name", &name_at)) {
        b.name = *name;
        if (b.name.empty()) {
          error(*name_at, "`builder.name` must not be empty");
        } else if (!valid_builder_name(b.name)) {
          error(*name_at, "invalid builder name " + backticked(b.name) +
                              ": use letters, digits, `.`, `_` and `-` (not `.` or `..` alone)");
        } else if (auto [it, fresh] =
                       first_line.emplace(b.name, static_cast<int>(name_at->source().begin.line));
                   !fresh) {
          error(*name_at, "duplicate builder name " + backticked(b.name) + " (first defined at line " +
                              std::to_string(it->second) + ")");
        }
      } else if (!name_at) {
        missing(*t, "name", "builder");
      }
      if (auto v = string_at(s, "description")) b.description = *v;
      if (auto v = non_empty_strings_at(s, "tags")) b.tags = std::move(*v);
      if (auto v = int_at(s, "max_builds", 1)) b.max_builds = *v;
      b.env = env_at(s, "env");
      read_steps(s, b);
      out.push_back(std::move(b));
    }
  }

  void read_steps(const scope& s, builder& b) {
    auto tables = tables_at(s, "step");
    if (tables.empty() && (!s.table.get("step") || s.table.get("step")->is_array())) {
      const toml::node& at = s.table.get("step") ? *s.table.get("step") : s.table;
      std::string who = b.name.empty() ? "builder" : "builder " + backticked(b.name);
      error(at, who + " needs at least one [[builder.step]]");
    }
    std::set<std::string> seen;
    for (const toml::table* t : tables) {
      scope ss{*t, "builder.step"};
      check_keys(ss, step_keys);
      step st;
      const toml::node* name_at = nullptr;
      if (auto name = string_at(ss, "name", &name_at)) {
        st.name = *name;
        if (st.name.empty()) error(*name_at, "`builder.step.name` must not be empty");
        if (has_any_of(st.name, line_breaks_or_nul))
          error(*name_at, "`builder.step.name` must not contain line breaks or NUL");
      } else if (!name_at) {
        st.name = "step" + std::to_string(b.steps.size() + 1);
      }
      if (!st.name.empty() && !seen.insert(st.name).second)
        error(name_at ? *name_at : static_cast<const toml::node&>(*t),
              "duplicate step name " + backticked(st.name) + " in builder " + backticked(b.name));
      read_command(ss, st);
      if (auto v = seconds_at(ss, "timeout")) st.timeout = *v;
      read_exit_codes(ss, st.warning_exit_codes);
      if (auto v = bool_at(ss, "halt_on_failure")) st.halt_on_failure = *v;
      if (auto v = string_at(ss, "workdir")) st.workdir = *v;
      st.env = env_at(ss, "env");
      b.steps.push_back(std::move(st));
    }
  }

  void read_command(const scope& s, step& st) {
    const auto* n = s.table.get("command");
    if (!n) {
      missing(s.table, "command", "builder.step");
      return;
    }
    constexpr std::string_view nul("\0", 1);
    if (const auto* str = n->as_string()) {
      if (str->get().empty()) error(*n, "`builder.step.command` must not be empty");
      if (has_any_of(str->get(), nul)) error(*n, "`builder.step.command` must not contain NUL");
      st.command = str->get();
      return;
    }
    const auto* a = n->as_array();
    if (!a) {
      wrong_type(*n, "a string or an array of strings", "builder.step.command");
      return;
    }
    if (a->empty()) error(*n, "`builder.step.command` must not be empty");
    std::vector<std::string> argv;
    for (const toml::node& item : *a) {
      const auto* str = item.as_string();
      if (!str) {
        error(item, "expected a string in `builder.step.command`, got " + type_name(item.type()));
        continue;
      }
      if (argv.empty() && str->get().empty())
        error(item, "the program (first item) of `builder.step.command` must not be empty");
      if (has_any_of(str->get(), nul)) error(item, "`builder.step.command` must not contain NUL");
      argv.push_back(str->get());
    }
    st.command = std::move(argv);
  }

  void read_exit_codes(const scope& s, std::vector<int>& out) {
    const auto* n = s.table.get("warning_exit_codes");
    if (!n) return;
    const auto* a = n->as_array();
    if (!a) {
      wrong_type(*n, "an array of integers", "builder.step.warning_exit_codes");
      return;
    }
    for (const toml::node& item : *a) {
      const auto* v = item.as_integer();
      if (!v)
        error(item,
              "expected an integer in `builder.step.warning_exit_codes`, got " + type_name(item.type()));
      else if (in_range(item, v->get(), 0, 255, "builder.step.warning_exit_codes"))
        out.push_back(static_cast<int>(v->get()));
    }
  }

  // ---- [[reporter]]

  void read_reporters(const scope& root, const std::vector<builder>& builders,
                      std::vector<core::reporter_spec>& out, bool have_site_url) {
    std::map<std::string, int> first_line;
    for (const toml::table* t : tables_at(root, "reporter")) {
      scope s{*t, "reporter"};
      check_keys(s, reporter_keys);
      core::reporter_spec r;
      const toml::node* name_at = nullptr;
      if (auto name = string_at(s, "name", &name_at)) {
        r.name = *name;
        if (r.name.empty()) {
          error(*name_at, "`reporter.name` must not be empty");
        } else if (!valid_builder_name(r.name)) {
          error(*name_at, "invalid reporter name " + backticked(r.name) +
                              ": use letters, digits, `.`, `_` and `-` (not `.` or `..` alone)");
        } else if (auto [it, fresh] =
                       first_line.emplace(r.name, static_cast<int>(name_at->source().begin.line));
                   !fresh) {
          error(*name_at, "duplicate reporter name " + backticked(r.name) + " (first defined at line " +
                              std::to_string(it->second) + ")");
        }
      } else if (!name_at) {
        missing(*t, "name", "reporter");
      }

      std::optional<reporter_type> type;
      const toml::node* type_at = nullptr;
      if (auto v = string_at(s, "type", &type_at)) {
        type = core::parse_reporter_type(*v);
        if (!type) {
          error(*type_at,
                "unknown reporter type " + backticked(*v) + suggestion(*v, core::reporter_type_names()));
        }
      } else if (!type_at) {
        missing(*t, "type", "reporter");
      }
      if (type) {
        r.type = *type;
        r.generator.report_start = core::is_status_api(*type);
        check_reporter_keys_apply(s, *type);
      }

      read_generator(s, builders, r.generator);
      read_reporter_templates(s, r);
      read_reporter_target(s, r, type);
      read_reporter_mail(s, r, type);
      read_reporter_delivery(s, r);
      if (type) check_reporter_needs(s, r);
      // Bitbucket Server refuses a build status without a link to the build.
      if (type && r.type == reporter_type::bitbucket_server && !have_site_url)
        error(s.table, who(r) + " needs `herald.url`: Bitbucket Server requires a link to each build");
      out.push_back(std::move(r));
    }
  }

  void check_reporter_keys_apply(const scope& s, reporter_type type) {
    for (auto&& [k, v] : s.table) {
      auto key = std::ranges::find(reporter_key_table, k.str(), &reporter_key::name);
      if (key == std::end(reporter_key_table) || (key->types & bit(type)) != 0) continue;
      error(k.source(),
            "`" + s.key(k.str()) + "` does not apply to type " + std::string(core::reporter_type_name(type)));
    }
  }

  // "reporter `ci-mail` (mail)", for messages about the whole table.
  static std::string who(const core::reporter_spec& r) {
    std::string out = r.name.empty() ? "reporter" : "reporter " + backticked(r.name);
    return out + " (" + std::string(core::reporter_type_name(r.type)) + ")";
  }

  void read_generator(const scope& s, const std::vector<builder>& builders, core::generator_spec& g) {
    if (const auto* n = s.table.get("mode")) {
      std::vector<core::report_mode> modes;
      std::string name = s.key("mode");
      auto add = [&](const std::string& word, const toml::node& at) {
        if (auto m = core::parse_report_mode(word)) {
          if (std::ranges::find(modes, *m) == modes.end()) modes.push_back(*m);
          return;
        }
        error(at, "unknown report mode " + backticked(word) + " in `" + name + "`" +
                      suggestion(word, core::report_mode_names()));
      };
      if (const auto* str = n->as_string()) {
        add(str->get(), *n);
        g.modes = std::move(modes);
      } else if (n->is_array()) {
        if (strings_at(s, "mode", add)) g.modes = std::move(modes);
      } else {
        wrong_type(*n, "a report mode or an array of them", name);
      }
    }
    std::string builders_name = s.key("builders");
    if (auto v = strings_at(s, "builders", [&](const std::string& b, const toml::node& at) {
          if (std::ranges::find(builders, b, &builder::name) != builders.end()) return;
          std::string message = "unknown builder " + backticked(b) + " in `" + builders_name + "`";
          std::vector<std::string_view> names;
          for (const auto& known : builders) names.push_back(known.name);
          if (auto near = closest(b, names)) message += "; did you mean `" + *near + "`?";
          error(at, std::move(message));
        }))
      g.builders = std::move(*v);
    if (auto v = non_empty_strings_at(s, "tags")) g.tags = std::move(*v);
    if (auto v = non_empty_strings_at(s, "branches")) g.branches = std::move(*v);
    if (auto v = bool_at(s, "report_start")) g.report_start = *v;
    if (auto v = bool_at(s, "previous_builder_wide")) g.previous_builder_wide = *v;
  }

  // A mustache template that must parse; messages do not quote it.
  void check_template(const toml::node& at, const std::string& name, const std::string& text) {
    if (auto problem = template_problem(text))
      error(at, "template `" + name + "` does not parse: " + *problem);
  }

  // `key` inline, or `key_file` read now (relative to the config file); not both.
  void read_template(const scope& s, std::string_view key, std::string& into) {
    std::string file_key = std::string(key) + "_file";
    const toml::node* inline_at = nullptr;
    const toml::node* file_at = nullptr;
    auto text = string_at(s, key, &inline_at);
    auto path = string_at(s, file_key, &file_at);
    if (inline_at && file_at) {
      error(*file_at, "`" + s.key(key) + "` and `" + s.key(file_key) + "` are both set; use one");
      return;
    }
    if (path) {
      if (path->empty()) {
        error(*file_at, "`" + s.key(file_key) + "` must not be empty");
        return;
      }
      fs::path full = resolve(*path);
      auto contents = read_file(full);
      if (const int* err = std::get_if<int>(&contents)) {
        error(*file_at, "`" + s.key(file_key) + "`: cannot read " + backticked(full.string()) + ": " +
                            error_text(*err));
        return;
      }
      text = std::move(std::get<std::string>(contents));
      check_template(*file_at, s.key(file_key), *text);
    } else if (text) {
      check_template(*inline_at, s.key(key), *text);
    }
    if (text) into = std::move(*text);
  }

  // A one-line template that must not be empty (a status context, a zulip topic).
  void read_line_template(const scope& s, std::string_view key, std::string& into) {
    const toml::node* at = nullptr;
    auto v = string_at(s, key, &at);
    if (!v) return;
    if (v->empty())
      error(*at, "`" + s.key(key) + "` must not be empty");
    else if (has_any_of(*v, line_breaks_or_nul))
      error(*at, "`" + s.key(key) + "` must not contain line breaks or NUL");
    else
      check_template(*at, s.key(key), *v);
    into = std::move(*v);
  }

  void read_reporter_templates(const scope& s, core::reporter_spec& r) {
    read_template(s, "subject", r.subject_template);
    read_template(s, "body", r.body_template);
    read_template(s, "payload", r.payload_template);
    read_line_template(s, "context", r.context);
    read_line_template(s, "topic", r.topic);
  }

  // A secret that goes into a URL or a header: not empty, no line breaks or NUL.
  std::optional<secret> reporter_secret_at(const scope& s, std::string_view key) {
    auto v = secret_at(s, key);
    if (!v) return std::nullopt;
    if (v->empty()) {
      error(*s.table.get(key), "`" + s.key(key) + "` must not be empty");
      return std::nullopt;
    }
    if (has_any_of(v->reveal(), line_breaks_or_nul)) {
      error(*s.table.get(key), "`" + s.key(key) + "` must not contain line breaks or NUL");
      return std::nullopt;
    }
    return v;
  }

  // A plain one-line string: not empty, no line breaks or NUL.
  std::optional<std::string> line_at(const scope& s, std::string_view key,
                                     const toml::node** where = nullptr) {
    auto v = non_empty_string_at(s, key);
    if (!v) return std::nullopt;
    const toml::node* at = s.table.get(key);
    if (where) *where = at;
    if (has_any_of(*v, line_breaks_or_nul)) {
      error(*at, "`" + s.key(key) + "` must not contain line breaks or NUL");
      return std::nullopt;
    }
    return v;
  }

  void read_reporter_target(const scope& s, core::reporter_spec& r, std::optional<reporter_type> type) {
    if (auto v = reporter_secret_at(s, "url")) {
      static constexpr std::string_view web[] = {"http", "https"};
      static constexpr std::string_view smtp[] = {"smtp", "smtps"};
      bool mail = type == reporter_type::mail;
      if (auto problem = url_problem(v->reveal(), mail ? std::span(smtp) : std::span(web)))
        error(*s.table.get("url"), "`" + s.key("url") + "` is not a valid URL: " + *problem);
      else
        r.url = std::move(*v);
    }
    if (auto v = reporter_secret_at(s, "token")) r.token = std::move(*v);
    const toml::node* at = nullptr;
    if (auto v = line_at(s, "username", &at)) {
      if (type != reporter_type::mail && v->find(':') != std::string::npos)
        error(*at, "`" + s.key("username") + "` must not contain `:` (HTTP basic authentication)");
      r.username = std::move(*v);
    }
    read_headers(s, r.headers);

    if (auto v = line_at(s, "repository", &at)) {
      if (type == reporter_type::github && !valid_slash_path(*v, 2, 2))
        error(*at, "`" + s.key("repository") + "` must be \"owner/repo\" for github, got " + backticked(*v));
      else if (type == reporter_type::bitbucket_cloud && !valid_slash_path(*v, 2, 2))
        error(*at, "`" + s.key("repository") + "` must be \"workspace/repo\" for bitbucket_cloud, got " +
                       backticked(*v));
      else if (type == reporter_type::bitbucket_server && !valid_slash_path(*v, 2, 2))
        error(*at, "`" + s.key("repository") + "` must be \"PROJECT/repo\" for bitbucket_server, got " +
                       backticked(*v));
      else if (type == reporter_type::gitlab && !std::ranges::all_of(*v, is_ascii_digit) &&
               !valid_slash_path(*v, 2, std::numeric_limits<std::size_t>::max()))
        error(*at, "`" + s.key("repository") +
                       "` must be a project id or \"group/project\" for gitlab, got " + backticked(*v));
      r.repository = std::move(*v);
    }
    if (auto v = line_at(s, "gerrit_label", &at)) {
      if (!std::ranges::all_of(*v, [](char c) { return is_ascii_alnum(c) || c == '-'; }))
        error(*at, "invalid Gerrit label " + backticked(*v) + " in `" + s.key("gerrit_label") +
                       "`: use letters, digits and `-`");
      r.gerrit_label = std::move(*v);
    }
    read_gerrit_votes(s, r.gerrit_votes);
    if (auto v = line_at(s, "room", &at)) {
      if (type == reporter_type::matrix &&
          !((v->starts_with('!') || v->starts_with('#')) && v->find(':') != std::string::npos))
        error(*at, "`" + s.key("room") +
                       "` must be a Matrix room id (!id:server) or alias (#name:server), got " +
                       backticked(*v));
      if (type == reporter_type::telegram) {
        std::string_view id = *v;
        if (id.starts_with('-')) id.remove_prefix(1);
        bool chat_id = !id.empty() && std::ranges::all_of(id, is_ascii_digit);
        bool channel = v->size() > 1 && v->starts_with('@') && std::ranges::all_of(v->substr(1), [](char c) {
                         return is_ascii_alnum(c) || c == '_';
                       });
        if (!chat_id && !channel)
          error(*at, "`" + s.key("room") + "` must be a Telegram chat id (a number) or @channel, got " +
                         backticked(*v));
      }
      r.room = std::move(*v);
    }
  }

  void read_headers(const scope& s, std::vector<std::pair<std::string, secret>>& out) {
    const auto* n = s.table.get("headers");
    if (!n) return;
    std::string name = s.key("headers");
    const auto* t = n->as_table();
    if (!t) {
      wrong_type(*n, "a table of strings", name);
      return;
    }
    for (auto&& [k, v] : *t) {
      std::string header(k.str());
      if (!valid_header_name(header))
        error(k.source(), "invalid header name " + backticked(header) + " in `" + name +
                              "`: use letters, digits and !#$%&'*+-.^_`|~");
      // Header values may hold credentials: secrets (plain, env:, file:), never quoted.
      if (auto value = secret_at({*t, name}, header)) {
        if (has_any_of(value->reveal(), line_breaks_or_nul))
          error(v, "`" + name + "." + header + "` must not contain line breaks or NUL");
        else
          out.emplace_back(header, std::move(*value));
      }
    }
  }

  void read_gerrit_votes(const scope& s, std::map<core::result, int>& out) {
    const auto* n = s.table.get("gerrit_votes");
    if (!n) return;
    std::string name = s.key("gerrit_votes");
    const auto* t = n->as_table();
    if (!t) {
      wrong_type(*n, "a table of result = vote", name);
      return;
    }
    std::vector<std::string_view> words;
    for (auto r : core::all_results) words.push_back(core::result_word(r));
    std::map<core::result, int> votes;
    for (auto&& [k, v] : *t) {
      auto result = core::parse_result(k.str());
      if (!result) {
        error(k.source(),
              "unknown result " + backticked(k.str()) + " in `" + name + "`" + suggestion(k.str(), words));
        continue;
      }
      const auto* vote = v.as_integer();
      if (!vote) {
        wrong_type(v, "an integer", name + "." + std::string(k.str()));
        continue;
      }
      if (in_range(v, vote->get(), -int_max, int_max, name + "." + std::string(k.str())))
        votes[*result] = static_cast<int>(vote->get());
    }
    out = std::move(votes);
  }

  void read_reporter_mail(const scope& s, core::reporter_spec& r, std::optional<reporter_type> type) {
    const toml::node* at = nullptr;
    auto address_error = [&](const std::string& a, const toml::node& where, std::string_view key) {
      error(where, "invalid mail address " + backticked(a) + " in `" + s.key(key) +
                       "`: it needs one `@` and no spaces, `<`, `>`, `,`, line breaks or NUL");
    };
    if (auto v = non_empty_string_at(s, "from")) {
      if (!valid_mail_address(*v)) address_error(*v, *s.table.get("from"), "from");
      r.from = std::move(*v);
    }
    if (auto v = strings_at(s, "to", [&](const std::string& a, const toml::node& where) {
          if (!valid_mail_address(a)) address_error(a, where, "to");
        }))
      r.to = std::move(*v);
    if (auto v = bool_at(s, "interested_users")) r.interested_users = *v;
    if (auto v = line_at(s, "lookup_domain", &at)) {
      if (v->find('@') != std::string::npos || has_any_of(*v, std::string_view(" <>,", 4)))
        error(*at, "`" + s.key("lookup_domain") +
                       "` must be a domain name (no `@`, spaces, `<`, `>` or `,`), got " + backticked(*v));
      r.lookup_domain = std::move(*v);
    }

    const toml::node* security_at = nullptr;
    std::optional<core::smtp_security> security;
    if (auto v = string_at(s, "security", &security_at)) {
      if (*v == "none")
        security = core::smtp_security::none;
      else if (*v == "starttls")
        security = core::smtp_security::starttls;
      else if (*v == "tls")
        security = core::smtp_security::tls;
      else
        error(*security_at, "unknown SMTP security " + backticked(*v) + " in `" + s.key("security") +
                                "`: use \"none\", \"starttls\" or \"tls\"");
    }
    // smtps:// is implicit TLS, smtp:// plain or STARTTLS: the URL decides the default.
    bool smtps = type == reporter_type::mail && ascii_lower(r.url.reveal()).starts_with("smtps://");
    if (security) {
      r.security = *security;
      if (type == reporter_type::mail && !r.url.empty()) {
        if (smtps && *security != core::smtp_security::tls)
          error(*security_at,
                "`" + s.key("security") + "` must be \"tls\" with an smtps:// URL (implicit TLS)");
        else if (!smtps && *security == core::smtp_security::tls)
          error(*security_at, "`" + s.key("security") + " = \"tls\"` (implicit TLS) needs an smtps:// URL");
      }
    } else if (smtps) {
      r.security = core::smtp_security::tls;
    }
    if (auto v = bool_at(s, "attach_logs")) r.attach_logs = *v;
    if (auto v = integer_at(s, "max_log_bytes", 0, std::numeric_limits<std::int64_t>::max()))
      r.max_log_bytes = static_cast<std::size_t>(*v);
  }

  void read_reporter_delivery(const scope& s, core::reporter_spec& r) {
    if (auto v = bool_at(s, "tls_verify")) r.tls_verify = *v;
    if (auto v = path_at(s, "tls_ca_file")) r.tls_ca_file = resolve(*v);
    if (auto v = seconds_at(s, "timeout")) r.timeout = *v;
    auto initial = seconds_at(s, "retry_initial");
    auto max = seconds_at(s, "retry_max");
    if (initial) r.retry_initial = *initial;
    if (max) r.retry_max = *max;
    if ((initial || max) && r.retry_initial > r.retry_max)
      error(*s.table.get(initial ? "retry_initial" : "retry_max"),
            "`" + s.key("retry_initial") + "` (" + seconds_text(r.retry_initial) + ") must not exceed `" +
                s.key("retry_max") + "` (" + seconds_text(r.retry_max) + ")");
    if (auto v = seconds_at(s, "max_age")) r.max_age = *v;
    if (auto v = int_at(s, "max_attempts", 0)) r.max_attempts = *v;
  }

  // What the reporter's type cannot do without; said once per missing key, at the table.
  void check_reporter_needs(const scope& s, const core::reporter_spec& r) {
    type_mask type = bit(r.type);
    auto need = [&](std::string_view key, type_mask required, bool have) {
      if ((required & type) == 0 || have || s.table.get(key)) return;  // given but wrong: said already
      error(s.table, who(r) + " needs `" + std::string(key) + "`");
    };
    need("url", url_required, !r.url.empty());
    need("token", token_required, !r.token.empty());
    need("repository", repository_types, !r.repository.empty());
    need("room", room_required, !r.room.empty());
    need("username", username_required, !r.username.empty());
    if (r.type == reporter_type::mail) {
      need("from", mail_type, !r.from.empty());
      const auto* to_at = s.table.get("to");
      bool to_given = !r.to.empty() || (to_at && !to_at->is_array());  // a wrong type is reported already
      if (!to_given && !(r.interested_users && s.table.get("lookup_domain")))
        error(s.table, who(r) + " needs `to` (or `interested_users = true` with `lookup_domain`)");
      if (s.table.get("lookup_domain") && !r.interested_users)
        error(*s.table.get("lookup_domain"),
              "`" + s.key("lookup_domain") + "` needs `" + s.key("interested_users") + " = true`");
    }
    // Where the token is optional, a user name alone would log in with an empty password.
    if ((r.type == reporter_type::http || r.type == reporter_type::mail) && s.table.get("username") &&
        !s.table.get("token"))
      error(*s.table.get("username"),
            "`" + s.key("username") + "` needs `" + s.key("token") + "` (the password)");
  }

  std::string file_;
  fs::path base_dir_;
  std::vector<diagnostic> diagnostics_;
};

std::string join(const std::vector<diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) {
    if (!out.empty()) out += '\n';
    out += to_string(d);
  }
  return out;
}

}  // namespace

std::span<const std::string_view> authz_command_names() { return command_names; }

const std::vector<std::string>& authz_section::rules_for(std::string_view command, command_group group) const {
  if (auto it = commands.find(command); it != commands.end()) return it->second;
  switch (group) {
    case command_group::dangerous: return dangerous;
    case command_group::channel: return channel;
    case command_group::harmless: break;
  }
  return harmless;
}

const builder* config::find_builder(std::string_view name) const {
  auto it = std::ranges::find(builders, name, &builder::name);
  return it == builders.end() ? nullptr : &*it;
}

const core::reporter_spec* config::find_reporter(std::string_view name) const {
  auto it = std::ranges::find(reporters, name, &core::reporter_spec::name);
  return it == reporters.end() ? nullptr : &*it;
}

std::string to_string(const diagnostic& d) {
  return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message;
}

config_error::config_error(std::vector<diagnostic> d)
    : std::runtime_error(join(d)), diagnostics_(std::move(d)) {}

config parse(std::string_view text, const std::filesystem::path& name) {
  std::string file = name.string();
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(file));
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw config_error(
        {{file, static_cast<int>(at.line), static_cast<int>(at.column), std::string(e.description())}});
  }

  std::error_code ec;
  fs::path absolute = fs::absolute(name, ec);
  fs::path base_dir = ec || name.empty() ? fs::current_path() : absolute.parent_path();

  config out;
  out.file = name;
  reader r(file, base_dir);
  r.read(root, out);
  if (auto ds = r.take_diagnostics(); !ds.empty()) throw config_error(std::move(ds));
  return out;
}

config load(const std::filesystem::path& file) {
  auto contents = read_file(file);
  if (const int* err = std::get_if<int>(&contents))
    throw config_error({{file.string(), 1, 1, "cannot read: " + error_text(*err)}});
  return parse(std::get<std::string>(contents), file);
}

}  // namespace herald::config
