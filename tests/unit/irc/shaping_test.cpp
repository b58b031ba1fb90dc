// Tests for send-time shaping: mIRC formatting removal (+c) and burst summarising.
#include "bot/irc/shaping.hpp"

#include <gtest/gtest.h>

namespace herald::bot::irc {
namespace {

TEST(StripFormatting, Codes) {
  EXPECT_EQ(strip_formatting("plain"), "plain");
  EXPECT_EQ(strip_formatting("\x02" "bold\x02 \x1ditalic\x1d \x1funder\x1f \x1estrike\x1e \x11mono\x11 \x16rev\x0f"),
            "bold italic under strike mono rev");
  EXPECT_EQ(strip_formatting("\x03" "3green\x03 \x03" "04,12red on blue\x03" "5,1x"), "green red on bluex");
  EXPECT_EQ(strip_formatting("\x03" "123"), "3");  // two digits at most
  EXPECT_EQ(strip_formatting("\x03,5text"), ",5text");  // a comma only after a foreground
  EXPECT_EQ(strip_formatting("\x03" "4,text"), ",text");
  EXPECT_EQ(strip_formatting("\x04" "FF0000,00ff00hex\x04"), "hex");
  EXPECT_EQ(strip_formatting("end\x03"), "end");
  EXPECT_EQ(strip_formatting("end\x03" "1,"), "end,");
  EXPECT_EQ(strip_formatting("caf\xC3\xA9 \xFF"), "caf\xC3\xA9 \xFF");
}

std::vector<burst_candidate> queue_of(std::initializer_list<std::pair<std::string_view, std::string_view>> items) {
  std::vector<burst_candidate> q;
  for (auto [t, x] : items) q.push_back({t, "PRIVMSG", x, true});
  return q;
}

TEST(PlanBurst, CombinesSameTargetInOrder) {
  auto q = queue_of({{"#a", "one"}, {"#b", "two"}, {"#a", "three"}, {"#c", "x"}, {"#a", "four"}});
  auto picked = plan_burst(q, 400);
  EXPECT_EQ(picked, (std::vector<std::size_t>{0, 2, 4}));
  EXPECT_EQ(join_burst({"one", "three", "four"}), "one \xC2\xB7 three \xC2\xB7 four");
}

TEST(PlanBurst, StopsAtBudget) {
  auto q = queue_of({{"#a", "aaaa"}, {"#a", "bbbb"}, {"#a", "cccc"}});
  // 4 + 4 (" · ") + 4 = 12 fits, a third needs 20.
  EXPECT_EQ(plan_burst(q, 12), (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(plan_burst(q, 11), (std::vector<std::size_t>{0}));
  EXPECT_EQ(plan_burst(q, 20), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(PlanBurst, KeepsOrderPerTarget) {
  auto q = queue_of({{"#a", "short"}, {"#a", std::string_view("a long line that will not fit")}, {"#a", "tiny"}});
  // "tiny" would fit, but must not overtake the long one.
  EXPECT_EQ(plan_burst(q, 20), (std::vector<std::size_t>{0}));
}

TEST(PlanBurst, NonCombinableStopsOrIsAlone) {
  auto q = queue_of({{"#a", "x"}, {"#a", "y"}});
  q[1].combinable = false;
  EXPECT_EQ(plan_burst(q, 400), (std::vector<std::size_t>{0}));
  q[0].combinable = false;
  q[1].combinable = true;
  EXPECT_EQ(plan_burst(q, 400), (std::vector<std::size_t>{0}));
  auto n = queue_of({{"#a", "x"}, {"#a", "y"}});
  n[1].command = "NOTICE";
  EXPECT_EQ(plan_burst(n, 400), (std::vector<std::size_t>{0}));
  EXPECT_TRUE(plan_burst({}, 400).empty());
}

TEST(PlanBurst, TwoHundredToFiveChannels) {
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back("Build #" + std::to_string(i) + " of `b` completed successfully.");
  std::vector<burst_candidate> q;
  const char* chans[] = {"#c1", "#c2", "#c3", "#c4", "#c5"};
  for (int i = 0; i < 200; ++i) q.push_back({chans[i % 5], "PRIVMSG", texts[static_cast<std::size_t>(i)], true});
  std::size_t lines = 0, sent = 0;
  while (!q.empty()) {
    auto picked = plan_burst(q, 400);
    ASSERT_FALSE(picked.empty());
    std::size_t bytes = 0;
    for (auto i : picked) bytes += q[i].text.size();
    EXPECT_LE(bytes + (picked.size() - 1) * burst_separator.size(), 400u);
    sent += picked.size();
    for (auto it = picked.rbegin(); it != picked.rend(); ++it) q.erase(q.begin() + static_cast<std::ptrdiff_t>(*it));
    ++lines;
  }
  EXPECT_EQ(sent, 200u);   // none dropped
  EXPECT_LE(lines, 40u);   // ~10 per line instead of one
}

}  // namespace
}  // namespace herald::bot::irc
