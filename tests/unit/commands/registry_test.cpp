#include "commands/registry.hpp"

#include <gtest/gtest.h>

#include "tests/support/fakes.hpp"

namespace herald::commands {
namespace {

using testing::command_harness;
using lines = std::vector<std::string>;

TEST(CommandRegistry, RepliesOnlyWhenAddressed) {
  command_harness h;
  EXPECT_TRUE(h.say("bob", "version").empty());
  EXPECT_EQ(h.say("bob", "herald: version"), (lines{"herald " HERALD_TEST_VERSION}));
  EXPECT_EQ(h.say("bob", "HERALD, version"), (lines{"herald " HERALD_TEST_VERSION}));
  EXPECT_TRUE(h.say("bob", "heraldx: version").empty());
}

TEST(CommandRegistry, PrivateMessageIsTheWholeCommand) {
  command_harness h;
  h.say("bob", "version", "");
  ASSERT_EQ(h.transport.sent.size(), 1u);
  EXPECT_EQ(h.transport.sent[0].target, "bob");
}

TEST(CommandRegistry, RejectsUnknownCommand) {
  command_harness h;
  EXPECT_EQ(h.say("bob", "herald: frobnicate now"), (lines{"Unknown command `frobnicate`. Try `help` or `commands`."}));
}

TEST(CommandRegistry, UnclosedQuoteGetsAHint) {
  command_harness h;
  auto r = h.say("alice", "herald: force build \"quick");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].find("unclosed double quote"), std::string::npos);
  EXPECT_TRUE(h.control.forced.empty());
}

TEST(CommandRegistry, HelpComesFromTheTable) {
  command_harness h;
  auto r = h.say("bob", "herald: help force");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].starts_with("Usage: force build [--branch=B]"));
  EXPECT_EQ(h.say("bob", "herald: commands"),
            (lines{"Commands: commands, force, help, join, last, leave, list, mute, notify, shutdown, source, status, "
                   "stop, unmute, version, watch."}));
}

TEST(CommandRegistry, HelpForSubcommands) {
  command_harness h;
  EXPECT_EQ(h.say("bob", "herald: help notify on-quiet"),
            (lines{"Usage: notify on-quiet [EVENT...]", "Like `notify on`, without the confirmation."}));
  auto r = h.say("bob", "herald: help notify sideways");
  EXPECT_EQ(r, (lines{"`notify` has no subcommand `sideways`. Subcommands: on, off, on-quiet, off-quiet, list."}));
}

TEST(CommandRegistry, DangerousCommandsAreAudited) {
  command_harness h;
  h.say("alice", "herald: force build quick");
  h.say("mallory", "herald: stop build quick");
  h.say("bob", "herald: status");
  ASSERT_EQ(h.audited.size(), 2u);
  EXPECT_EQ(h.audited[0].command, "force");
  EXPECT_EQ(h.audited[0].outcome, "ran");
  EXPECT_EQ(h.audited[0].mask, "alice!user@host");
  EXPECT_EQ(h.audited[0].place, "#builds");
  EXPECT_EQ(h.audited[1].nick, "mallory");
  EXPECT_EQ(h.audited[1].outcome, "denied");
}

TEST(ForceCommand, QueuesWithOptionsAndReason) {
  command_harness h;
  auto r = h.say("alice", "herald: force build --branch=main --revision abc '--props=a=1,b=x\\,y' quick fix it now");
  EXPECT_EQ(r, (lines{"Force build requested: #1 of `quick`."}));
  ASSERT_EQ(h.control.forced.size(), 1u);
  const auto& f = h.control.forced[0];
  EXPECT_EQ(f.builder, "quick");
  EXPECT_EQ(f.branch, "main");
  EXPECT_EQ(f.revision, "abc");
  EXPECT_EQ(f.reason, "fix it now");
  EXPECT_EQ(f.owner, "alice");
  EXPECT_EQ(f.props, (core::properties{{"a", "1"}, {"b", "x,y"}}));
}

TEST(ForceCommand, RefusedWithoutPermission) {
  command_harness h;
  EXPECT_EQ(h.say("mallory", "herald: force build quick"), (lines{"Sorry, you are not allowed to use `force`."}));
  EXPECT_TRUE(h.control.forced.empty());
}

TEST(ForceCommand, MalformedPropsAreRefused) {
  command_harness h;
  auto r = h.say("alice", "herald: force build --props=novalue quick");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], "Bad --props: expected name=value, got `novalue`.");
  r = h.say("alice", "herald: force build --props=a-b=1 quick");
  EXPECT_EQ(r[0], "Bad --props: `a-b` is not a property name (letters, digits and _).");
  EXPECT_TRUE(h.control.forced.empty());
}

TEST(ForceCommand, PropsWithShellCharactersStayData) {
  command_harness h;
  h.say("alice", R"(herald: force build "--props=x=a;b $(touch p) `id` \"q\" 'q'" quick)");
  ASSERT_EQ(h.control.forced.size(), 1u);
  EXPECT_EQ(h.control.forced[0].props.at("x"), R"(a;b $(touch p) `id` "q" 'q')");
}

TEST(ForceCommand, UnknownBuilderAndUsage) {
  command_harness h;
  EXPECT_EQ(h.say("alice", "herald: force build nope"), (lines{"No such builder `nope`. Try `list builders`."}));
  auto r = h.say("alice", "herald: force quick");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].starts_with("Usage: force build"));
}

TEST(StopCommand, StopsRunningBuilds) {
  command_harness h;
  h.control.running_builds["quick"] = {core::build_record{}};
  h.control.running_builds["quick"][0].number = 7;
  EXPECT_EQ(h.say("alice", "herald: stop build quick enough"), (lines{"Stop requested for build #7 of `quick`."}));
  EXPECT_EQ(h.control.stops[0].second, "stopped by alice: enough");
  EXPECT_EQ(h.say("alice", "herald: stop build broken"), (lines{"No build of `broken` is running."}));
  EXPECT_EQ(h.say("bob", "herald: stop build quick"), (lines{"Sorry, you are not allowed to use `stop`."}));
}

TEST(NotifyCommand, ListOnOffAndPersist) {
  command_harness h;
  EXPECT_EQ(h.say("bob", "herald: notify list", "#builds", true), (lines{"The following events are being notified: started, finished."}));
  EXPECT_EQ(h.say("bob", "herald: notify on failure successToFailure", "#builds", true),
            (lines{"The following events are being notified: started, finished, failure, successToFailure."}));
  EXPECT_EQ(h.say("bob", "herald: notify off started", "#builds", true),
            (lines{"The following events are being notified: finished, failure, successToFailure."}));
  ASSERT_FALSE(h.persisted.empty());
  EXPECT_EQ(h.persisted.back().first, "irc:#builds");
  EXPECT_EQ(h.say("bob", "herald: notify off", "#builds", true), (lines{"No events are being notified."}));
}

TEST(NotifyCommand, ChannelNeedsOperatorButPrivateDoesNot) {
  command_harness h;
  EXPECT_EQ(h.say("bob", "herald: notify on failure"),
            (lines{"Sorry, you are not allowed to use `notify` in this channel."}));
  EXPECT_EQ(h.say("bob", "herald: notify list"),
            (lines{"Sorry, you are not allowed to use `notify` in this channel."}));
  h.say("bob", "notify on failure", "");
  EXPECT_EQ(h.transport.texts(), (lines{"The following events are being notified: failure."}));
}

TEST(NotifyCommand, QuietVariantsSayNothing) {
  command_harness h;
  EXPECT_TRUE(h.say("bob", "herald: notify on-quiet failure", "#builds", true).empty());
  EXPECT_EQ(h.say("bob", "herald: notify list", "#builds", true),
            (lines{"The following events are being notified: started, finished, failure."}));
  EXPECT_TRUE(h.say("bob", "herald: notify off-quiet", "#builds", true).empty());
  EXPECT_EQ(h.say("bob", "herald: notify list", "#builds", true), (lines{"No events are being notified."}));
}

TEST(NotifyCommand, BadEventListsValidOnes) {
  command_harness h;
  auto r = h.say("bob", "herald: notify on sucess", "#builds", true);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].starts_with("Unknown event `sucess`. Valid events: started, finished, success,"));
}

TEST(NotifyCommand, PrivateContactHasItsOwnSet) {
  command_harness h;
  h.say("bob", "notify on failure", "");
  EXPECT_EQ(h.transport.texts(), (lines{"The following events are being notified: failure."}));
  EXPECT_EQ(h.say("bob", "herald: notify list", "#builds", true),
            (lines{"The following events are being notified: started, finished."}));
}

TEST(ChannelCommands, MuteSilencesAnnouncementsButNotReplies) {
  command_harness h;
  EXPECT_EQ(h.say("bob", "herald: mute"), (lines{"Sorry, you are not allowed to use `mute` in this channel."}));
  EXPECT_EQ(h.say("bob", "herald: mute", "#builds", true), (lines{"Muted: no announcements here until `unmute`."}));
  h.transport.sent.clear();
  core::build_started s;
  s.header.builder = "quick";
  s.header.number = 1;
  h.chat.on_event(s);
  EXPECT_TRUE(h.transport.sent.empty());
  EXPECT_EQ(h.say("bob", "herald: version"), (lines{"herald " HERALD_TEST_VERSION}));
  h.say("bob", "herald: unmute", "#builds", true);
  h.transport.sent.clear();
  h.chat.on_event(s);
  EXPECT_EQ(h.transport.texts(), (lines{"Build #1 of `quick` started."}));
  EXPECT_NE(h.persisted.back().second.find("\"events\""), std::string::npos);
}

TEST(ChannelCommands, JoinAndLeaveAreDangerousAndRemembered) {
  command_harness h;
  EXPECT_EQ(h.say("alice", "herald: join #ops"), (lines{"Sorry, you are not allowed to use `join`."}));
  h.cfg.authz.commands["join"] = {"alice"};
  h.cfg.authz.commands["leave"] = {"alice"};
  EXPECT_EQ(h.say("alice", "herald: join #ops sekrit"), (lines{"Joining #ops."}));
  EXPECT_EQ(h.transport.channels, (std::vector<std::string>{"#ops"}));
  EXPECT_EQ(h.persisted.back(), (std::pair<std::string, std::string>{"irc:#ops", R"({"events":[],"joined":true,"key":"sekrit"})"}));
  EXPECT_EQ(h.say("alice", "herald: leave #ops"), (lines{"Leaving #ops."}));
  EXPECT_TRUE(h.transport.channels.empty());
  EXPECT_EQ(h.say("alice", "herald: join ops"), (lines{"`ops` is not a channel name."}));
}

TEST(ChannelCommands, AKeyThatIsNotUtf8IsStillRemembered) {
  command_harness h;
  h.cfg.authz.commands["join"] = {"alice"};
  EXPECT_EQ(h.say("alice", "herald: join #ops s\xE9same"), (lines{"Joining #ops."}));  // Latin-1
  ASSERT_FALSE(h.persisted.empty());
  EXPECT_EQ(h.persisted.back().second, "{\"events\":[],\"joined\":true,\"key\":\"s\xEF\xBF\xBDsame\"}");
}

TEST(ChannelCommands, RestoreReplaysJoinsAndLeaves) {
  command_harness h;
  h.chat.restore({{"irc:#ops", R"({"events":["failure"],"joined":true,"key":"k"})"},
                  {"irc:#builds", R"({"events":[],"joined":false})"}});
  EXPECT_EQ(h.transport.channels, (std::vector<std::string>{"#ops"}));
  EXPECT_EQ(h.chat.notify_events(bot::contact{"#ops", {}}), (std::vector<std::string>{"failure"}));
}

TEST(ListCommand, BuildersAndWorkers) {
  command_harness h;
  EXPECT_EQ(h.say("bob", "herald: list builders"), (lines{"Configured builders: quick, broken."}));
  EXPECT_EQ(h.say("bob", "herald: list 1 builders"), (lines{"Configured builders: quick. (1 of 2)"}));
  EXPECT_EQ(h.say("bob", "herald: list all workers"), (lines{"Worker `local`: online, 4 slots, 0 busy"}));
  EXPECT_TRUE(h.say("bob", "herald: list 0 builders")[0].starts_with("Usage: list"));
}

TEST(ShutdownCommand, StartCheckStop) {
  command_harness h;
  h.cfg.authz.commands["shutdown"] = {"alice"};
  EXPECT_EQ(h.say("bob", "herald: shutdown now"), (lines{"Sorry, you are not allowed to use `shutdown`."}));
  EXPECT_EQ(h.say("alice", "herald: shutdown check"), (lines{"No shutdown is in progress."}));
  EXPECT_EQ(h.say("alice", "herald: shutdown start"),
            (lines{"Clean shutdown started: herald stops once 0 running builds finish; new builds are refused."}));
  EXPECT_EQ(h.say("alice", "herald: shutdown check"), (lines{"Clean shutdown in progress: waiting for 0 running builds."}));
  EXPECT_EQ(h.say("alice", "herald: shutdown stop"), (lines{"Clean shutdown cancelled: builds are accepted again."}));
  EXPECT_EQ(h.say("alice", "herald: shutdown stop"), (lines{"No clean shutdown to cancel."}));
  EXPECT_EQ(h.say("alice", "herald: shutdown now"), (lines{"Shutting down now, interrupting 0 running builds."}));
  EXPECT_EQ(h.control.shutdown, builds::shutdown_state::immediate);
}

TEST(WatchCommand, AnnouncesTheEndOnceToTheAsker) {
  command_harness h;
  EXPECT_EQ(h.say("bob", "watch quick", ""), (lines{"No build of `quick` is running."}));
  core::build_record r;
  r.number = 5;
  h.control.running_builds["quick"] = {r};
  EXPECT_EQ(h.say("bob", "watch quick", ""),
            (lines{"Watching build #5 of `quick`: I will say here when it has finished."}));
  h.transport.sent.clear();
  core::build_finished f;
  f.header.builder = "quick";
  f.header.number = 5;
  f.outcome = core::result::success;
  h.chat.on_event(f);
  // #builds hears it through notify, bob through the watch; each once.
  ASSERT_EQ(h.transport.sent.size(), 2u);
  EXPECT_EQ(h.transport.sent[1].target, "bob");
  EXPECT_EQ(h.transport.sent[1].id, "quick#5/watch/irc:bob");
  h.transport.sent.clear();
  h.chat.on_event(f);
  EXPECT_EQ(h.transport.sent.size(), 1u);  // the watch is over
}

TEST(StatusCommand, IdleAndLast) {
  command_harness h;
  core::build_record b;
  b.number = 3;
  b.outcome = core::result::failure;
  b.finished_at = core::clock::now() - std::chrono::minutes(5);
  b.started_at = *b.finished_at - std::chrono::seconds(2);
  h.control.last["broken"] = b;
  EXPECT_EQ(h.say("bob", "herald: status"),
            (lines{"`quick`: idle, no builds yet", "`broken`: idle, last build #3 5 minutes ago, failed"}));
  EXPECT_EQ(h.say("bob", "herald: last broken"),
            (lines{"Last build of `broken`: #3 failed, 5 minutes ago, took 2 seconds. http://ci.test/#/builders/broken/builds/3"}));
  EXPECT_EQ(h.say("bob", "herald: last quick"), (lines{"`quick` has no finished builds yet."}));
  EXPECT_EQ(h.say("bob", "herald: status nope"), (lines{"No such builder `nope`. Try `list builders`."}));
}

TEST(Announcements, FinishedGoesToSubscribedContactsOnce) {
  command_harness h;
  h.say("bob", "notify on failure", "");  // private contact bob wants failures only
  h.transport.sent.clear();
  core::build_finished f;
  f.header.builder = "broken";
  f.header.number = 4;
  f.outcome = core::result::failure;
  f.text = "step `s` failed (exit 2)";
  h.chat.on_event(f);
  ASSERT_EQ(h.transport.sent.size(), 2u);
  for (const auto& m : h.transport.sent) {
    EXPECT_EQ(m.text, "Build #4 of `broken` failed: step `s` failed (exit 2). http://ci.test/#/builders/broken/builds/4");
    EXPECT_EQ(m.prio, bot::priority::notification);
  }
  EXPECT_EQ(h.transport.sent[0].id, "broken#4/finished/irc:#builds");
  EXPECT_EQ(h.transport.sent[1].target, "bob");
}

TEST(Announcements, GoToTheOutboxBeforeTheTransport) {
  command_harness h;
  std::vector<std::string> kept;
  h.chat.set_outbox([&](const bot::outgoing& m) {
    kept.push_back(m.id);
    EXPECT_TRUE(h.transport.sent.empty()) << "sent before it was kept";
  });
  h.transport.sent.clear();
  core::build_started s;
  s.header.builder = "quick";
  s.header.number = 1;
  h.chat.on_event(s);
  EXPECT_EQ(kept, (std::vector<std::string>{"quick#1/started/irc:#builds"}));
  EXPECT_EQ(h.transport.texts(), (lines{"Build #1 of `quick` started."}));
}

TEST(Announcements, PmToNicksGetConfiguredEvents) {
  command_harness h;
  h.cfg.irc.pm_to_nicks = {"carol"};
  bot::chat chat(h.cfg, h.transport, testing::null_logger());
  chat.restore({});
  EXPECT_EQ(chat.notify_events(bot::contact{{}, "carol"}), (std::vector<std::string>{"started", "finished"}));
  h.transport.sent.clear();
  core::build_started s;
  s.header.builder = "quick";
  s.header.number = 1;
  chat.on_event(s);
  ASSERT_EQ(h.transport.sent.size(), 2u);
  EXPECT_EQ(h.transport.sent[1].target, "carol");
}

TEST(Announcements, ChannelFiltersByBuilderAndTag) {
  command_harness h;
  h.cfg.irc.channels.resize(3);
  h.cfg.irc.channels[1].name = "#quick-only";
  h.cfg.irc.channels[1].builders = {"quick"};
  h.cfg.irc.channels[2].name = "#tagged";
  h.cfg.irc.channels[2].tags = {"slowpoke"};
  h.cfg.builders[1].tags = {"slowpoke"};  // broken
  bot::chat chat(h.cfg, h.transport, testing::null_logger());
  chat.restore({});
  for (std::string b : {"quick", "broken"}) {
    core::build_started s;
    s.header.builder = b;
    s.header.number = 1;
    chat.on_event(s);
  }
  std::vector<std::string> got;
  for (const auto& m : h.transport.sent) got.push_back(m.target + " " + m.text);
  EXPECT_EQ(got, (lines{"#builds Build #1 of `quick` started.", "#quick-only Build #1 of `quick` started.",
                        "#builds Build #1 of `broken` started.", "#tagged Build #1 of `broken` started."}));
}

TEST(Announcements, TransitionUsesSameBranchByDefault) {
  command_harness h;
  h.say("bob", "herald: notify off", "#builds", true);
  h.say("bob", "herald: notify on problem", "#builds", true);
  h.transport.sent.clear();
  core::build_finished f;
  f.header.builder = "quick";
  f.header.number = 2;
  f.outcome = core::result::failure;
  f.previous_on_builder = core::result::success;  // another branch was green
  h.chat.on_event(f);
  EXPECT_TRUE(h.transport.sent.empty());
  f.previous_on_branch = core::result::success;
  h.chat.on_event(f);
  EXPECT_EQ(h.transport.sent.size(), 1u);
}

}  // namespace
}  // namespace herald::commands
