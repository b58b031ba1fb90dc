// What the network tells us about channels and people, as pure state: ISUPPORT (005),
// channel membership with prefixes (NAMES, JOIN, PART, KICK, QUIT, NICK, MODE), channel
// modes, and services accounts per nick. The client feeds it; the chat core asks it who
// is an operator and who is logged in as whom.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::bot::irc {

enum class casemapping { ascii, rfc1459, strict_rfc1459 };

// Lower-cases `s` under the network's casemapping, for use as a map key.
std::string fold_case(std::string_view s, casemapping cm);

// Server features from RPL_ISUPPORT (005); defaults are RFC 1459's, but for PREFIX.
struct isupport {
  std::string prefix_modes = "qaohv";  // highest first; a server without PREFIX may still use all
  std::string prefix_symbols = "~&@%+";  // same order as prefix_modes
  std::string list_modes = "beI";     // CHANMODES type A: always a parameter, a list
  std::string param_modes = "k";      // type B: always a parameter
  std::string set_param_modes = "l";  // type C: a parameter when set
  std::string flag_modes = "imnpst";  // type D: never a parameter
  casemapping casemap = casemapping::rfc1459;
  std::size_t nicklen = 0;  // 0: not announced
  std::string chantypes = "#&+!";
  std::string statusmsg;  // e.g. "@+": prefixes allowed before a channel target

  // Applies the tokens of one 005 line (without our nick and the trailing text).
  void apply(const std::vector<std::string>& tokens);

  // Rank of a prefix symbol: 0 is the highest; nullopt if it is not one.
  std::optional<std::size_t> symbol_rank(char symbol) const;
  // The symbol a prefix mode letter gives (`o` -> `@`); '\0' if it is not a prefix mode.
  char mode_symbol(char mode) const;
  // A symbol at or above `@` (op): `~`, `&`, `@` with the usual PREFIX.
  bool is_operator_symbol(char symbol) const;

  enum class mode_arg { none, always, when_set };
  mode_arg arg_kind(char mode) const;

  bool is_channel(std::string_view target) const;
};

// "(qaohv)~&@%+" -> modes "qaohv", symbols "~&@%+"; false when malformed.
bool parse_prefix(std::string_view value, std::string& modes, std::string& symbols);

class channel_state {
 public:
  const isupport& support() const noexcept { return support_; }
  void apply_isupport(const std::vector<std::string>& tokens);

  void set_own_nick(std::string_view nick);
  const std::string& own_nick() const noexcept { return own_nick_; }
  // A new connection: nothing is known any more.
  void reset();

  // `account`: from extended-join (empty = logged out); nullopt when the JOIN did not say.
  void on_join(std::string_view nick, std::string_view channel, std::optional<std::string> account = std::nullopt);
  void on_part(std::string_view nick, std::string_view channel);
  void on_kick(std::string_view channel, std::string_view victim);
  void on_quit(std::string_view nick);
  // `keep_account`: the account moves to the new nick (the server tells us about later
  // changes with account-notify); otherwise it is forgotten and must be looked up again.
  void on_nick(std::string_view old_nick, std::string_view new_nick, bool keep_account);
  // 353 RPL_NAMREPLY: space-separated names with their prefixes (several with multi-prefix,
  // `nick!user@host` with userhost-in-names).
  void on_names(std::string_view channel, std::string_view names);
  // MODE <channel> <modes> <params...>: `args` is everything after the channel.
  void on_mode(std::string_view channel, const std::vector<std::string>& args);
  // 324 RPL_CHANNELMODEIS: the channel's full modes (replaces what we knew).
  void on_channel_modes(std::string_view channel, const std::vector<std::string>& args);
  // ACCOUNT (account-notify), or our own SASL: `*` or empty means logged out.
  void on_account(std::string_view nick, std::string_view account);
  // A WHOIS answered: kept only while we share a channel with `nick`, as nothing tells us
  // when someone we do not see quits and another takes the nick.
  void remember_account(std::string_view nick, std::string_view account);

  bool in_channel(std::string_view channel) const;
  std::vector<std::string> channels() const;  // the names we are in, as the server spelled them
  bool is_member(std::string_view channel, std::string_view nick) const;
  std::string prefixes(std::string_view channel, std::string_view nick) const;  // highest first
  bool is_operator(std::string_view channel, std::string_view nick) const;
  bool has_mode(std::string_view channel, char mode) const;
  // Whether 324 (RPL_CHANNELMODEIS) told us the channel's modes since we joined it.
  bool modes_known(std::string_view channel) const;
  std::string modes(std::string_view channel) const;  // the flag letters set, sorted
  // The account of `nick`: "" when known to be logged out, nullopt when unknown.
  std::optional<std::string> account(std::string_view nick) const;
  bool shares_channel(std::string_view nick) const;
  std::size_t tracked_accounts() const noexcept { return accounts_.size(); }

 private:
  struct member {
    std::string nick;
    std::string prefixes;  // symbols, highest first
  };
  struct channel_info {
    std::string name;
    std::map<std::string, member> members;  // by folded nick
    std::string modes;                      // flag letters, sorted
    bool modes_known = false;
  };

  std::string fold(std::string_view s) const { return fold_case(s, support_.casemap); }
  channel_info* find(std::string_view channel);
  const channel_info* find(std::string_view channel) const;
  void set_prefix(member& m, char symbol, bool on) const;
  void forget_if_unseen(const std::string& folded_nick);
  void set_mode_flag(channel_info& c, char mode, bool on) const;

  isupport support_;
  std::string own_nick_;
  std::map<std::string, channel_info> channels_;  // by folded name
  std::map<std::string, std::string> accounts_;   // by folded nick; "" = logged out
};

}  // namespace herald::bot::irc
