// The IRC wire format: parsing, building, splitting and CTCP, as pure string functions.
// Everything here must hold up against arbitrary bytes from a hostile server or user.
#include "bot/irc/message.hpp"

#include <algorithm>
#include <cstdint>

namespace herald::bot::irc {

namespace {

constexpr std::size_t max_params = 15;

bool is_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char to_upper_ascii(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

char irc_lower(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  switch (c) {
    case '[': return '{';
    case ']': return '}';
    case '\\': return '|';
    case '~': return '^';
    default: return c;
  }
}

std::string unescape_tag_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\') {
      out += v[i];
      continue;
    }
    if (++i == v.size()) break;  // a lone trailing backslash is dropped
    switch (v[i]) {
      case ':': out += ';'; break;
      case 's': out += ' '; break;
      case '\\': out += '\\'; break;
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      default: out += v[i]; break;  // unknown escapes lose the backslash (IRCv3)
    }
  }
  return out;
}

void parse_tags(std::string_view text, std::map<std::string, std::string>& tags) {
  while (!text.empty()) {
    auto end = text.find(';');
    auto item = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    auto key = item.substr(0, eq);
    if (key.empty()) continue;
    tags[std::string(key)] = eq == std::string_view::npos ? std::string{} : unescape_tag_value(item.substr(eq + 1));
  }
}

void skip_spaces(std::string_view& s) {
  auto n = s.find_first_not_of(' ');
  s.remove_prefix(n == std::string_view::npos ? s.size() : n);
}

std::string_view take_word(std::string_view& s) {
  auto end = s.find(' ');
  auto word = s.substr(0, end);
  s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  return word;
}

bool valid_command(std::string_view c) {
  if (c.empty()) return false;
  if (std::all_of(c.begin(), c.end(), is_letter)) return true;
  return c.size() == 3 && std::all_of(c.begin(), c.end(), is_digit);
}

bool is_continuation(unsigned char c) { return (c & 0xC0U) == 0x80U; }

}  // namespace

user_mask parse_mask(std::string_view prefix) {
  user_mask m;
  auto bang = prefix.find('!');
  auto at = prefix.find('@', bang == std::string_view::npos ? 0 : bang);
  auto nick_end = std::min(bang, at);
  m.nick = std::string(prefix.substr(0, nick_end));
  if (bang != std::string_view::npos) {
    auto user_end = at == std::string_view::npos ? prefix.size() : at;
    m.user = std::string(prefix.substr(bang + 1, user_end - bang - 1));
  }
  if (at != std::string_view::npos) m.host = std::string(prefix.substr(at + 1));
  return m;
}

std::string nick_of(std::string_view prefix) { return parse_mask(prefix).nick; }

std::optional<message> parse(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;  // one line only

  message m;
  skip_spaces(line);
  if (!line.empty() && line.front() == '@') {
    line.remove_prefix(1);
    parse_tags(take_word(line), m.tags);
    skip_spaces(line);
  }
  if (!line.empty() && line.front() == ':') {
    line.remove_prefix(1);
    m.prefix = std::string(take_word(line));
    if (m.prefix.empty()) return std::nullopt;
    skip_spaces(line);
  }
  auto command = take_word(line);
  if (!valid_command(command)) return std::nullopt;
  m.command.reserve(command.size());
  for (char c : command) m.command += to_upper_ascii(c);

  for (;;) {
    skip_spaces(line);
    if (line.empty()) break;
    if (line.front() == ':' || m.params.size() == max_params - 1) {
      // The trailing parameter, or the 15th, which takes the rest of the line.
      if (line.front() == ':') line.remove_prefix(1);
      m.params.emplace_back(line);
      break;
    }
    m.params.emplace_back(take_word(line));
  }
  return m;
}

std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\0') continue;
    out += (c == '\r' || c == '\n') ? ' ' : c;
  }
  return out;
}

std::string serialize(std::string_view command, const std::vector<std::string>& params) {
  std::string out;
  for (char c : sanitize(command)) out += c == ' ' ? '_' : c;
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto p = sanitize(params[i]);
    out += ' ';
    bool last = i + 1 == params.size();
    if (last) {
      if (p.empty() || p.front() == ':' || p.find(' ') != std::string::npos) out += ':';
      out += p;
    } else {
      if (p.empty()) p = "_";
      if (p.front() == ':') p.front() = '_';
      std::replace(p.begin(), p.end(), ' ', '_');
      out += p;
    }
  }
  out += "\r\n";
  return out;
}

std::size_t privmsg_budget(std::string_view nick, std::string_view user, std::string_view host,
                           std::string_view target) {
  constexpr std::size_t minimum = 32;
  std::size_t user_len = user.empty() ? unknown_user_bytes : user.size();
  std::size_t host_len = host.empty() ? unknown_host_bytes : host.size();
  // ":" nick "!" user "@" host " PRIVMSG " target " :"
  std::size_t overhead = 1 + nick.size() + 1 + user_len + 1 + host_len + 9 + target.size() + 2;
  std::size_t room = max_line_bytes - 2;
  if (overhead + minimum > room) return minimum;
  return room - overhead;
}

std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char b = byte(pos);
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0) lo = 0xA0;  // overlong
    if (b == 0xED) hi = 0x9F;  // surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0) lo = 0x90;  // overlong
    if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 1;
  }
  if (pos + len > text.size()) return 1;
  if (byte(pos + 1) < lo || byte(pos + 1) > hi) return 1;
  for (std::size_t i = 2; i < len; ++i)
    if (!is_continuation(byte(pos + i))) return 1;
  return len;
}

std::vector<std::string> split_text(std::string_view text, std::size_t max_bytes) {
  max_bytes = std::max<std::size_t>(max_bytes, 4);  // room for any one UTF-8 character
  std::vector<std::string> pieces;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text.size() - pos <= max_bytes) {
      pieces.emplace_back(text.substr(pos));
      break;
    }
    std::size_t cut = pos;
    for (;;) {
      std::size_t len = utf8_sequence_length(text, cut);
      if (cut + len - pos > max_bytes) break;
      cut += len;
    }
    // The character at `cut` does not fit; prefer the last space in the second half
    // (including a space right at `cut`, which then is the one not sent).
    std::size_t half = pos + max_bytes / 2;
    std::size_t space = text.rfind(' ', cut);
    if (space != std::string_view::npos && space >= half && space > pos) {
      pieces.emplace_back(text.substr(pos, space - pos));
      pos = space + 1;
    } else {
      pieces.emplace_back(text.substr(pos, cut - pos));
      pos = cut;
    }
  }
  return pieces;
}

bool is_channel(std::string_view target) {
  return !target.empty() && (target.front() == '#' || target.front() == '&' || target.front() == '+' ||
                             target.front() == '!');
}

bool irc_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (irc_lower(a[i]) != irc_lower(b[i])) return false;
  return true;
}

std::optional<ctcp_request> parse_ctcp(std::string_view text) {
  if (text.size() < 2 || text.front() != '\x01') return std::nullopt;
  text.remove_prefix(1);
  if (text.back() == '\x01') text.remove_suffix(1);
  ctcp_request r;
  auto space = text.find(' ');
  for (char c : text.substr(0, space)) r.command += to_upper_ascii(c);
  if (r.command.empty()) return std::nullopt;
  if (space != std::string_view::npos) r.args = std::string(text.substr(space + 1));
  return r;
}

std::string version_string() {
#ifdef HERALD_VERSION
  return std::string("herald ") + HERALD_VERSION;
#else
  return "herald";
#endif
}

std::string ctcp_version_reply() { return "\x01VERSION " + version_string() + "\x01"; }

std::string nick_candidate(std::string_view nick, const std::vector<std::string>& alt_nicks,
                           std::size_t attempt) {
  if (attempt == 0) return std::string(nick);
  if (attempt <= alt_nicks.size()) return alt_nicks[attempt - 1];
  std::size_t k = attempt - alt_nicks.size();
  if (k <= 3) return std::string(nick) + std::string(k, '_');
  return std::string(nick.substr(0, 6)) + std::to_string(attempt);
}

std::vector<std::string> join_lines(const std::vector<std::pair<std::string, std::string>>& channels) {
  constexpr std::size_t limit = 400;  // well within 512, leaving room for a long server prefix
  std::vector<std::pair<std::string, std::string>> ordered;
  for (const auto& c : channels)
    if (!c.second.empty()) ordered.push_back(c);
  for (const auto& c : channels)
    if (c.second.empty()) ordered.push_back(c);

  std::vector<std::string> lines;
  std::string names, keys;
  auto flush = [&] {
    if (names.empty()) return;
    lines.push_back(keys.empty() ? serialize("JOIN", {names}) : serialize("JOIN", {names, keys}));
    names.clear();
    keys.clear();
  };
  for (const auto& [name, key] : ordered) {
    // Commas or spaces in a name or key would change the meaning of the list.
    std::string n = sanitize(name), k = sanitize(key);
    std::replace(n.begin(), n.end(), ',', '_');
    std::replace(n.begin(), n.end(), ' ', '_');
    std::replace(k.begin(), k.end(), ',', '_');
    std::replace(k.begin(), k.end(), ' ', '_');
    if (n.empty()) continue;
    if (!names.empty() && names.size() + keys.size() + n.size() + k.size() + 2 > limit) flush();
    if (!names.empty()) names += ',';
    names += n;
    if (!k.empty()) {
      if (!keys.empty()) keys += ',';
      keys += k;
    }
  }
  flush();
  return lines;
}

void line_reader::feed(std::string_view bytes) {
  if (discarding_) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) return;
    bytes.remove_prefix(nl + 1);
    discarding_ = false;
  }
  buffer_.append(bytes);
  auto last_nl = buffer_.rfind('\n');
  std::size_t tail = (last_nl == std::string::npos || last_nl < start_) ? start_ : last_nl + 1;
  if (buffer_.size() - tail > max_bytes_) {
    buffer_.resize(tail);
    discarding_ = true;
    ++discarded_;
  }
}

std::optional<std::string> line_reader::next() {
  for (;;) {
    auto nl = buffer_.find('\n', start_);
    if (nl == std::string::npos) {
      buffer_.erase(0, start_);
      start_ = 0;
      return std::nullopt;
    }
    std::string_view line(buffer_.data() + start_, nl - start_);
    start_ = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_bytes_) {
      ++discarded_;
      continue;
    }
    if (line.empty()) continue;
    return std::string(line);
  }
}

}  // namespace herald::bot::irc
