// Tests for ISUPPORT parsing and the channel/identity tracker: prefixes from NAMES with
// multi-prefix, MODE, JOIN/PART/KICK/QUIT/NICK, channel modes, and accounts.
#include "bot/irc/channel_state.hpp"

#include <gtest/gtest.h>

namespace herald::bot::irc {
namespace {

const std::vector<std::string> inspircd_005 = {
    "AWAYLEN=200", "CASEMAPPING=ascii", "CHANLIMIT=#:20", "CHANMODES=IXbeg,k,FHJLdfjl,ACDKMNOPQRSTcimnprstz",
    "CHANNELLEN=64", "CHANTYPES=#", "NICKLEN=30", "PREFIX=(qaohv)~&@%+", "STATUSMSG=~&@%+"};

TEST(Isupport, PrefixParsing) {
  std::string modes, symbols;
  EXPECT_TRUE(parse_prefix("(qaohv)~&@%+", modes, symbols));
  EXPECT_EQ(modes, "qaohv");
  EXPECT_EQ(symbols, "~&@%+");
  EXPECT_TRUE(parse_prefix("", modes, symbols));
  EXPECT_EQ(modes, "");
  EXPECT_FALSE(parse_prefix("(ov)@", modes, symbols));
  EXPECT_FALSE(parse_prefix("ov@+", modes, symbols));
  EXPECT_FALSE(parse_prefix("(ov@+", modes, symbols));
}

TEST(Isupport, AppliesTokens) {
  isupport s;
  EXPECT_EQ(s.casemap, casemapping::rfc1459);
  s.apply(inspircd_005);
  EXPECT_EQ(s.prefix_modes, "qaohv");
  EXPECT_EQ(s.prefix_symbols, "~&@%+");
  EXPECT_EQ(s.list_modes, "IXbeg");
  EXPECT_EQ(s.param_modes, "k");
  EXPECT_EQ(s.set_param_modes, "FHJLdfjl");
  EXPECT_EQ(s.flag_modes, "ACDKMNOPQRSTcimnprstz");
  EXPECT_EQ(s.casemap, casemapping::ascii);
  EXPECT_EQ(s.nicklen, 30u);
  EXPECT_EQ(s.chantypes, "#");
  EXPECT_EQ(s.statusmsg, "~&@%+");
  EXPECT_TRUE(s.is_channel("#x"));
  EXPECT_FALSE(s.is_channel("&x"));
  EXPECT_FALSE(s.is_channel(""));
  EXPECT_TRUE(s.is_operator_symbol('~'));
  EXPECT_TRUE(s.is_operator_symbol('&'));
  EXPECT_TRUE(s.is_operator_symbol('@'));
  EXPECT_FALSE(s.is_operator_symbol('%'));
  EXPECT_FALSE(s.is_operator_symbol('+'));
  EXPECT_FALSE(s.is_operator_symbol('x'));
  EXPECT_EQ(s.mode_symbol('h'), '%');
  EXPECT_EQ(s.mode_symbol('k'), '\0');
  EXPECT_EQ(s.arg_kind('o'), isupport::mode_arg::always);
  EXPECT_EQ(s.arg_kind('b'), isupport::mode_arg::always);
  EXPECT_EQ(s.arg_kind('k'), isupport::mode_arg::always);
  EXPECT_EQ(s.arg_kind('l'), isupport::mode_arg::when_set);
  EXPECT_EQ(s.arg_kind('c'), isupport::mode_arg::none);
  EXPECT_EQ(s.arg_kind('?'), isupport::mode_arg::none);
}

TEST(Isupport, OddValues) {
  isupport s;
  s.apply({"NICKLEN=abc", "CASEMAPPING=strict-rfc1459", "PREFIX=(ov)@", "-CHANTYPES", "CHANMODES=a,b,c,d,e,f", ""});
  EXPECT_EQ(s.nicklen, 0u);
  EXPECT_EQ(s.casemap, casemapping::strict_rfc1459);
  EXPECT_EQ(s.prefix_symbols, "~&@%+");  // malformed PREFIX kept the default
  EXPECT_EQ(s.chantypes, "#&+!");
  EXPECT_EQ(s.flag_modes, "d");
  s.apply({"PREFIX=(Yqaohv)!~&@%+"});
  EXPECT_TRUE(s.is_operator_symbol('!'));
  s.apply({"PREFIX=(v)+"});  // no op mode at all: the highest counts
  EXPECT_TRUE(s.is_operator_symbol('+'));
}

TEST(CaseMapping, Folding) {
  EXPECT_EQ(fold_case("Alice[]\\~", casemapping::ascii), "alice[]\\~");
  EXPECT_EQ(fold_case("Alice[]\\~", casemapping::rfc1459), "alice{}|^");
  EXPECT_EQ(fold_case("Alice[]\\~", casemapping::strict_rfc1459), "alice{}|~");
}

channel_state joined(std::string_view channel = "#builds") {
  channel_state s;
  s.apply_isupport(inspircd_005);
  s.set_own_nick("herald");
  s.on_join("herald", channel);
  return s;
}

TEST(ChannelState, NamesWithMultiPrefix) {
  auto s = joined();
  s.on_names("#builds", "~&@alice @+bob +carol %dave eve @herald frank!f@host");
  EXPECT_EQ(s.prefixes("#builds", "alice"), "~&@");
  EXPECT_EQ(s.prefixes("#builds", "BOB"), "@+");
  EXPECT_TRUE(s.is_operator("#builds", "alice"));
  EXPECT_TRUE(s.is_operator("#Builds", "bob"));
  EXPECT_FALSE(s.is_operator("#builds", "carol"));
  EXPECT_FALSE(s.is_operator("#builds", "dave"));  // halfop is below @
  EXPECT_FALSE(s.is_operator("#builds", "eve"));
  EXPECT_TRUE(s.is_member("#builds", "eve"));
  EXPECT_TRUE(s.is_member("#builds", "frank"));
  EXPECT_FALSE(s.is_member("#builds", "frank!f@host"));
  EXPECT_FALSE(s.is_operator("#other", "alice"));
  EXPECT_FALSE(s.is_member("#builds", "nobody"));
}

TEST(ChannelState, NamesWithoutMultiPrefixAndUnsortedPrefixes) {
  auto s = joined();
  s.on_names("#builds", "+@alice");
  EXPECT_EQ(s.prefixes("#builds", "alice"), "@+");  // kept highest first
  s.on_names("#notjoined", "@mallory");
  EXPECT_FALSE(s.is_member("#notjoined", "mallory"));
}

TEST(ChannelState, ModeChangesPrefixesAndFlags) {
  auto s = joined();
  s.on_names("#builds", "alice bob carol");
  s.on_mode("#builds", {"+ov-v+l", "alice", "bob", "carol", "50"});
  EXPECT_TRUE(s.is_operator("#builds", "alice"));
  EXPECT_EQ(s.prefixes("#builds", "bob"), "+");
  s.on_mode("#builds", {"+bkc", "*!*@spam", "key"});
  EXPECT_TRUE(s.has_mode("#builds", 'c'));
  EXPECT_TRUE(s.has_mode("#builds", 'k'));
  EXPECT_TRUE(s.has_mode("#builds", 'l'));
  EXPECT_FALSE(s.has_mode("#builds", 'b'));  // a list, not a flag
  s.on_mode("#builds", {"-lo+q", "alice", "carol"});  // -l takes no parameter
  EXPECT_FALSE(s.has_mode("#builds", 'l'));
  EXPECT_FALSE(s.is_operator("#builds", "alice"));
  EXPECT_EQ(s.prefixes("#builds", "carol"), "~");
  EXPECT_TRUE(s.is_operator("#builds", "carol"));
  s.on_mode("#builds", {"-c"});
  EXPECT_FALSE(s.has_mode("#builds", 'c'));
  s.on_mode("#builds", {"+o"});  // missing parameter: ignored, no crash
  s.on_mode("#builds", {});
  s.on_mode("#elsewhere", {"+o", "alice"});
  EXPECT_FALSE(s.modes_known("#builds"));
  s.on_channel_modes("#builds", {"+ntc"});
  EXPECT_TRUE(s.modes_known("#builds"));
  EXPECT_FALSE(s.modes_known("#elsewhere"));
  EXPECT_EQ(s.modes("#builds"), "cnt");
  s.on_channel_modes("#builds", {"+nt"});
  EXPECT_EQ(s.modes("#builds"), "nt");
}

TEST(ChannelState, JoinPartKickQuitNick) {
  auto s = joined();
  s.on_join("herald", "#ops");
  s.on_join("alice", "#builds", std::string("alice-acct"));
  s.on_join("alice", "#ops", std::string("alice-acct"));
  s.on_mode("#builds", {"+o", "alice"});
  EXPECT_EQ(s.account("alice"), "alice-acct");
  s.on_part("alice", "#builds");
  EXPECT_FALSE(s.is_member("#builds", "alice"));
  EXPECT_EQ(s.account("alice"), "alice-acct");  // still shares #ops
  s.on_kick("#ops", "alice");
  EXPECT_FALSE(s.shares_channel("alice"));
  EXPECT_EQ(s.account("alice"), std::nullopt);  // no common channel left: forgotten

  s.on_join("bob", "#builds", std::string("*"));
  EXPECT_EQ(s.account("bob"), "");  // known: logged out
  s.on_quit("bob");
  EXPECT_FALSE(s.is_member("#builds", "bob"));
  EXPECT_EQ(s.account("bob"), std::nullopt);

  s.on_join("carol", "#builds");
  s.on_account("carol", "carol");
  s.on_mode("#builds", {"+o", "carol"});
  s.on_nick("carol", "carol2", true);
  EXPECT_TRUE(s.is_operator("#builds", "carol2"));
  EXPECT_FALSE(s.is_member("#builds", "carol"));
  EXPECT_EQ(s.account("carol2"), "carol");
  EXPECT_EQ(s.account("carol"), std::nullopt);
  s.on_nick("carol2", "carol3", false);
  EXPECT_EQ(s.account("carol3"), std::nullopt);  // must be looked up again
}

TEST(ChannelState, SpoofedNickGetsNoAccount) {
  auto s = joined();
  s.on_join("alice", "#builds", std::string("alice"));
  s.on_join("mallory", "#builds", std::string("*"));
  s.on_quit("alice");                   // alice goes away
  s.on_nick("mallory", "alice", true);  // mallory takes her nick
  EXPECT_EQ(s.account("alice"), "");    // mallory's own (none), never alice's
  s.on_nick("alice", "mallory", true);
  s.on_join("alice", "#builds");  // someone else joins as alice, no extended-join
  EXPECT_EQ(s.account("alice"), std::nullopt);
}

TEST(ChannelState, AccountsOnlyForPeopleWeSee) {
  auto s = joined();
  s.remember_account("stranger", "acct");  // a WHOIS about someone outside our channels
  EXPECT_EQ(s.account("stranger"), std::nullopt);
  s.on_join("friend", "#builds");
  s.remember_account("friend", "friendacct");
  EXPECT_EQ(s.account("FRIEND"), "friendacct");
  s.on_account("friend", "*");
  EXPECT_EQ(s.account("friend"), "");
  s.on_account("herald", "heraldacct");  // our own SASL account
  EXPECT_EQ(s.account("herald"), "heraldacct");
  s.on_nick("herald", "herald_", false);  // ours follows us whatever
  EXPECT_EQ(s.own_nick(), "herald_");
  EXPECT_EQ(s.account("herald_"), "heraldacct");
  EXPECT_TRUE(s.in_channel("#builds"));
}

TEST(ChannelState, OwnPartForgetsTheChannel) {
  auto s = joined();
  s.on_join("herald", "#Ops");
  s.on_join("alice", "#builds");
  s.on_account("alice", "a");
  auto chans = s.channels();
  ASSERT_EQ(chans.size(), 2u);
  s.on_part("herald", "#builds");
  EXPECT_FALSE(s.in_channel("#builds"));
  EXPECT_EQ(s.account("alice"), std::nullopt);
  ASSERT_EQ(s.channels().size(), 1u);
  EXPECT_EQ(s.channels()[0], "#Ops");
  s.on_kick("#ops", "herald");
  EXPECT_TRUE(s.channels().empty());
  s.reset();
  EXPECT_EQ(s.support().casemap, casemapping::rfc1459);
}

TEST(ChannelState, CasemappingAppliesToKeys) {
  channel_state s;
  s.set_own_nick("herald");
  s.on_join("herald", "#a[b]");
  s.on_join("x{y}", "#a[b]");
  EXPECT_TRUE(s.is_member("#A{B}", "X[Y]"));  // rfc1459 by default
  s.apply_isupport({"CASEMAPPING=ascii"});
  EXPECT_TRUE(s.is_member("#a[b]", "x{y}"));
  EXPECT_FALSE(s.is_member("#a{b}", "x[y]"));
}

}  // namespace
}  // namespace herald::bot::irc
