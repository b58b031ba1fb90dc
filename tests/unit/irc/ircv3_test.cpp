// Tests for CAP negotiation (302 multi-line LS, REQ, ACK/NAK, NEW/DEL), SASL PLAIN
// encoding, AUTHENTICATE chunking and log redaction.
#include "bot/irc/ircv3.hpp"

#include <gtest/gtest.h>

namespace herald::bot::irc {
namespace {

const std::vector<std::string> wanted = {"message-tags", "server-time", "account-tag", "account-notify",
                                         "extended-join", "multi-prefix", "batch", "cap-notify"};

message msg(std::string_view line) {
  auto m = parse(line);
  EXPECT_TRUE(m) << line;
  return m ? *m : message{};
}

TEST(CapList, NamesValuesAndModifiers) {
  auto caps = parse_cap_list("sasl=PLAIN,EXTERNAL  multi-prefix -batch ~old =sticky draft/x=1=2");
  ASSERT_EQ(caps.size(), 6u);
  EXPECT_EQ(caps[0].name, "sasl");
  EXPECT_EQ(caps[0].value, "PLAIN,EXTERNAL");
  EXPECT_EQ(caps[1].name, "multi-prefix");
  EXPECT_EQ(caps[1].value, "");
  EXPECT_EQ(caps[2].name, "batch");
  EXPECT_TRUE(caps[2].removed);
  EXPECT_EQ(caps[3].name, "old");
  EXPECT_FALSE(caps[3].removed);
  EXPECT_EQ(caps[4].name, "sticky");
  EXPECT_EQ(caps[5].name, "draft/x");
  EXPECT_EQ(caps[5].value, "1=2");
  EXPECT_TRUE(parse_cap_list("").empty());
  EXPECT_TRUE(parse_cap_list("   ").empty());
}

TEST(CapNegotiator, MultiLineLsThenReqAckThenSasl) {
  cap_negotiator n(wanted, "plain");
  EXPECT_EQ(cap_negotiator::ls_line(), "CAP LS 302\r\n");
  auto s = n.on_cap(msg(":irc.x CAP * LS * :account-notify away-notify extended-join"));
  EXPECT_TRUE(s.lines.empty());
  EXPECT_EQ(n.current(), cap_negotiator::phase::listing);
  s = n.on_cap(msg(":irc.x CAP * LS :sasl=PLAIN,EXTERNAL server-time userhost-in-names echo-message"));
  ASSERT_EQ(s.lines.size(), 1u);
  EXPECT_EQ(s.lines[0], "CAP REQ :account-notify extended-join server-time sasl\r\n");
  EXPECT_EQ(n.current(), cap_negotiator::phase::requesting);
  EXPECT_TRUE(n.offered("away-notify"));
  EXPECT_EQ(n.offered_value("sasl"), "PLAIN,EXTERNAL");
  EXPECT_TRUE(n.sasl_available());
  s = n.on_cap(msg(":irc.x CAP * ACK :account-notify extended-join server-time sasl"));
  EXPECT_TRUE(s.start_sasl);
  EXPECT_FALSE(s.finished);
  EXPECT_TRUE(s.lines.empty());
  EXPECT_TRUE(n.enabled("sasl"));
  EXPECT_TRUE(n.enabled("server-time"));
  EXPECT_FALSE(n.enabled("echo-message"));
  EXPECT_EQ(n.current(), cap_negotiator::phase::authenticating);
  s = n.sasl_finished();
  ASSERT_EQ(s.lines.size(), 1u);
  EXPECT_EQ(s.lines[0], "CAP END\r\n");
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(n.current(), cap_negotiator::phase::done);
  EXPECT_TRUE(n.sasl_finished().lines.empty());  // only once
}

TEST(CapNegotiator, NoSaslWantedEndsAfterAck) {
  cap_negotiator n(wanted, "");
  auto s = n.on_cap(msg("CAP * LS :sasl multi-prefix"));
  ASSERT_EQ(s.lines.size(), 1u);
  EXPECT_EQ(s.lines[0], "CAP REQ :multi-prefix\r\n");
  s = n.on_cap(msg("CAP * ACK multi-prefix"));  // a middle param works too
  ASSERT_EQ(s.lines.size(), 1u);
  EXPECT_EQ(s.lines[0], "CAP END\r\n");
  EXPECT_TRUE(s.finished);
  EXPECT_FALSE(n.enabled("sasl"));
}

TEST(CapNegotiator, NothingUsefulEndsAtOnce) {
  cap_negotiator n(wanted, "plain");
  auto s = n.on_cap(msg("CAP * LS :away-notify chghost"));
  ASSERT_EQ(s.lines.size(), 1u);
  EXPECT_EQ(s.lines[0], "CAP END\r\n");
  EXPECT_TRUE(n.answered());
  EXPECT_FALSE(n.sasl_available());
}

TEST(CapNegotiator, SaslWithoutOurMechanismIsNotRequested) {
  cap_negotiator n(wanted, "EXTERNAL");
  auto s = n.on_cap(msg("CAP * LS :sasl=PLAIN"));
  EXPECT_FALSE(n.sasl_available());
  ASSERT_EQ(s.lines.size(), 1u);
  EXPECT_EQ(s.lines[0], "CAP END\r\n");
  cap_negotiator bare(wanted, "external");
  s = bare.on_cap(msg("CAP * LS :sasl"));  // 3.1 style: no mechanism list
  EXPECT_TRUE(bare.sasl_available());
  ASSERT_EQ(s.lines.size(), 1u);
  EXPECT_EQ(s.lines[0], "CAP REQ :sasl\r\n");
  EXPECT_EQ(bare.sasl_mechanism(), "EXTERNAL");
}

TEST(CapNegotiator, NakEndsWithoutSasl) {
  cap_negotiator n(wanted, "plain");
  n.on_cap(msg("CAP * LS :sasl=PLAIN batch"));
  auto s = n.on_cap(msg("CAP * NAK :batch sasl"));
  ASSERT_EQ(s.lines.size(), 1u);
  EXPECT_EQ(s.lines[0], "CAP END\r\n");
  EXPECT_FALSE(n.enabled("sasl"));
  EXPECT_FALSE(n.enabled("batch"));
}

TEST(CapNegotiator, NewAndDelAfterRegistration) {
  cap_negotiator n(wanted, "plain");
  n.on_cap(msg("CAP * LS :cap-notify"));
  n.on_cap(msg("CAP * ACK :cap-notify"));
  ASSERT_EQ(n.current(), cap_negotiator::phase::done);
  auto s = n.on_cap(msg("CAP herald NEW :account-tag sasl=PLAIN foo"));
  ASSERT_EQ(s.lines.size(), 1u);
  EXPECT_EQ(s.lines[0], "CAP REQ :account-tag\r\n");
  s = n.on_cap(msg("CAP herald ACK :account-tag"));
  EXPECT_TRUE(s.lines.empty());  // no second CAP END
  EXPECT_TRUE(n.enabled("account-tag"));
  n.on_cap(msg("CAP herald DEL :account-tag"));
  EXPECT_FALSE(n.enabled("account-tag"));
  EXPECT_FALSE(n.offered("account-tag"));
  n.on_cap(msg("CAP herald ACK :-cap-notify"));
  EXPECT_FALSE(n.enabled("cap-notify"));
}

TEST(CapNegotiator, AbandonAndGarbage) {
  cap_negotiator n(wanted, "plain");
  EXPECT_TRUE(n.on_cap(msg("CAP")).lines.empty());
  EXPECT_TRUE(n.on_cap(msg("CAP *")).lines.empty());
  EXPECT_TRUE(n.on_cap(msg("CAP * FOO :bar")).lines.empty());
  n.abandon();
  EXPECT_EQ(n.current(), cap_negotiator::phase::done);
  EXPECT_FALSE(n.answered());
  EXPECT_TRUE(n.on_cap(msg("CAP * LS :sasl")).lines.empty());  // too late: ignored
}

TEST(CapNegotiator, LongRequestIsSplit) {
  std::vector<std::string> many;
  for (int i = 0; i < 60; ++i) many.push_back("vendor.example/capability-" + std::to_string(i));
  cap_negotiator n(many, "");
  std::string ls;
  for (const auto& c : many) ls += c + " ";
  auto s = n.on_cap(msg("CAP * LS :" + ls));
  ASSERT_GT(s.lines.size(), 1u);
  for (const auto& l : s.lines) EXPECT_LE(l.size(), 512u);
  for (std::size_t i = 0; i + 1 < s.lines.size(); ++i) EXPECT_TRUE(n.on_cap(msg("CAP * ACK :x")).lines.empty());
  auto last = n.on_cap(msg("CAP * ACK :x"));
  ASSERT_EQ(last.lines.size(), 1u);
  EXPECT_EQ(last.lines[0], "CAP END\r\n");
}

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(SaslPlain, MessageAndEncoding) {
  auto m = sasl_plain_message("herald", "s3cret");
  EXPECT_EQ(m, std::string("herald\0herald\0s3cret", 20));
  EXPECT_EQ(base64_encode(m), "aGVyYWxkAGhlcmFsZABzM2NyZXQ=");
}

TEST(Authenticate, Chunking) {
  auto empty = authenticate_lines("");
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0], "AUTHENTICATE +\r\n");

  auto small = authenticate_lines("abcd");
  ASSERT_EQ(small.size(), 1u);
  EXPECT_EQ(small[0], "AUTHENTICATE abcd\r\n");

  auto exact = authenticate_lines(std::string(400, 'A'));
  ASSERT_EQ(exact.size(), 2u);
  EXPECT_EQ(exact[0], "AUTHENTICATE " + std::string(400, 'A') + "\r\n");
  EXPECT_EQ(exact[1], "AUTHENTICATE +\r\n");

  auto longer = authenticate_lines(std::string(401, 'B'));
  ASSERT_EQ(longer.size(), 2u);
  EXPECT_EQ(longer[1], "AUTHENTICATE B\r\n");

  auto twice = authenticate_lines(std::string(800, 'C'));
  ASSERT_EQ(twice.size(), 3u);
  EXPECT_EQ(twice[2], "AUTHENTICATE +\r\n");
}

TEST(RedactForLog, SecretsAreHidden) {
  EXPECT_EQ(redact_for_log("PASS hunter2\r\n"), "PASS ****");
  EXPECT_EQ(redact_for_log("AUTHENTICATE PLAIN\r\n"), "AUTHENTICATE PLAIN");
  EXPECT_EQ(redact_for_log("AUTHENTICATE +\r\n"), "AUTHENTICATE +");
  EXPECT_EQ(redact_for_log("AUTHENTICATE aGVyYWxkAGhlcmFsZABzM2NyZXQ=\r\n"), "AUTHENTICATE ****");
  EXPECT_EQ(redact_for_log("PRIVMSG NickServ :IDENTIFY herald s3cret\r\n"), "PRIVMSG NickServ :IDENTIFY ****");
  EXPECT_EQ(redact_for_log("PRIVMSG Services :identify s3cret\r\n"), "PRIVMSG Services :identify ****");
  EXPECT_EQ(redact_for_log("PRIVMSG #builds :Build #1 of `x` failed\r\n"), "PRIVMSG #builds :Build #1 of `x` failed");
  EXPECT_EQ(redact_for_log("NICK herald\r\n"), "NICK herald");
}

}  // namespace
}  // namespace herald::bot::irc
