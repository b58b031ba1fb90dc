#include "bot/authz.hpp"

#include <gtest/gtest.h>

namespace herald::bot {
namespace {

TEST(Authz, NickRuleIsCaseInsensitive) {
  EXPECT_TRUE(allowed({"Alice"}, sender{"alice", "u", "h", ""}));
  EXPECT_TRUE(allowed({"al[ce"}, sender{"AL{CE", "", "", ""}));
  EXPECT_FALSE(allowed({"alice"}, sender{"mallory", "u", "h", ""}));
}

TEST(Authz, DeniedByDefault) { EXPECT_FALSE(allowed({}, sender{"alice", "u", "h", "alice"})); }

TEST(Authz, AccountRuleNeedsTheAccount) {
  EXPECT_TRUE(allowed({"account:alice"}, sender{"whoever", "u", "h", "alice"}));
  EXPECT_FALSE(allowed({"account:alice"}, sender{"alice", "u", "h", ""}));
}

TEST(Authz, MaskRuleGlobs) {
  EXPECT_TRUE(allowed({"*!*@127.0.0.1"}, sender{"bob", "bob", "127.0.0.1", ""}));
  EXPECT_TRUE(allowed({"ali?e!~a*@*.example.org"}, sender{"alice", "~alice", "host.example.org", ""}));
  EXPECT_FALSE(allowed({"*!*@127.0.0.1"}, sender{"bob", "bob", "10.0.0.1", ""}));
  EXPECT_FALSE(allowed({"*!*@*"}, sender{"bob", "", "", ""}));
}

TEST(Authz, OpsRuleNeedsChannelOperator) {
  EXPECT_TRUE(allowed({"@ops"}, sender{"carol", "", "", ""}, true));
  EXPECT_FALSE(allowed({"@ops"}, sender{"carol", "", "", ""}, false));
}

TEST(Authz, StarAllowsEveryone) { EXPECT_TRUE(allowed({"*"}, sender{"x", "", "", ""})); }

TEST(Glob, Basics) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b", "aXXc"));
  EXPECT_TRUE(glob_match("**a", "a"));
}

}  // namespace
}  // namespace herald::bot
