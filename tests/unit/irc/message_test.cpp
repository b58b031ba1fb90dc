// Tests for the IRC wire format: parsing, serialization, splitting, budget, CTCP, nicks.
#include "bot/irc/message.hpp"

#include <gtest/gtest.h>

#include <random>

namespace herald::bot::irc {
namespace {

TEST(IrcParse, CommandAndParams) {
  auto m = parse("PRIVMSG #builds :hello world\r\n");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->prefix.empty());
  EXPECT_EQ(m->command, "PRIVMSG");
  ASSERT_EQ(m->params.size(), 2u);
  EXPECT_EQ(m->params[0], "#builds");
  EXPECT_EQ(m->params[1], "hello world");
}

TEST(IrcParse, PrefixAndNumeric) {
  auto m = parse(":irc.example.net 001 herald :Welcome to the net herald!u@h");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->prefix, "irc.example.net");
  EXPECT_EQ(m->command, "001");
  ASSERT_EQ(m->params.size(), 2u);
  EXPECT_EQ(m->params[1], "Welcome to the net herald!u@h");
}

TEST(IrcParse, LowerCaseCommandIsUpperCased) {
  auto m = parse("ping :x");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->command, "PING");
}

TEST(IrcParse, TagsAreUnescaped) {
  auto m = parse(R"(@time=2024-01-01T00:00:00Z;account=alice;msg=a\sb\:c\\d\re\nf\x;flag;=skip :a!b@c PRIVMSG #x :hi)");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tags.at("time"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(m->tags.at("account"), "alice");
  EXPECT_EQ(m->tags.at("msg"), "a b;c\\d\re\nfx");
  EXPECT_EQ(m->tags.at("flag"), "");
  EXPECT_EQ(m->tags.count(""), 0u);
  EXPECT_EQ(m->prefix, "a!b@c");
  EXPECT_EQ(m->command, "PRIVMSG");
}

TEST(IrcParse, TrailingBackslashInTagIsDropped) {
  auto m = parse("@a=b\\ PING x");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tags.at("a"), "b");
}

TEST(IrcParse, EmptyTrailingAndColonsInside) {
  auto m = parse("TOPIC #x :");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->params.size(), 2u);
  EXPECT_EQ(m->params[1], "");
  m = parse("PRIVMSG #x ::) a: b");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->params[1], ":) a: b");
}

TEST(IrcParse, ExtraSpacesBetweenParams) {
  auto m = parse(":n!u@h   JOIN    #a   ");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->command, "JOIN");
  ASSERT_EQ(m->params.size(), 1u);
  EXPECT_EQ(m->params[0], "#a");
}

TEST(IrcParse, FifteenthParamTakesTheRest) {
  auto m = parse("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->params.size(), 15u);
  EXPECT_EQ(m->params[13], "14");
  EXPECT_EQ(m->params[14], "15 16 17");
}

TEST(IrcParse, RejectsGarbage) {
  EXPECT_FALSE(parse(""));
  EXPECT_FALSE(parse("\r\n"));
  EXPECT_FALSE(parse("   "));
  EXPECT_FALSE(parse(":prefix.only"));
  EXPECT_FALSE(parse(": PRIVMSG #x :y"));
  EXPECT_FALSE(parse("@tags=only"));
  EXPECT_FALSE(parse("@a=b :p"));
  EXPECT_FALSE(parse("12 x"));
  EXPECT_FALSE(parse("1234 x"));
  EXPECT_FALSE(parse("PRIV-MSG x"));
  EXPECT_FALSE(parse(":p :trailing"));
  EXPECT_FALSE(parse("PING a\r\nPING b"));
}

TEST(IrcParse, RandomBytesNeverCrash) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> len(0, 600);
  std::uniform_int_distribution<int> byte(0, 255);
  const std::string alphabet = "@:;= \\!#\r\nPRIVMSG001x\x01";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    int n = len(rng);
    for (int j = 0; j < n; ++j)
      s += (i % 2) ? static_cast<char>(byte(rng)) : alphabet[pick(rng)];
    auto m = parse(s);
    if (m) {
      EXPECT_FALSE(m->command.empty());
      EXPECT_LE(m->params.size(), 15u);
    }
    (void)split_text(s, 1 + static_cast<std::size_t>(n % 50));
    (void)parse_ctcp(s);
    (void)parse_mask(s);
  }
}

TEST(IrcMask, Parts) {
  auto m = parse_mask("alice!~al@host.example");
  EXPECT_EQ(m.nick, "alice");
  EXPECT_EQ(m.user, "~al");
  EXPECT_EQ(m.host, "host.example");
  EXPECT_EQ(nick_of("irc.server.net"), "irc.server.net");
  EXPECT_EQ(parse_mask("irc.server.net").user, "");
  EXPECT_EQ(nick_of("bob@host"), "bob");
  EXPECT_EQ(parse_mask("bob@host").host, "host");
  EXPECT_EQ(nick_of(""), "");
}

TEST(IrcSanitize, RemovesLineBreaksAndNul) {
  EXPECT_EQ(sanitize(std::string("a\rb\nc\0d", 7)), "a b cd");
  EXPECT_EQ(sanitize("plain"), "plain");
}

TEST(IrcSerialize, ColonRules) {
  EXPECT_EQ(serialize("NICK", {"herald"}), "NICK herald\r\n");
  EXPECT_EQ(serialize("PRIVMSG", {"#a", "word"}), "PRIVMSG #a word\r\n");
  EXPECT_EQ(serialize("PRIVMSG", {"#a", "two words"}), "PRIVMSG #a :two words\r\n");
  EXPECT_EQ(serialize("PRIVMSG", {"#a", ":)"}), "PRIVMSG #a ::)\r\n");
  EXPECT_EQ(serialize("PRIVMSG", {"#a", ""}), "PRIVMSG #a :\r\n");
  EXPECT_EQ(serialize("USER", {"herald", "0", "*", "herald build bot"}), "USER herald 0 * :herald build bot\r\n");
  EXPECT_EQ(serialize("QUIT", {}), "QUIT\r\n");
}

TEST(IrcSerialize, MiddleParamsCannotAddParams) {
  EXPECT_EQ(serialize("PRIVMSG", {"#a b", "x"}), "PRIVMSG #a_b x\r\n");
  EXPECT_EQ(serialize("PRIVMSG", {":evil", "x"}), "PRIVMSG _evil x\r\n");
  EXPECT_EQ(serialize("PRIVMSG", {"", "x"}), "PRIVMSG _ x\r\n");
}

TEST(IrcSerialize, NeverCrLfNulInside) {
  std::string evil("hi\r\nQUIT :bye\0\n", 15);
  auto line = serialize("PRIVMSG", {"#a\r\nJOIN #b", evil});
  ASSERT_GE(line.size(), 2u);
  EXPECT_EQ(line.substr(line.size() - 2), "\r\n");
  auto body = line.substr(0, line.size() - 2);
  EXPECT_EQ(body.find('\r'), std::string::npos);
  EXPECT_EQ(body.find('\n'), std::string::npos);
  EXPECT_EQ(body.find('\0'), std::string::npos);
  EXPECT_EQ(line, "PRIVMSG #a__JOIN_#b :hi  QUIT :bye \r\n");
}

TEST(IrcSerialize, RoundTripsThroughParse) {
  std::vector<std::string> params{"#chan", "a :b c"};
  auto m = parse(serialize("PRIVMSG", params));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->params, params);
}

TEST(IrcBudget, MatchesTheRelayedPrefix) {
  // ":herald!~herald@127.0.0.1 PRIVMSG #builds :" is 43 bytes; 512 - 2 - 43 = 467.
  EXPECT_EQ(privmsg_budget("herald", "~herald", "127.0.0.1", "#builds"), 467u);
  std::string prefix = ":herald!~herald@127.0.0.1 PRIVMSG #builds :";
  EXPECT_EQ(privmsg_budget("herald", "~herald", "127.0.0.1", "#builds"), 510 - prefix.size());
}

TEST(IrcBudget, UnknownUserAndHostAreAssumedLong) {
  // 1 + 6 + 1 + 10 + 1 + 63 + 9 + 7 + 2 = 100
  EXPECT_EQ(privmsg_budget("herald", "", "", "#builds"), 410u);
  EXPECT_LT(privmsg_budget("herald", "", "", "#builds"), privmsg_budget("herald", "~h", "localhost", "#builds"));
}

TEST(IrcBudget, HasAFloor) {
  EXPECT_EQ(privmsg_budget("n", "u", "h", std::string(600, '#')), 32u);
}

std::size_t total(const std::vector<std::string>& v) {
  std::size_t n = 0;
  for (const auto& s : v) n += s.size();
  return n;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto len = utf8_sequence_length(s, i);
    if (len == 1 && static_cast<unsigned char>(s[i]) >= 0x80) return false;
    i += len;
  }
  return true;
}

TEST(IrcSplit, ShortTextIsOnePiece) {
  EXPECT_EQ(split_text("hello", 10), std::vector<std::string>{"hello"});
  EXPECT_EQ(split_text("0123456789", 10), std::vector<std::string>{"0123456789"});
  EXPECT_TRUE(split_text("", 10).empty());
}

TEST(IrcSplit, HardCutWithoutSpaces) {
  auto p = split_text("abcdefghijklmnopqrstuvwxy", 10);
  EXPECT_EQ(p, (std::vector<std::string>{"abcdefghij", "klmnopqrst", "uvwxy"}));
}

TEST(IrcSplit, BreaksAtLastSpaceInSecondHalf) {
  auto p = split_text("aaaaaaa bbbbbbb ccc", 10);
  // the space at 7 is in the second half of the first piece; it is not sent
  EXPECT_EQ(p, (std::vector<std::string>{"aaaaaaa", "bbbbbbb", "ccc"}));
}

TEST(IrcSplit, IgnoresSpaceInFirstHalf) {
  auto p = split_text("ab cdefghijklmnop", 10);
  EXPECT_EQ(p, (std::vector<std::string>{"ab cdefghi", "jklmnop"}));
}

TEST(IrcSplit, SpaceRightAtTheCutIsConsumed) {
  auto p = split_text("0123456789 abc", 10);
  EXPECT_EQ(p, (std::vector<std::string>{"0123456789", "abc"}));
}

TEST(IrcSplit, NeverInsideUtf8Sequence) {
  // "é" is 2 bytes, "€" 3, "😀" 4; place them across every possible boundary.
  const std::string chars[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
  for (const auto& ch : chars) {
    for (std::size_t lead = 0; lead < 6; ++lead) {
      std::string text = std::string(lead, 'x');
      for (int i = 0; i < 10; ++i) text += ch;
      for (std::size_t max = 4; max < 12; ++max) {
        auto pieces = split_text(text, max);
        EXPECT_EQ(total(pieces), text.size());
        for (const auto& piece : pieces) {
          EXPECT_LE(piece.size(), max);
          EXPECT_TRUE(valid_utf8(piece)) << "lead " << lead << " max " << max;
        }
      }
    }
  }
}

TEST(IrcSplit, MultibyteAcrossTheBoundary) {
  // 9 ASCII bytes then a 2-byte char: the char does not fit in 10, so it moves whole.
  auto p = split_text("123456789\xC3\xA9z", 10);
  EXPECT_EQ(p, (std::vector<std::string>{"123456789", "\xC3\xA9z"}));
}

TEST(IrcSplit, InvalidBytesAreSingleCharacters) {
  std::string text = "\xFF\xFE\x80\x80\xC3";  // stray bytes and a truncated sequence
  text += std::string(10, '\xE2');
  auto pieces = split_text(text, 4);
  EXPECT_EQ(total(pieces), text.size());
  for (const auto& piece : pieces) EXPECT_LE(piece.size(), 4u);
  EXPECT_EQ(pieces.front(), "\xFF\xFE\x80\x80");
}

TEST(IrcSplit, RejectsOverlongAndSurrogates) {
  EXPECT_EQ(utf8_sequence_length("\xC0\x80", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xE0\x80\x80", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xED\xA0\x80", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98\x80", 0), 4u);
}

TEST(IrcSplit, LongRealisticMessage) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "word" + std::to_string(i) + " ";
  auto budget = privmsg_budget("herald", "~herald", "127.0.0.1", "#builds");
  auto pieces = split_text(text, budget);
  EXPECT_GT(pieces.size(), 1u);
  for (const auto& piece : pieces) {
    EXPECT_LE(piece.size(), budget);
    EXPECT_NE(piece.front(), ' ');
    auto line = ":herald!~herald@127.0.0.1 " + serialize("PRIVMSG", {"#builds", piece});
    EXPECT_LE(line.size(), 512u);
  }
}

TEST(IrcCtcp, Parses) {
  auto v = parse_ctcp("\x01VERSION\x01");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->command, "VERSION");
  EXPECT_EQ(v->args, "");
  auto a = parse_ctcp("\x01" "ACTION waves hello\x01");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->command, "ACTION");
  EXPECT_EQ(a->args, "waves hello");
  auto unterminated = parse_ctcp("\x01ping 123");
  ASSERT_TRUE(unterminated);
  EXPECT_EQ(unterminated->command, "PING");
  EXPECT_FALSE(parse_ctcp("hello"));
  EXPECT_FALSE(parse_ctcp("\x01"));
  EXPECT_FALSE(parse_ctcp("\x01\x01"));
}

TEST(IrcCtcp, VersionReply) {
  auto r = ctcp_version_reply();
  EXPECT_EQ(r.front(), '\x01');
  EXPECT_EQ(r.back(), '\x01');
  EXPECT_EQ(r.rfind("\x01VERSION herald", 0), 0u);
}

TEST(IrcNick, Candidates) {
  std::vector<std::string> alts{"herald2", "hbot"};
  EXPECT_EQ(nick_candidate("herald", alts, 0), "herald");
  EXPECT_EQ(nick_candidate("herald", alts, 1), "herald2");
  EXPECT_EQ(nick_candidate("herald", alts, 2), "hbot");
  EXPECT_EQ(nick_candidate("herald", alts, 3), "herald_");
  EXPECT_EQ(nick_candidate("herald", alts, 5), "herald___");
  EXPECT_EQ(nick_candidate("herald", alts, 6), "herald6");
  EXPECT_EQ(nick_candidate("heraldbot", {}, 1), "heraldbot_");
  EXPECT_EQ(nick_candidate("heraldbot", {}, 7), "herald7");
}

TEST(IrcNick, CaseMapping) {
  EXPECT_TRUE(irc_iequal("Herald[1]", "herald{1}"));
  EXPECT_TRUE(irc_iequal("a\\~", "A|^"));
  EXPECT_FALSE(irc_iequal("herald", "herald_"));
  EXPECT_TRUE(is_channel("#x"));
  EXPECT_TRUE(is_channel("&x"));
  EXPECT_FALSE(is_channel("herald"));
  EXPECT_FALSE(is_channel(""));
}

TEST(IrcJoin, KeyedChannelsFirstAndBatched) {
  auto lines = join_lines({{"#a", ""}, {"#b", "k"}, {"#c", ""}});
  EXPECT_EQ(lines, std::vector<std::string>{"JOIN #b,#a,#c k\r\n"});
  EXPECT_EQ(join_lines({{"#a", ""}}), std::vector<std::string>{"JOIN #a\r\n"});
  EXPECT_TRUE(join_lines({}).empty());
}

TEST(IrcJoin, LongListsAreSplit) {
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 100; ++i) many.emplace_back("#channel-number-" + std::to_string(i), "");
  auto lines = join_lines(many);
  EXPECT_GT(lines.size(), 1u);
  std::size_t count = 0;
  for (const auto& l : lines) {
    EXPECT_LE(l.size(), 512u);
    count += static_cast<std::size_t>(std::count(l.begin(), l.end(), '#'));
  }
  EXPECT_EQ(count, 100u);
}

TEST(IrcJoin, CommasCannotAddChannels) {
  EXPECT_EQ(join_lines({{"#a,0", "x,y"}}), std::vector<std::string>{"JOIN #a_0 x_y\r\n"});
}

TEST(IrcLineReader, SplitsAcrossReads) {
  line_reader r;
  r.feed("PING :a\r\nPRIV");
  EXPECT_EQ(r.next(), "PING :a");
  EXPECT_FALSE(r.next());
  r.feed("MSG #x :y\n\r\n");
  EXPECT_EQ(r.next(), "PRIVMSG #x :y");
  EXPECT_FALSE(r.next());
}

TEST(IrcLineReader, DiscardsOverlongLines) {
  line_reader r(16);
  r.feed("short\r\n");
  r.feed(std::string(40, 'x'));
  r.feed(std::string(40, 'y'));
  r.feed("zz\r\nafter\r\n");
  r.feed(std::string(30, 'q') + "\r\nok\r\n");  // over-long but complete in one read
  EXPECT_EQ(r.next(), "short");
  EXPECT_EQ(r.next(), "after");
  EXPECT_EQ(r.next(), "ok");
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.discarded(), 2u);
}

}  // namespace
}  // namespace herald::bot::irc
