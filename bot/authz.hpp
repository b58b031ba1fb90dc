// Who may run a command: rules are nicks, "account:NAME", "nick!user@host"
// globs, "@ops" for the operators of the channel the command came from, or
// "*" for anyone.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bot/transport.hpp"

namespace herald::bot {

// IRC-style case folding (rfc1459: []\~ fold to {}|^).
std::string irc_lower(std::string_view s);
// '*' and '?' glob match, case-insensitive.
bool glob_match(std::string_view pattern, std::string_view text);
bool rule_matches(std::string_view rule, const sender& who, bool channel_operator = false);
bool allowed(const std::vector<std::string>& rules, const sender& who, bool channel_operator = false);

}  // namespace herald::bot
