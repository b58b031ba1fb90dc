#include "bot/authz.hpp"

#include <cctype>

namespace herald::bot {

std::string irc_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    switch (c) {
      case '[': c = '{'; break;
      case ']': c = '}'; break;
      case '\\': c = '|'; break;
      case '~': c = '^'; break;
      default: c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: linear for '*'-only patterns.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  auto eq = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  };
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || eq(pattern[p], text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool rule_matches(std::string_view rule, const sender& who, bool channel_operator) {
  if (rule == "*") return true;
  if (rule == "@ops") return channel_operator;
  if (rule.starts_with("account:")) {
    auto account = rule.substr(8);
    return !who.account.empty() && irc_lower(account) == irc_lower(who.account);
  }
  if (rule.find('!') != std::string_view::npos || rule.find('@') != std::string_view::npos) {
    // A mask only counts when the network told us user and host.
    if (who.user.empty() || who.host.empty()) return false;
    return glob_match(irc_lower(rule), irc_lower(who.nick + "!" + who.user + "@" + who.host));
  }
  return irc_lower(rule) == irc_lower(who.nick);
}

bool allowed(const std::vector<std::string>& rules, const sender& who, bool channel_operator) {
  for (const auto& r : rules)
    if (rule_matches(r, who, channel_operator)) return true;
  return false;
}

}  // namespace herald::bot
