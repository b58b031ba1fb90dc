// libFuzzer target for the IRC wire format: any bytes from a server must parse or be refused,
// and nothing we build from them may end a line early or cut a UTF-8 character in two.
#include "bot/irc/message.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace irc = herald::bot::irc;

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

bool has_line_breaker(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos; }

// A serialized line is one line: CRLF at the end and no CR, LF or NUL before it.
void check_line(std::string_view line) {
  check(line.size() >= 2 && line.ends_with("\r\n"), "serialize: line does not end with CRLF");
  check(!has_line_breaker(line.substr(0, line.size() - 2)), "serialize: CR, LF or NUL before the final CRLF");
}

void check_round_trip(const irc::message& m) {
  std::string line = irc::serialize(m.command, m.params);
  check_line(line);
  auto again = irc::parse(line);
  check(again.has_value(), "serialize: a parsed message does not parse again");
  check(again->command == m.command, "serialize: the command changed");
  check(again->params.size() == m.params.size(), "serialize: the number of parameters changed");
  for (std::size_t i = 0; i < m.params.size(); ++i) {
    // serialize may rewrite a middle parameter that could not be one; all else survives sanitized.
    std::string expected = irc::sanitize(m.params[i]);
    bool rewritten = i + 1 < m.params.size() && (expected.empty() || expected.front() == ':');
    if (!rewritten) check(again->params[i] == expected, "serialize: a parameter changed");
  }
}

// Pieces must be at most max(n, 4) bytes and, put back together with at most one space dropped
// between two pieces, give the text, every cut on a UTF-8 sequence boundary.
void check_split(std::string_view text, std::size_t n) {
  auto pieces = irc::split_text(text, n);
  std::size_t limit = std::max<std::size_t>(n, 4);
  std::vector<bool> boundary(text.size() + 1, false);
  for (std::size_t pos = 0; pos < text.size(); pos += irc::utf8_sequence_length(text, pos)) boundary[pos] = true;
  boundary[text.size()] = true;

  // Where the text could be after each piece; two choices per piece (a dropped space or not).
  std::set<std::size_t> at{0};
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto& piece = pieces[i];
    check(!piece.empty(), "split_text: an empty piece");
    check(piece.size() <= limit, "split_text: a piece longer than the limit");
    std::set<std::size_t> next;
    for (std::size_t pos : at) {
      for (std::size_t skip = 0; skip < (i == 0 ? 1U : 2U); ++skip) {
        std::size_t start = pos + skip;
        if (skip == 1 && (pos >= text.size() || text[pos] != ' ')) continue;
        if (start + piece.size() > text.size() || text.substr(start, piece.size()) != piece) continue;
        if (boundary[start] && boundary[start + piece.size()]) next.insert(start + piece.size());
      }
    }
    check(!next.empty(), "split_text: a piece is not the next part of the text, or cuts a UTF-8 sequence");
    at = std::move(next);
  }
  // A cut at a space just before the end drops that last space too.
  bool covered = at.count(text.size()) == 1 ||
                 (!text.empty() && text.back() == ' ' && at.count(text.size() - 1) == 1 && !pieces.empty());
  check(covered, "split_text: the pieces do not cover the text");
}

void check_reader(std::string_view bytes, std::size_t max_bytes, std::size_t chunk) {
  irc::line_reader reader(max_bytes);
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) {
    reader.feed(bytes.substr(pos, chunk));
    while (auto line = reader.next()) {
      check(!line->empty(), "line_reader: an empty line");
      check(line->size() <= max_bytes, "line_reader: a line over the limit");
      check(line->find('\n') == std::string::npos, "line_reader: LF inside a line");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto m = irc::parse(text)) {
    check(!m->command.empty(), "parse: empty command");
    check(m->params.size() <= 15, "parse: more than 15 parameters");
    check_round_trip(*m);
    if (!m->prefix.empty()) {
      auto mask = irc::parse_mask(m->prefix);
      check(irc::nick_of(m->prefix) == mask.nick, "nick_of disagrees with parse_mask");
    }
    if (!m->params.empty()) {
      (void)irc::parse_ctcp(m->params.back());
      (void)irc::is_channel(m->params.front());
    }
  }

  // The raw bytes as parameters of our own lines, as a hostile nick or build reason would be.
  std::vector<std::string> params;
  for (std::size_t start = 0; start <= text.size() && params.size() < 20;) {
    auto end = std::min(text.find('\x01', start), text.size());
    params.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  check_line(irc::serialize(text.substr(0, std::min<std::size_t>(text.size(), 16)), params));
  check(!has_line_breaker(irc::sanitize(text)), "sanitize: CR, LF or NUL left");

  // Budgets from tiny to whole lines; the first byte chooses one so seeds stay plain text.
  std::size_t n = size == 0 ? 0U : data[0] % 64U + (data[0] & 0x80U ? 400U : 0U);
  check_split(text, n);
  check_reader(text, n + 1, size == 0 ? 1 : data[size - 1] % 16 + 1);
  return 0;
}
