// The IRC wire format as pure functions: parse and build protocol lines, split long
// texts within the 512-byte budget, CTCP, nick fallbacks. No I/O, so it is unit-tested and fuzzed.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::bot::irc {

struct message {
  std::map<std::string, std::string> tags;  // IRCv3 message tags, values unescaped
  std::string prefix;                       // without the leading ':'; empty when absent
  std::string command;                      // upper-cased letters, or three digits
  std::vector<std::string> params;          // the trailing parameter, if any, is the last
};

// `nick!user@host`; user and host are empty when the prefix lacks them (a server name).
struct user_mask {
  std::string nick;
  std::string user;
  std::string host;
};
user_mask parse_mask(std::string_view prefix);
std::string nick_of(std::string_view prefix);

// One line as received (a trailing CR/LF is allowed). nullopt for anything that is not
// a message; never crashes on any bytes.
std::optional<message> parse(std::string_view line);

// Replaces CR and LF with a space and drops NUL: nothing from outside may end a line early.
std::string sanitize(std::string_view text);

// `COMMAND p1 p2 :last\r\n`. Every parameter is sanitized; the last one gets a ':' when it
// needs it (empty, has a space, starts with ':'). A middle parameter that could not be a
// middle one (space, leading ':', empty) is made one ('_' for space, leading ':' and empty)
// so a hostile channel name or nick cannot add parameters.
std::string serialize(std::string_view command, const std::vector<std::string>& params);

inline constexpr std::size_t max_line_bytes = 512;        // including CRLF
inline constexpr std::size_t max_incoming_line = 8191 + 512;  // IRCv3 tags budget + the message
inline constexpr std::size_t unknown_user_bytes = 10;
inline constexpr std::size_t unknown_host_bytes = 63;

// Bytes of text that fit in one PRIVMSG as the server relays it to others:
// 512 - CRLF - len(":nick!user@host PRIVMSG target :"). An empty user or host means
// "not known yet" and counts as 10 and 63 bytes. Never below 32 (a hostile long target).
std::size_t privmsg_budget(std::string_view nick, std::string_view user, std::string_view host,
                           std::string_view target);

// Splits `text` into pieces of at most `max_bytes` bytes (at least 4 are used), never inside
// a UTF-8 sequence (invalid bytes count as one-byte characters). A piece ends at its last
// space when that space is in the piece's second half; that space is not sent. Empty text
// gives no pieces.
std::vector<std::string> split_text(std::string_view text, std::size_t max_bytes);

// Length of the UTF-8 sequence starting at text[pos]: 1 for ASCII and for any invalid byte.
std::size_t utf8_sequence_length(std::string_view text, std::size_t pos);

bool is_channel(std::string_view target);
// Nick and channel comparison under rfc1459 casemapping ([]\~ are upper case of {}|^).
bool irc_iequal(std::string_view a, std::string_view b);

// `\x01COMMAND args\x01` (the closing \x01 is optional, as clients differ).
struct ctcp_request {
  std::string command;  // upper-cased
  std::string args;
};
std::optional<ctcp_request> parse_ctcp(std::string_view text);
std::string version_string();       // "herald <HERALD_VERSION>" or "herald"
std::string ctcp_version_reply();   // "\x01VERSION herald ...\x01"

// The nick to try after `attempt` refusals: the nick, the alternatives, nick_, nick__,
// nick___, then the first 6 bytes of the nick plus the attempt number.
std::string nick_candidate(std::string_view nick, const std::vector<std::string>& alt_nicks,
                           std::size_t attempt);

// JOIN lines for (channel, key) pairs, several channels per line (keyed ones first, as
// keys pair up with channels by position), each line within the 512-byte limit.
std::vector<std::string> join_lines(const std::vector<std::pair<std::string, std::string>>& channels);

// Cuts a byte stream into lines (LF or CRLF). A line longer than `max_bytes` is discarded
// up to its end, and counted, so a hostile peer cannot grow our buffer.
class line_reader {
 public:
  explicit line_reader(std::size_t max_bytes = max_incoming_line) : max_bytes_(max_bytes) {}
  void feed(std::string_view bytes);
  // The next complete line without CR/LF; empty lines are skipped.
  std::optional<std::string> next();
  std::size_t discarded() const noexcept { return discarded_; }

 private:
  std::size_t max_bytes_;
  std::string buffer_;
  std::size_t start_ = 0;
  bool discarding_ = false;
  std::size_t discarded_ = 0;
};

}  // namespace herald::bot::irc
