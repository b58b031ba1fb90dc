// Channel membership, prefixes, modes and accounts; see channel_state.hpp.
#include "bot/irc/channel_state.hpp"

#include <algorithm>
#include <charconv>

namespace herald::bot::irc {

namespace {

bool contains(std::string_view s, char c) { return c != '\0' && s.find(c) != std::string_view::npos; }

}  // namespace

std::string fold_case(std::string_view s, casemapping cm) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
      continue;
    }
    if (cm == casemapping::ascii) continue;
    switch (c) {
      case '[': c = '{'; break;
      case ']': c = '}'; break;
      case '\\': c = '|'; break;
      case '~':
        if (cm == casemapping::rfc1459) c = '^';
        break;
      default: break;
    }
  }
  return out;
}

bool parse_prefix(std::string_view value, std::string& modes, std::string& symbols) {
  if (value.empty()) {  // PREFIX= : no prefixes at all
    modes.clear();
    symbols.clear();
    return true;
  }
  if (value.front() != '(') return false;
  auto close = value.find(')');
  if (close == std::string_view::npos) return false;
  auto m = value.substr(1, close - 1);
  auto s = value.substr(close + 1);
  if (m.size() != s.size()) return false;
  modes = std::string(m);
  symbols = std::string(s);
  return true;
}

void isupport::apply(const std::vector<std::string>& tokens) {
  for (const auto& token : tokens) {
    std::string_view t = token;
    if (t.empty() || t.front() == '-') continue;  // -KEY withdraws a feature: keep our defaults
    auto eq = t.find('=');
    auto key = t.substr(0, eq);
    auto value = eq == std::string_view::npos ? std::string_view{} : t.substr(eq + 1);
    if (key == "PREFIX") {
      std::string modes, symbols;
      if (parse_prefix(value, modes, symbols)) {
        prefix_modes = std::move(modes);
        prefix_symbols = std::move(symbols);
      }
    } else if (key == "CHANMODES") {
      std::vector<std::string> parts(4);
      std::size_t i = 0;
      for (char c : value) {
        if (c == ',') {
          if (++i >= parts.size()) break;
        } else {
          parts[i] += c;
        }
      }
      list_modes = parts[0];
      param_modes = parts[1];
      set_param_modes = parts[2];
      flag_modes = parts[3];
    } else if (key == "CASEMAPPING") {
      if (value == "ascii")
        casemap = casemapping::ascii;
      else if (value == "strict-rfc1459")
        casemap = casemapping::strict_rfc1459;
      else
        casemap = casemapping::rfc1459;  // rfc1459, and the safe guess for anything unknown
    } else if (key == "NICKLEN") {
      std::size_t n = 0;
      auto [end, err] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (err == std::errc{} && end == value.data() + value.size()) nicklen = n;
    } else if (key == "CHANTYPES") {
      chantypes = std::string(value);
    } else if (key == "STATUSMSG") {
      statusmsg = std::string(value);
    }
  }
}

std::optional<std::size_t> isupport::symbol_rank(char symbol) const {
  auto pos = prefix_symbols.find(symbol);
  if (symbol == '\0' || pos == std::string::npos) return std::nullopt;
  return pos;
}

char isupport::mode_symbol(char mode) const {
  auto pos = prefix_modes.find(mode);
  if (mode == '\0' || pos == std::string::npos || pos >= prefix_symbols.size()) return '\0';
  return prefix_symbols[pos];
}

bool isupport::is_operator_symbol(char symbol) const {
  auto rank = symbol_rank(symbol);
  if (!rank) return false;
  auto op = prefix_modes.find('o');
  // No `o` in PREFIX: only the highest prefix counts as an operator.
  return op == std::string::npos ? *rank == 0 : *rank <= op;
}

isupport::mode_arg isupport::arg_kind(char mode) const {
  if (contains(prefix_modes, mode) || contains(list_modes, mode) || contains(param_modes, mode))
    return mode_arg::always;
  if (contains(set_param_modes, mode)) return mode_arg::when_set;
  return mode_arg::none;
}

bool isupport::is_channel(std::string_view target) const {
  return !target.empty() && contains(chantypes, target.front());
}

void channel_state::apply_isupport(const std::vector<std::string>& tokens) {
  auto before = support_.casemap;
  support_.apply(tokens);
  if (support_.casemap == before) return;
  // Keys were folded under the old mapping; refold them.
  std::map<std::string, channel_info> channels;
  for (auto& [key, info] : channels_) {
    std::map<std::string, member> members;
    for (auto& [k, m] : info.members) members.emplace(fold(m.nick), std::move(m));
    info.members = std::move(members);
    channels.emplace(fold(info.name), std::move(info));
  }
  channels_ = std::move(channels);
  std::map<std::string, std::string> accounts;
  for (auto& [k, a] : accounts_) accounts.emplace(fold(k), std::move(a));
  accounts_ = std::move(accounts);
}

void channel_state::set_own_nick(std::string_view nick) {
  if (!own_nick_.empty() && fold(own_nick_) != fold(nick)) {
    auto it = accounts_.find(fold(own_nick_));
    if (it != accounts_.end()) {
      auto account = std::move(it->second);
      accounts_.erase(it);
      accounts_[fold(nick)] = std::move(account);
    }
  }
  own_nick_ = std::string(nick);
}

void channel_state::reset() {
  channels_.clear();
  accounts_.clear();
  support_ = isupport{};
}

channel_state::channel_info* channel_state::find(std::string_view channel) {
  auto it = channels_.find(fold(channel));
  return it == channels_.end() ? nullptr : &it->second;
}

const channel_state::channel_info* channel_state::find(std::string_view channel) const {
  auto it = channels_.find(fold(channel));
  return it == channels_.end() ? nullptr : &it->second;
}

void channel_state::on_join(std::string_view nick, std::string_view channel, std::optional<std::string> account) {
  if (nick.empty() || channel.empty()) return;
  auto key = fold(nick);
  if (key == fold(own_nick_)) {
    auto& c = channels_[fold(channel)];
    c = channel_info{};
    c.name = std::string(channel);
    c.members[key] = member{std::string(nick), {}};
    return;
  }
  auto* c = find(channel);
  if (!c) return;
  c->members[key] = member{std::string(nick), {}};
  if (account) accounts_[key] = *account == "*" ? std::string() : std::move(*account);
}

void channel_state::forget_if_unseen(const std::string& folded_nick) {
  if (folded_nick == fold(own_nick_)) return;
  if (!shares_channel(folded_nick)) accounts_.erase(folded_nick);
}

void channel_state::on_part(std::string_view nick, std::string_view channel) {
  auto key = fold(nick);
  if (key == fold(own_nick_)) {
    auto it = channels_.find(fold(channel));
    if (it == channels_.end()) return;
    std::vector<std::string> gone;
    for (const auto& [k, m] : it->second.members) gone.push_back(k);
    channels_.erase(it);
    for (const auto& k : gone) forget_if_unseen(k);
    return;
  }
  auto* c = find(channel);
  if (!c) return;
  c->members.erase(key);
  forget_if_unseen(key);
}

void channel_state::on_kick(std::string_view channel, std::string_view victim) { on_part(victim, channel); }

void channel_state::on_quit(std::string_view nick) {
  auto key = fold(nick);
  if (key == fold(own_nick_)) return;
  for (auto& [name, c] : channels_) c.members.erase(key);
  accounts_.erase(key);
}

void channel_state::on_nick(std::string_view old_nick, std::string_view new_nick, bool keep_account) {
  auto from = fold(old_nick), to = fold(new_nick);
  if (from == fold(own_nick_)) {
    own_nick_ = std::string(new_nick);
    keep_account = true;  // our own account follows us
  }
  for (auto& [name, c] : channels_) {
    auto it = c.members.find(from);
    if (it == c.members.end()) continue;
    auto m = std::move(it->second);
    c.members.erase(it);
    m.nick = std::string(new_nick);
    c.members[to] = std::move(m);
  }
  auto it = accounts_.find(from);
  std::optional<std::string> account;
  if (it != accounts_.end()) {
    account = std::move(it->second);
    accounts_.erase(it);
  }
  // Whatever we knew about the new nick belonged to someone else (or to nobody).
  accounts_.erase(to);
  if (keep_account && account) accounts_[to] = std::move(*account);
}

void channel_state::set_prefix(member& m, char symbol, bool on) const {
  auto pos = m.prefixes.find(symbol);
  if (!on) {
    if (pos != std::string::npos) m.prefixes.erase(pos, 1);
    return;
  }
  if (pos != std::string::npos) return;
  m.prefixes += symbol;
  std::sort(m.prefixes.begin(), m.prefixes.end(), [&](char a, char b) {
    return support_.symbol_rank(a).value_or(99) < support_.symbol_rank(b).value_or(99);
  });
}

void channel_state::on_names(std::string_view channel, std::string_view names) {
  auto* c = find(channel);
  if (!c) return;
  while (!names.empty()) {
    auto end = names.find(' ');
    auto word = names.substr(0, end);
    names = end == std::string_view::npos ? std::string_view{} : names.substr(end + 1);
    std::size_t n = 0;
    while (n < word.size() && support_.symbol_rank(word[n])) ++n;
    auto symbols = word.substr(0, n);
    auto nick = word.substr(n);
    nick = nick.substr(0, nick.find('!'));  // userhost-in-names
    if (nick.empty()) continue;
    member m{std::string(nick), {}};
    for (char s : symbols) set_prefix(m, s, true);
    c->members[fold(nick)] = std::move(m);
  }
}

void channel_state::set_mode_flag(channel_info& c, char mode, bool on) const {
  auto pos = c.modes.find(mode);
  if (on && pos == std::string::npos) {
    c.modes += mode;
    std::sort(c.modes.begin(), c.modes.end());
  } else if (!on && pos != std::string::npos) {
    c.modes.erase(pos, 1);
  }
}

void channel_state::on_mode(std::string_view channel, const std::vector<std::string>& args) {
  auto* c = find(channel);
  if (!c || args.empty()) return;
  bool adding = true;
  std::size_t next = 1;
  for (char mode : args[0]) {
    if (mode == '+' || mode == '-') {
      adding = mode == '+';
      continue;
    }
    auto kind = support_.arg_kind(mode);
    bool takes = kind == isupport::mode_arg::always || (kind == isupport::mode_arg::when_set && adding);
    std::string arg;
    if (takes) {
      if (next >= args.size()) continue;  // a missing parameter: skip rather than guess
      arg = args[next++];
    }
    if (char symbol = support_.mode_symbol(mode)) {
      auto it = c->members.find(fold(arg));
      if (it != c->members.end()) set_prefix(it->second, symbol, adding);
      continue;
    }
    if (support_.list_modes.find(mode) != std::string::npos) continue;
    set_mode_flag(*c, mode, adding);
  }
}

void channel_state::on_channel_modes(std::string_view channel, const std::vector<std::string>& args) {
  auto* c = find(channel);
  if (!c) return;
  c->modes.clear();
  c->modes_known = true;
  on_mode(channel, args);
}

void channel_state::on_account(std::string_view nick, std::string_view account) {
  auto key = fold(nick);
  if (key != fold(own_nick_) && !shares_channel(key)) return;
  accounts_[key] = account == "*" ? std::string() : std::string(account);
}

void channel_state::remember_account(std::string_view nick, std::string_view account) {
  on_account(nick, account);
}

bool channel_state::in_channel(std::string_view channel) const { return find(channel) != nullptr; }

std::vector<std::string> channel_state::channels() const {
  std::vector<std::string> out;
  for (const auto& [k, c] : channels_) out.push_back(c.name);
  return out;
}

bool channel_state::is_member(std::string_view channel, std::string_view nick) const {
  const auto* c = find(channel);
  return c && c->members.count(fold(nick)) != 0;
}

std::string channel_state::prefixes(std::string_view channel, std::string_view nick) const {
  const auto* c = find(channel);
  if (!c) return {};
  auto it = c->members.find(fold(nick));
  return it == c->members.end() ? std::string() : it->second.prefixes;
}

bool channel_state::is_operator(std::string_view channel, std::string_view nick) const {
  auto p = prefixes(channel, nick);
  return std::any_of(p.begin(), p.end(), [&](char s) { return support_.is_operator_symbol(s); });
}

bool channel_state::has_mode(std::string_view channel, char mode) const {
  const auto* c = find(channel);
  return c && c->modes.find(mode) != std::string::npos;
}

bool channel_state::modes_known(std::string_view channel) const {
  const auto* c = find(channel);
  return c && c->modes_known;
}

std::string channel_state::modes(std::string_view channel) const {
  const auto* c = find(channel);
  return c ? c->modes : std::string();
}

std::optional<std::string> channel_state::account(std::string_view nick) const {
  auto it = accounts_.find(fold(nick));
  if (it == accounts_.end()) return std::nullopt;
  return it->second;
}

bool channel_state::shares_channel(std::string_view nick) const {
  auto key = fold(nick);
  return std::any_of(channels_.begin(), channels_.end(),
                     [&](const auto& kv) { return kv.second.members.count(key) != 0; });
}

}  // namespace herald::bot::irc
