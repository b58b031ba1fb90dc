// CAP negotiation and SASL helpers; see ircv3.hpp.
#include "bot/irc/ircv3.hpp"

#include <algorithm>

namespace herald::bot::irc {

namespace {

constexpr std::size_t authenticate_chunk = 400;
constexpr std::size_t req_line_budget = 400;

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequal_ascii(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return upper(x) == upper(y);
         });
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const std::string& param(const message& m, std::size_t i) {
  static const std::string none;
  return i < m.params.size() ? m.params[i] : none;
}

}  // namespace

std::vector<cap_entry> parse_cap_list(std::string_view text) {
  std::vector<cap_entry> out;
  while (!text.empty()) {
    auto end = text.find(' ');
    auto word = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (word.empty()) continue;
    cap_entry e;
    while (!word.empty() && (word.front() == '-' || word.front() == '~' || word.front() == '=')) {
      if (word.front() == '-') e.removed = true;
      word.remove_prefix(1);
    }
    auto eq = word.find('=');
    e.name = std::string(word.substr(0, eq));
    if (eq != std::string_view::npos) e.value = std::string(word.substr(eq + 1));
    if (e.name.empty()) continue;
    out.push_back(std::move(e));
  }
  return out;
}

cap_negotiator::cap_negotiator(std::vector<std::string> wanted, std::string sasl_mechanism)
    : wanted_(std::move(wanted)) {
  for (char c : sasl_mechanism) mechanism_ += upper(c);
}

bool cap_negotiator::offered(std::string_view cap) const {
  return std::any_of(offered_.begin(), offered_.end(), [&](const cap_entry& e) { return e.name == cap; });
}

std::optional<std::string> cap_negotiator::offered_value(std::string_view cap) const {
  for (const auto& e : offered_)
    if (e.name == cap) return e.value;
  return std::nullopt;
}

bool cap_negotiator::enabled(std::string_view cap) const { return contains(enabled_, cap); }

bool cap_negotiator::sasl_available() const {
  if (mechanism_.empty()) return false;
  auto value = offered_value("sasl");
  if (!value) return false;
  if (value->empty()) return true;
  std::string_view list = *value;
  while (!list.empty()) {
    auto comma = list.find(',');
    if (iequal_ascii(list.substr(0, comma), mechanism_)) return true;
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return false;
}

std::vector<std::string> cap_negotiator::requestable(const std::vector<cap_entry>& caps) const {
  std::vector<std::string> names;
  for (const auto& e : caps) {
    if (enabled(e.name) || contains(names, e.name)) continue;
    if (contains(wanted_, e.name)) names.push_back(e.name);
  }
  return names;
}

cap_negotiator::step cap_negotiator::request(std::vector<std::string> names) {
  step s;
  std::string list;
  auto flush = [&] {
    if (list.empty()) return;
    s.lines.push_back("CAP REQ :" + list + "\r\n");
    ++outstanding_;
    list.clear();
  };
  for (const auto& n : names) {
    if (!list.empty() && list.size() + 1 + n.size() > req_line_budget) flush();
    if (!list.empty()) list += ' ';
    list += n;
  }
  flush();
  return s;
}

cap_negotiator::step cap_negotiator::finish() {
  step s;
  if (phase_ == phase::done) return s;
  phase_ = phase::done;
  s.lines.push_back("CAP END\r\n");
  s.finished = true;
  return s;
}

cap_negotiator::step cap_negotiator::after_requests() {
  if (outstanding_ > 0) return {};
  if (enabled("sasl") && !mechanism_.empty()) {
    phase_ = phase::authenticating;
    step s;
    s.start_sasl = true;
    return s;
  }
  return finish();
}

cap_negotiator::step cap_negotiator::on_cap(const message& m) {
  // CAP <target> <subcommand> [*] :<list>
  std::string sub;
  for (char c : param(m, 1)) sub += upper(c);
  bool more = m.params.size() >= 4 && m.params[2] == "*";
  const std::string& list = m.params.empty() ? param(m, 0) : m.params.back();
  if (m.params.size() < 3) return {};

  if (sub == "LS") {
    if (phase_ != phase::listing) return {};
    answered_ = true;
    auto caps = parse_cap_list(list);
    listing_.insert(listing_.end(), caps.begin(), caps.end());
    if (more) return {};
    offered_ = std::move(listing_);
    listing_.clear();
    auto names = requestable(offered_);
    if (!mechanism_.empty() && sasl_available()) names.push_back("sasl");
    if (names.empty()) return finish();
    phase_ = phase::requesting;
    return request(std::move(names));
  }
  if (sub == "ACK") {
    for (const auto& e : parse_cap_list(list)) {
      if (e.removed)
        std::erase(enabled_, e.name);
      else if (!enabled(e.name))
        enabled_.push_back(e.name);
    }
    if (outstanding_ > 0) --outstanding_;
    if (phase_ == phase::requesting) return after_requests();
    return {};
  }
  if (sub == "NAK") {
    if (outstanding_ > 0) --outstanding_;
    if (phase_ == phase::requesting) return after_requests();
    return {};
  }
  if (sub == "NEW") {
    auto caps = parse_cap_list(list);
    for (const auto& e : caps) {
      std::erase_if(offered_, [&](const cap_entry& o) { return o.name == e.name; });
      offered_.push_back(e);
    }
    // SASL after registration would change who we are mid-session; not requested.
    if (phase_ == phase::listing || phase_ == phase::authenticating) return {};
    return request(requestable(caps));
  }
  if (sub == "DEL") {
    for (const auto& e : parse_cap_list(list)) {
      std::erase(enabled_, e.name);
      std::erase_if(offered_, [&](const cap_entry& o) { return o.name == e.name; });
    }
    return {};
  }
  return {};
}

cap_negotiator::step cap_negotiator::sasl_finished() {
  if (phase_ != phase::authenticating) return {};
  return finish();
}

void cap_negotiator::abandon() {
  if (phase_ == phase::listing) phase_ = phase::done;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (at(i) << 16U) | (at(i + 1) << 8U) | at(i + 2);
    out += alphabet[(v >> 18U) & 63U];
    out += alphabet[(v >> 12U) & 63U];
    out += alphabet[(v >> 6U) & 63U];
    out += alphabet[v & 63U];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    unsigned v = at(i) << 16U;
    out += alphabet[(v >> 18U) & 63U];
    out += alphabet[(v >> 12U) & 63U];
    out += "==";
  } else if (rest == 2) {
    unsigned v = (at(i) << 16U) | (at(i + 1) << 8U);
    out += alphabet[(v >> 18U) & 63U];
    out += alphabet[(v >> 12U) & 63U];
    out += alphabet[(v >> 6U) & 63U];
    out += '=';
  }
  return out;
}

std::string sasl_plain_message(std::string_view user, std::string_view password) {
  std::string out;
  out.reserve(user.size() * 2 + password.size() + 2);
  out.append(user);
  out += '\0';
  out.append(user);
  out += '\0';
  out.append(password);
  return out;
}

std::vector<std::string> authenticate_lines(std::string_view base64) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < base64.size(); pos += authenticate_chunk)
    out.push_back("AUTHENTICATE " + std::string(base64.substr(pos, authenticate_chunk)) + "\r\n");
  if (base64.size() % authenticate_chunk == 0) out.push_back("AUTHENTICATE +\r\n");
  return out;
}

std::string redact_for_log(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  auto starts_with_ci = [](std::string_view s, std::string_view p) {
    return s.size() >= p.size() && iequal_ascii(s.substr(0, p.size()), p);
  };
  if (starts_with_ci(line, "PASS ")) return "PASS ****";
  if (starts_with_ci(line, "AUTHENTICATE ")) {
    auto arg = line.substr(13);
    static constexpr std::string_view harmless[] = {"+", "*", "PLAIN", "EXTERNAL"};
    for (auto h : harmless)
      if (arg == h) return std::string(line);
    return "AUTHENTICATE ****";
  }
  if (starts_with_ci(line, "PRIVMSG ") || starts_with_ci(line, "NOTICE ")) {
    auto colon = line.find(" :");
    if (colon != std::string_view::npos) {
      auto text = line.substr(colon + 2);
      auto first = text.substr(0, text.find(' '));
      static constexpr std::string_view sensitive[] = {"IDENTIFY", "REGISTER", "GHOST", "RECOVER", "REGAIN",
                                                       "LOGIN"};
      for (auto s : sensitive)
        if (iequal_ascii(first, s)) return std::string(line.substr(0, colon + 2)) + std::string(first) + " ****";
    }
  }
  return std::string(line);
}

}  // namespace herald::bot::irc
