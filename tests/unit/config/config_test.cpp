// Config loading: the documented example, every error class with its exact
// file:line:col message, secrets, paths and the shipped example files.
#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/config_helpers.hpp"

namespace herald::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using testing::error;
using testing::errors;
using testing::file;
using testing::temp_dir;

constexpr std::string_view design_example = R"([herald]
title = "Demo CI"
url = "http://127.0.0.1:8010/"     # base for links in messages
data_dir = "var"                    # database, logs, build work dirs

[irc]
host = "127.0.0.1"
port = 6667
tls = false
nick = "herald"
channels = ["#builds", { name = "#ops", key = "sekrit" }]
notify_events = ["started", "finished"]   # initial set for configured channels
use_colors = false

[authz]                # who may run the dangerous commands
force = ["alice"]      # nicks, "account:NAME", or "nick!user@host" globs
stop = ["alice"]
shutdown = []

[[builder]]
name = "quick"
tags = ["fast"]
  [[builder.step]]
  name = "hello"
  command = ["sh", "-c", "echo hello"]      # a list: run as argv, no shell

[[builder]]
name = "slow"
  [[builder.step]]
  name = "sleep"
  command = "sleep ${HERALD_PROP_SECONDS:-30}"   # a string: run by sh -c
)";

TEST(Config, ParsesTheDesignExample) {
  config c = parse(design_example, "/etc/herald/herald.toml");
  EXPECT_EQ(c.file, fs::path("/etc/herald/herald.toml"));
  EXPECT_EQ(c.herald.title, "Demo CI");
  EXPECT_EQ(c.herald.url, "http://127.0.0.1:8010/");
  EXPECT_EQ(c.herald.data_dir, fs::path("/etc/herald/var"));
  EXPECT_EQ(c.herald.max_builds, 4);

  EXPECT_TRUE(c.irc.enabled);
  EXPECT_EQ(c.irc.host, "127.0.0.1");
  EXPECT_EQ(c.irc.port, 6667);
  EXPECT_FALSE(c.irc.tls);
  EXPECT_EQ(c.irc.nick, "herald");
  ASSERT_EQ(c.irc.channels.size(), 2u);
  EXPECT_EQ(c.irc.channels[0].name, "#builds");
  EXPECT_EQ(c.irc.channels[0].key, "");
  EXPECT_EQ(c.irc.channels[1].name, "#ops");
  EXPECT_EQ(c.irc.channels[1].key, "sekrit");
  EXPECT_EQ(c.irc.notify_events, (std::vector<std::string>{"started", "finished"}));
  EXPECT_FALSE(c.irc.use_colors);
  EXPECT_TRUE(c.irc.password.empty());

  EXPECT_EQ(c.authz.commands.at("force"), std::vector<std::string>{"alice"});
  EXPECT_EQ(c.authz.commands.at("stop"), std::vector<std::string>{"alice"});
  EXPECT_TRUE(c.authz.commands.at("shutdown").empty());

  ASSERT_EQ(c.builders.size(), 2u);
  const builder& quick = c.builders[0];
  EXPECT_EQ(quick.name, "quick");
  EXPECT_EQ(quick.tags, std::vector<std::string>{"fast"});
  EXPECT_EQ(quick.max_builds, 1);
  ASSERT_EQ(quick.steps.size(), 1u);
  EXPECT_EQ(quick.steps[0].name, "hello");
  EXPECT_EQ(quick.steps[0].command, command_line(std::vector<std::string>{"sh", "-c", "echo hello"}));
  EXPECT_FALSE(quick.steps[0].timeout);
  EXPECT_TRUE(quick.steps[0].halt_on_failure);

  const builder& slow = c.builders[1];
  EXPECT_EQ(slow.name, "slow");
  ASSERT_EQ(slow.steps.size(), 1u);
  EXPECT_EQ(slow.steps[0].name, "sleep");
  EXPECT_EQ(slow.steps[0].command, command_line(std::string("sleep ${HERALD_PROP_SECONDS:-30}")));
}

TEST(Config, EmptyFileGivesDefaults) {
  config c = parse("", "/etc/herald/herald.toml");
  EXPECT_FALSE(c.irc.enabled);
  EXPECT_EQ(c.herald.title, "herald");
  EXPECT_EQ(c.herald.data_dir, fs::path("/etc/herald/var"));
  EXPECT_EQ(c.herald.stop_grace, seconds{5});
  EXPECT_EQ(c.herald.outbox_memory_mib, 64);
  EXPECT_EQ(c.irc.flood_burst, 4);
  EXPECT_EQ(c.irc.lost_delay.min, seconds{1});
  EXPECT_EQ(c.irc.lost_delay.max, seconds{5});
  EXPECT_TRUE(c.irc.tls_ca_file.empty());
  EXPECT_TRUE(c.builders.empty());
}

TEST(Config, EmptyIrcTableEnablesIrc) { EXPECT_TRUE(parse("[irc]\n", file).irc.enabled); }

TEST(Config, FindBuilder) {
  config c = parse(design_example, file);
  ASSERT_NE(c.find_builder("slow"), nullptr);
  EXPECT_EQ(c.find_builder("slow")->name, "slow");
  EXPECT_EQ(c.find_builder("Slow"), nullptr);
  EXPECT_EQ(c.find_builder("missing"), nullptr);
}

TEST(Config, EveryKeyIsRead) {
  config c = parse(R"([herald]
max_builds = 2
stop_grace = 0.5
outbox_memory_mib = 8
[irc]
tls = true
tls_verify = false
tls_ca_file = "/etc/ssl/ca.pem"
alt_nicks = ["herald_", "h3r4ld"]
username = "bot"
realname = "The Bot"
use_colors = true
reclaim_nick_interval = 30
flood_burst = 6
flood_rate = 2.5
max_queue = 50
ping_interval = 10
ping_timeout = 20.5
previous_builder_wide = true
[[builder]]
name = "b-1.x_y"
description = "desc"
max_builds = 3
env = { CC = "cc", _X1 = "" }
  [[builder.step]]
  command = "true"
  timeout = 90
  warning_exit_codes = [1, 255]
  halt_on_failure = false
  workdir = "src"
  env = { A = "b" }
)",
                   file);
  EXPECT_EQ(c.herald.max_builds, 2);
  EXPECT_EQ(c.herald.stop_grace, seconds{0.5});
  EXPECT_EQ(c.herald.outbox_memory_mib, 8);
  EXPECT_TRUE(c.irc.tls);
  EXPECT_FALSE(c.irc.tls_verify);
  EXPECT_EQ(c.irc.tls_ca_file, fs::path("/etc/ssl/ca.pem"));
  EXPECT_EQ(c.irc.alt_nicks, (std::vector<std::string>{"herald_", "h3r4ld"}));
  EXPECT_EQ(c.irc.username, "bot");
  EXPECT_EQ(c.irc.realname, "The Bot");
  EXPECT_TRUE(c.irc.use_colors);
  EXPECT_EQ(c.irc.reclaim_nick_interval, seconds{30});
  EXPECT_EQ(c.irc.flood_burst, 6);
  EXPECT_EQ(c.irc.flood_rate, 2.5);
  EXPECT_EQ(c.irc.max_queue, 50u);
  EXPECT_EQ(c.irc.ping_interval, seconds{10});
  EXPECT_EQ(c.irc.ping_timeout, seconds{20.5});
  EXPECT_TRUE(c.irc.previous_builder_wide);
  ASSERT_EQ(c.builders.size(), 1u);
  const builder& b = c.builders[0];
  EXPECT_EQ(b.name, "b-1.x_y");
  EXPECT_EQ(b.description, "desc");
  EXPECT_EQ(b.max_builds, 3);
  EXPECT_EQ(b.env, (std::map<std::string, std::string>{{"CC", "cc"}, {"_X1", ""}}));
  ASSERT_EQ(b.steps.size(), 1u);
  const step& s = b.steps[0];
  EXPECT_EQ(s.name, "step1");
  EXPECT_EQ(s.timeout, seconds{90});
  EXPECT_EQ(s.warning_exit_codes, (std::vector<int>{1, 255}));
  EXPECT_FALSE(s.halt_on_failure);
  EXPECT_EQ(s.workdir, fs::path("src"));
  EXPECT_EQ(s.env, (std::map<std::string, std::string>{{"A", "b"}}));
}

TEST(Config, StepNamesDefaultToTheirPosition) {
  config c = parse(R"([[builder]]
name = "b"
  [[builder.step]]
  command = "a"
  [[builder.step]]
  name = "named"
  command = "b"
  [[builder.step]]
  command = "c"
)",
                   file);
  ASSERT_EQ(c.builders[0].steps.size(), 3u);
  EXPECT_EQ(c.builders[0].steps[0].name, "step1");
  EXPECT_EQ(c.builders[0].steps[1].name, "named");
  EXPECT_EQ(c.builders[0].steps[2].name, "step3");
}

TEST(Config, SyntaxErrorIsOneDiagnosticAtTomlsPosition) {
  EXPECT_EQ(error("[irc]\nnick = \"herald\"\nport = \n"),
            "/srv/h.toml:3:8: Error while parsing key-value pair: expected value, saw '\\n'");
}

TEST(Config, DuplicateTomlKeyIsASyntaxError) {
  EXPECT_EQ(error("[irc]\nport = 1\nport = 2\n"),
            "/srv/h.toml:3:8: Error while parsing key-value pair: cannot redefine existing integer 'port'");
}

TEST(Config, UnknownKeySuggestsTheNearestKnownOne) {
  EXPECT_EQ(error("[irc]\nnik = \"x\"\n"), "/srv/h.toml:2:1: unknown key `irc.nik`; did you mean `nick`?");
  EXPECT_EQ(error("[irc]\nNICK = \"x\"\n"), "/srv/h.toml:2:1: unknown key `irc.NICK`; did you mean `nick`?");
  EXPECT_EQ(error("[builders]\n"), "/srv/h.toml:1:2: unknown key `builders`; did you mean `builder`?");
  EXPECT_EQ(error("[[builder]]\nname = \"b\"\nsteps = 1\n  [[builder.step]]\n  command = \"x\"\n"),
            "/srv/h.toml:3:1: unknown key `builder.steps`; did you mean `step`?");
}

TEST(Config, UnknownKeysInNestedTables) {
  EXPECT_EQ(errors("[[builder]]\nname = \"b\"\n  [[builder.step]]\n  command = \"x\"\n  timout = 3\n"),
            (std::vector<std::string>{
                "/srv/h.toml:5:3: unknown key `builder.step.timout`; did you mean `timeout`?"}));
  EXPECT_EQ(error("[irc]\nchannels = [{ name = \"#a\", kye = \"k\" }]\n"),
            "/srv/h.toml:2:28: unknown key `irc.channels.kye`; did you mean `key`?");
}

TEST(Config, UnknownKeyWithoutANearOne) {
  EXPECT_EQ(error("[herald]\ncolour = 1\n"), "/srv/h.toml:2:1: unknown key `herald.colour`");
}

TEST(Config, WrongTypes) {
  EXPECT_EQ(error("[irc]\nnick = 5\n"), "/srv/h.toml:2:8: expected a string for `irc.nick`, got an integer");
  EXPECT_EQ(error("[irc]\nport = \"6667\"\n"),
            "/srv/h.toml:2:8: expected an integer for `irc.port`, got a string");
  EXPECT_EQ(error("[irc]\nport = 6667.0\n"),
            "/srv/h.toml:2:8: expected an integer for `irc.port`, got a float");
  EXPECT_EQ(error("[irc]\ntls = \"yes\"\n"),
            "/srv/h.toml:2:7: expected a boolean for `irc.tls`, got a string");
  EXPECT_EQ(error("irc = 1\n"), "/srv/h.toml:1:7: expected a table for `irc`, got an integer");
  EXPECT_EQ(error("[herald]\nstop_grace = 1979-05-27\n"),
            "/srv/h.toml:2:14: expected a number of seconds for `herald.stop_grace`, got a date");
  EXPECT_EQ(error("[builder]\nname = \"b\"\n"),
            "/srv/h.toml:1:1: expected an array of tables ([[builder]]) for `builder`, got a table");
  EXPECT_EQ(error("[authz]\nforce = \"alice\"\n"),
            "/srv/h.toml:2:9: expected an array of strings for `authz.force`, got a string");
  EXPECT_EQ(error("[[builder]]\nname = \"b\"\ntags = [\"a\", 1]\n  [[builder.step]]\n  command = \"x\"\n"),
            "/srv/h.toml:3:14: expected a string in `builder.tags`, got an integer");
  EXPECT_EQ(error("[[builder]]\nname = \"b\"\nenv = { A = 1 }\n  [[builder.step]]\n  command = \"x\"\n"),
            "/srv/h.toml:3:13: expected a string for `builder.env.A`, got an integer");
}

TEST(Config, BuilderRequiresNameAndSteps) {
  EXPECT_EQ(errors("[[builder]]\ndescription = \"x\"\n\n[[builder]]\nname = \"b\"\n"),
            (std::vector<std::string>{
                "/srv/h.toml:1:1: missing required key `name` in `builder`",
                "/srv/h.toml:1:1: builder needs at least one [[builder.step]]",
                "/srv/h.toml:4:1: builder `b` needs at least one [[builder.step]]",
            }));
}

TEST(Config, StepRequiresCommand) {
  EXPECT_EQ(error("[[builder]]\nname = \"b\"\n  [[builder.step]]\n  name = \"s\"\n"),
            "/srv/h.toml:3:3: missing required key `command` in `builder.step`");
}

TEST(Config, CommandMustBeANonEmptyStringOrArgv) {
  const std::string head = "[[builder]]\nname = \"b\"\n  [[builder.step]]\n";
  EXPECT_EQ(error(head + "  command = \"\"\n"), "/srv/h.toml:4:13: `builder.step.command` must not be empty");
  EXPECT_EQ(error(head + "  command = []\n"), "/srv/h.toml:4:13: `builder.step.command` must not be empty");
  EXPECT_EQ(error(head + "  command = [\"\", \"x\"]\n"),
            "/srv/h.toml:4:14: the program (first item) of `builder.step.command` must not be empty");
  EXPECT_EQ(error(head + "  command = [\"sh\", 2]\n"),
            "/srv/h.toml:4:20: expected a string in `builder.step.command`, got an integer");
  EXPECT_EQ(error(head + "  command = 3\n"),
            "/srv/h.toml:4:13: expected a string or an array of strings for `builder.step.command`, got an "
            "integer");
}

TEST(Config, BuilderNames) {
  EXPECT_EQ(
      errors("[[builder]]\nname = \"a\"\n[[builder.step]]\ncommand = \"x\"\n"
             "[[builder]]\nname = \"a\"\n[[builder.step]]\ncommand = \"x\"\n"),
      std::vector<std::string>{"/srv/h.toml:6:8: duplicate builder name `a` (first defined at line 2)"});
  EXPECT_EQ(error("[[builder]]\nname = \"\"\n[[builder.step]]\ncommand = \"x\"\n"),
            "/srv/h.toml:2:8: `builder.name` must not be empty");
  EXPECT_EQ(
      error("[[builder]]\nname = \"a/b\"\n[[builder.step]]\ncommand = \"x\"\n"),
      "/srv/h.toml:2:8: invalid builder name `a/b`: use letters, digits, `.`, `_` and `-` (not `.` or `..` "
      "alone)");
  EXPECT_EQ(
      error("[[builder]]\nname = \"..\"\n[[builder.step]]\ncommand = \"x\"\n"),
      "/srv/h.toml:2:8: invalid builder name `..`: use letters, digits, `.`, `_` and `-` (not `.` or `..` "
      "alone)");
}

TEST(Config, DuplicateStepNames) {
  EXPECT_EQ(error("[[builder]]\nname = \"b\"\n[[builder.step]]\ncommand = \"x\"\n"
                  "[[builder.step]]\nname = \"step1\"\ncommand = \"y\"\n"),
            "/srv/h.toml:6:8: duplicate step name `step1` in builder `b`");
}

TEST(Config, NumberRanges) {
  EXPECT_EQ(error("[irc]\nport = 0\n"), "/srv/h.toml:2:8: `irc.port` must be between 1 and 65535, got 0");
  EXPECT_EQ(error("[irc]\nport = 65536\n"),
            "/srv/h.toml:2:8: `irc.port` must be between 1 and 65535, got 65536");
  EXPECT_EQ(error("[herald]\nmax_builds = 0\n"),
            "/srv/h.toml:2:14: `herald.max_builds` must be at least 1, got 0");
  EXPECT_EQ(error("[herald]\nmax_builds = 3000000000\n"),
            "/srv/h.toml:2:14: `herald.max_builds` must be at most 2147483647, got 3000000000");
  EXPECT_EQ(error("[herald]\noutbox_memory_mib = 0\n"),
            "/srv/h.toml:2:21: `herald.outbox_memory_mib` must be between 1 and 1048576, got 0");
  EXPECT_EQ(error("[irc]\nflood_burst = -1\n"),
            "/srv/h.toml:2:15: `irc.flood_burst` must be at least 1, got -1");
  EXPECT_EQ(error("[irc]\nflood_rate = 0\n"),
            "/srv/h.toml:2:14: `irc.flood_rate` must be greater than 0, got 0");
  EXPECT_EQ(error("[irc]\nmax_queue = 0\n"), "/srv/h.toml:2:13: `irc.max_queue` must be at least 1, got 0");
  EXPECT_EQ(error("[[builder]]\nname = \"b\"\nmax_builds = 0\n[[builder.step]]\ncommand = \"x\"\n"),
            "/srv/h.toml:3:14: `builder.max_builds` must be at least 1, got 0");
  EXPECT_EQ(
      error("[[builder]]\nname = \"b\"\n[[builder.step]]\ncommand = \"x\"\nwarning_exit_codes = [1, 256]\n"),
      "/srv/h.toml:5:26: `builder.step.warning_exit_codes` must be between 0 and 255, got 256");
}

TEST(Config, Durations) {
  EXPECT_EQ(parse("[irc]\nping_interval = 1.5\n", file).irc.ping_interval, seconds{1.5});
  EXPECT_EQ(error("[herald]\nstop_grace = 0\n"),
            "/srv/h.toml:2:14: `herald.stop_grace` must be greater than 0, got 0");
  EXPECT_EQ(error("[irc]\nping_timeout = -0.5\n"),
            "/srv/h.toml:2:16: `irc.ping_timeout` must be greater than 0, got -0.5");
  EXPECT_EQ(error("[irc]\nping_timeout = inf\n"),
            "/srv/h.toml:2:16: `irc.ping_timeout` must be finite, got inf");
  EXPECT_EQ(error("[irc]\nreclaim_nick_interval = \"60s\"\n"),
            "/srv/h.toml:2:25: expected a number of seconds for `irc.reclaim_nick_interval`, got a string");
  EXPECT_EQ(error("[[builder]]\nname = \"b\"\n[[builder.step]]\ncommand = \"x\"\ntimeout = 0\n"),
            "/srv/h.toml:5:11: `builder.step.timeout` must be greater than 0, got 0");
}

TEST(Config, DelayRanges) {
  config c = parse("[irc]\nlost_delay = 2\nfailed_delay = [0, 7.5]\n", file);
  EXPECT_EQ(c.irc.lost_delay.min, seconds{2});
  EXPECT_EQ(c.irc.lost_delay.max, seconds{2});
  EXPECT_EQ(c.irc.failed_delay.min, seconds{0});
  EXPECT_EQ(c.irc.failed_delay.max, seconds{7.5});
  EXPECT_EQ(parse("[irc]\nlost_delay = [3, 3]\n", file).irc.lost_delay.max, seconds{3});

  EXPECT_EQ(error("[irc]\nlost_delay = [5, 1]\n"),
            "/srv/h.toml:2:14: `irc.lost_delay` must be [min, max] with min <= max, got [5, 1]");
  EXPECT_EQ(error("[irc]\nlost_delay = [1, 2, 3]\n"),
            "/srv/h.toml:2:14: `irc.lost_delay` must be [min, max], got an array of 3 elements");
  EXPECT_EQ(error("[irc]\nlost_delay = [1]\n"),
            "/srv/h.toml:2:14: `irc.lost_delay` must be [min, max], got an array of 1 element");
  EXPECT_EQ(error("[irc]\nfailed_delay = -1\n"),
            "/srv/h.toml:2:16: `irc.failed_delay` must be a finite number of seconds >= 0, got -1");
  EXPECT_EQ(error("[irc]\nfailed_delay = [-1, 2]\n"),
            "/srv/h.toml:2:17: `irc.failed_delay` must be a finite number of seconds >= 0, got -1");
  EXPECT_EQ(error("[irc]\nfailed_delay = [1, \"2\"]\n"),
            "/srv/h.toml:2:20: expected a number of seconds for `irc.failed_delay`, got a string");
  EXPECT_EQ(error("[irc]\nfailed_delay = \"1-2\"\n"),
            "/srv/h.toml:2:16: expected a number of seconds or a [min, max] array for `irc.failed_delay`, "
            "got a string");
}

TEST(Config, Nicks) {
  EXPECT_EQ(parse("[irc]\nnick = \"[b0t]\\\\`_^{|}-\"\n", file).irc.nick, "[b0t]\\`_^{|}-");
  EXPECT_EQ(error("[irc]\nnick = \"\"\n"), "/srv/h.toml:2:8: `irc.nick` must not be empty");
  EXPECT_EQ(
      error("[irc]\nnick = \"9lives\"\n"),
      "/srv/h.toml:2:8: invalid IRC nick `9lives` in `irc.nick`: it must not start with a digit or `-`");
  EXPECT_EQ(error("[irc]\nnick = \"-x\"\n"),
            "/srv/h.toml:2:8: invalid IRC nick `-x` in `irc.nick`: it must not start with a digit or `-`");
  EXPECT_EQ(
      error("[irc]\nnick = \"her ald\"\n"),
      "/srv/h.toml:2:8: invalid IRC nick `her ald` in `irc.nick`: only letters, digits and []\\`_^{|}- are "
      "allowed");
  EXPECT_EQ(error("[irc]\nnick = \"" + std::string(31, 'a') + "\"\n"),
            "/srv/h.toml:2:8: invalid IRC nick `" + std::string(31, 'a') +
                "` in `irc.nick`: at most 30 characters are allowed");
  EXPECT_EQ(parse("[irc]\nnick = \"" + std::string(30, 'a') + "\"\n", file).irc.nick, std::string(30, 'a'));
  EXPECT_EQ(
      error("[irc]\nalt_nicks = [\"ok\", \"no!\"]\n"),
      "/srv/h.toml:2:20: invalid IRC nick `no!` in `irc.alt_nicks`: only letters, digits and []\\`_^{|}- are "
      "allowed");
}

TEST(Config, ChannelsWithKeys) {
  config c =
      parse("[irc]\nchannels = [\"&local\", { name = \"#ops\", key = \"k\" }, { name = \"#x\" }]\n", file);
  ASSERT_EQ(c.irc.channels.size(), 3u);
  EXPECT_EQ(c.irc.channels[0].name, "&local");
  EXPECT_EQ(c.irc.channels[1].name, "#ops");
  EXPECT_EQ(c.irc.channels[1].key, "k");
  EXPECT_EQ(c.irc.channels[2].name, "#x");
  EXPECT_EQ(c.irc.channels[2].key, "");
}

TEST(Config, BadChannels) {
  const std::string rule =
      ": it must start with `#` or `&` and contain no spaces, commas, CR, LF, NUL or BEL";
  EXPECT_EQ(error("[irc]\nchannels = [\"builds\"]\n"),
            "/srv/h.toml:2:13: invalid channel name `builds` in `irc.channels`" + rule);
  EXPECT_EQ(error("[irc]\nchannels = [\"#a,#b\"]\n"),
            "/srv/h.toml:2:13: invalid channel name `#a,#b` in `irc.channels`" + rule);
  EXPECT_EQ(error("[irc]\nchannels = [\"#a b\"]\n"),
            "/srv/h.toml:2:13: invalid channel name `#a b` in `irc.channels`" + rule);
  EXPECT_EQ(error("[irc]\nchannels = [\"#a\\u0007\"]\n"),
            "/srv/h.toml:2:13: invalid channel name `#a\\x07` in `irc.channels`" + rule);
  EXPECT_EQ(error("[irc]\nchannels = [{ name = \"ops\" }]\n"),
            "/srv/h.toml:2:22: invalid channel name `ops` in `irc.channels`" + rule);
  EXPECT_EQ(error("[irc]\nchannels = [{ key = \"k\" }]\n"),
            "/srv/h.toml:2:13: missing required key `name` in `irc.channels`");
  EXPECT_EQ(error("[irc]\nchannels = [{ name = \"#a\", key = \"a b\" }]\n"),
            "/srv/h.toml:2:34: `irc.channels.key` must not contain spaces, commas, line breaks or NUL");
  EXPECT_EQ(error("[irc]\nchannels = [\"#a\", 1]\n"),
            "/srv/h.toml:2:19: expected a channel name or a { name, key } table for `irc.channels`, got an "
            "integer");
  EXPECT_EQ(error("[irc]\nchannels = [\"#Ops\", \"#ops\"]\n"),
            "/srv/h.toml:2:21: duplicate channel `#ops` in `irc.channels`");
}

TEST(Config, NotifyEventsAreStoredCanonically) {
  config c = parse("[irc]\nnotify_events = [\"STARTED\", \"successtofailure\", \"started\"]\n", file);
  EXPECT_EQ(c.irc.notify_events, (std::vector<std::string>{"started", "successToFailure"}));
}

TEST(Config, UnknownNotifyEventListsTheValidOnes) {
  const std::string valid =
      " Valid events: started, finished, success, warnings, failure, exception, cancelled, problem, "
      "recovery, "
      "worse, better, worker, successToWarnings, successToFailure, successToException, warningsToSuccess, "
      "warningsToFailure, warningsToException, failureToSuccess, failureToWarnings, failureToException, "
      "exceptionToSuccess, exceptionToWarnings, exceptionToFailure";
  EXPECT_EQ(
      error("[irc]\nnotify_events = [\"started\", \"strated\"]\n"),
      "/srv/h.toml:2:29: unknown notify event `strated` in `irc.notify_events`; did you mean `started`?" +
          valid);
  EXPECT_EQ(error("[irc]\nnotify_events = [\"everything\"]\n"),
            "/srv/h.toml:2:18: unknown notify event `everything` in `irc.notify_events`" + valid);
}

TEST(Config, AuthzEntries) {
  config c = parse("[authz]\nforce = [\"alice\", \"account:bob\", \"*!*@10.0.0.*\"]\n", file);
  EXPECT_EQ(c.authz.commands.at("force"), (std::vector<std::string>{"alice", "account:bob", "*!*@10.0.0.*"}));
  EXPECT_EQ(errors("[authz]\nforce = [\"\"]\nstop = [\"account:\"]\nshutdown = [1]\n"),
            (std::vector<std::string>{
                "/srv/h.toml:2:10: empty entry in `authz.force`",
                "/srv/h.toml:3:9: `account:` in `authz.stop` needs an account name",
                "/srv/h.toml:4:13: expected a string in `authz.shutdown`, got an integer",
            }));
}

TEST(Config, EnvNames) {
  EXPECT_EQ(
      error("[[builder]]\nname = \"b\"\nenv = { \"A-B\" = \"x\" }\n[[builder.step]]\ncommand = \"x\"\n"),
      "/srv/h.toml:3:9: invalid environment variable name `A-B` in `builder.env`: use letters, digits and "
      "`_`, not starting with a digit");
}

TEST(Config, OtherIrcStrings) {
  EXPECT_EQ(error("[irc]\nhost = \"\"\n"), "/srv/h.toml:2:8: `irc.host` must not be empty");
  EXPECT_EQ(error("[irc]\nusername = \"a b\"\n"),
            "/srv/h.toml:2:12: `irc.username` must be non-empty, without spaces, `@`, line breaks or NUL");
  EXPECT_EQ(error("[irc]\nrealname = \"a\\nb\"\n"),
            "/srv/h.toml:2:12: `irc.realname` must not contain line breaks or NUL");
  EXPECT_EQ(error("[herald]\ndata_dir = \"\"\n"), "/srv/h.toml:2:12: `herald.data_dir` must not be empty");
}

TEST(Config, CollectsEveryProblemInFileOrder) {
  try {
    parse("[irc]\nport = 0\nnick = 1\n[herald]\ntitel = \"x\"\n", file);
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    ASSERT_EQ(e.diagnostics().size(), 3u);
    EXPECT_EQ(e.diagnostics()[0].file, file);
    EXPECT_EQ(e.diagnostics()[0].line, 2);
    EXPECT_EQ(e.diagnostics()[0].column, 8);
    EXPECT_EQ(e.diagnostics()[0].message, "`irc.port` must be between 1 and 65535, got 0");
    EXPECT_STREQ(e.what(),
                 "/srv/h.toml:2:8: `irc.port` must be between 1 and 65535, got 0\n"
                 "/srv/h.toml:3:8: expected a string for `irc.nick`, got an integer\n"
                 "/srv/h.toml:5:1: unknown key `herald.titel`; did you mean `title`?");
  }
}

TEST(Config, RelativePathsAreRelativeToTheConfigFile) {
  config c = parse("[herald]\ndata_dir = \"../state/./db\"\n[irc]\ntls_ca_file = \"certs/ca.pem\"\n",
                   "/etc/herald/conf/herald.toml");
  EXPECT_EQ(c.herald.data_dir, fs::path("/etc/herald/state/db"));
  EXPECT_EQ(c.irc.tls_ca_file, fs::path("/etc/herald/conf/certs/ca.pem"));
  EXPECT_EQ(parse("[herald]\ndata_dir = \"/var/lib/herald\"\n", file).herald.data_dir,
            fs::path("/var/lib/herald"));
  EXPECT_TRUE(parse("[herald]\n", "herald.toml").herald.data_dir.is_absolute());
}

TEST(Config, PlainSecret) {
  EXPECT_EQ(parse("[irc]\npassword = \"plain\"\n", file).irc.password.reveal(), "plain");
}

TEST(Config, EnvSecret) {
  ::setenv("HERALD_TEST_SECRET", "from-env", 1);
  EXPECT_EQ(parse("[irc]\npassword = \"env:HERALD_TEST_SECRET\"\n", file).irc.password.reveal(), "from-env");
  ::unsetenv("HERALD_TEST_SECRET");
  EXPECT_EQ(error("[irc]\npassword = \"env:HERALD_TEST_SECRET\"\n"),
            "/srv/h.toml:2:12: `irc.password`: environment variable `HERALD_TEST_SECRET` is not set");
  EXPECT_EQ(error("[irc]\npassword = \"env:\"\n"),
            "/srv/h.toml:2:12: `irc.password`: `env:` needs a variable name");
}

TEST(Config, FileSecretIsRelativeToTheConfigAndLosesOneNewline) {
  temp_dir dir;
  dir.write("secrets/pw", "s3cret\n\n");
  dir.write("secrets/plain", "plain");
  fs::path cfg = dir.write("herald.toml", "[irc]\npassword = \"file:secrets/plain\"\n");
  EXPECT_EQ(load(cfg).irc.password.reveal(), "plain");

  dir.write("secrets/pw", "s3cret\n");
  cfg = dir.write("herald.toml", "[irc]\npassword = \"file:secrets/pw\"\n");
  EXPECT_EQ(load(cfg).irc.password.reveal(), "s3cret");

  fs::path absolute = dir.path() / "secrets" / "plain";
  EXPECT_EQ(parse("[irc]\npassword = \"file:" + absolute.string() + "\"\n", file).irc.password.reveal(),
            "plain");
}

TEST(Config, UnreadableFileSecret) {
  temp_dir dir;
  fs::path cfg = dir.write("herald.toml", "[irc]\npassword = \"file:nope\"\n");
  try {
    load(cfg);
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), (cfg.string() + ":2:12: `irc.password`: cannot read `" +
                            (dir.path() / "nope").string() + "`: No such file or directory")
                               .c_str());
  }
}

TEST(Config, SecretValuesNeverAppearInErrors) {
  temp_dir dir;
  dir.write("pw", "hunter2-from-file\n\n");  // two newlines: one stays, which IRC cannot send
  fs::path cfg = dir.write("herald.toml", "[irc]\npassword = \"file:pw\"\nport = 0\n");
  try {
    load(cfg);
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    std::string what = e.what();
    EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
    EXPECT_NE(what.find(":2:12: `irc.password` must not contain line breaks or NUL"), std::string::npos)
        << what;
  }

  ::setenv("HERALD_TEST_SECRET", "hunter2-from-env", 1);
  try {
    parse("[irc]\npassword = \"env:HERALD_TEST_SECRET\"\nnick = \"1\"\npasword = \"hunter2-typo\"\n", file);
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    EXPECT_EQ(e.diagnostics().size(), 2u);
  }
  ::unsetenv("HERALD_TEST_SECRET");
}

TEST(Config, LoadReportsAnUnreadableFile) {
  try {
    load("/nonexistent/herald.toml");
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/herald.toml:1:1: cannot read: No such file or directory");
  }
}

TEST(Config, LoadNamesTheFileInDiagnostics) {
  temp_dir dir;
  fs::path cfg = dir.write("herald.toml", "[irc]\nport = 0\n");
  try {
    load(cfg);
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    EXPECT_EQ(std::string(e.what()), cfg.string() + ":2:8: `irc.port` must be between 1 and 65535, got 0");
  }
}

TEST(Config, ShippedExamplesParse) {
#ifdef HERALD_SOURCE_DIR
  fs::path examples = fs::path(HERALD_SOURCE_DIR) / "examples";

  config demo = load(examples / "demo.toml");
  EXPECT_EQ(demo.herald.title, "herald demo");
  EXPECT_EQ(demo.herald.data_dir, (examples / "../var/demo").lexically_normal());
  EXPECT_EQ(demo.irc.nick, "herald");
  ASSERT_NE(demo.find_builder("quick"), nullptr);
  ASSERT_NE(demo.find_builder("broken"), nullptr);
  ASSERT_NE(demo.find_builder("slow"), nullptr);
  EXPECT_EQ(demo.find_builder("slow")->steps.at(0).timeout, seconds{600});

  config full = load(examples / "full.toml");
  EXPECT_TRUE(full.irc.enabled);
  EXPECT_FALSE(full.builders.empty());
#else
  GTEST_SKIP() << "HERALD_SOURCE_DIR is not defined for this test target";
#endif
}

TEST(Config, AuthzGroupsAndPerCommandRules) {
  config c = parse("[authz]\nforce = [\"alice\"]\njoin = [\"@ops\"]\ndangerous = [\"root\"]\nchannel = [\"*\"]\n", file);
  EXPECT_EQ(c.authz.rules_for("force", command_group::dangerous), std::vector<std::string>{"alice"});
  EXPECT_EQ(c.authz.rules_for("join", command_group::dangerous), std::vector<std::string>{"@ops"});
  EXPECT_EQ(c.authz.rules_for("stop", command_group::dangerous), std::vector<std::string>{"root"});
  EXPECT_EQ(c.authz.rules_for("status", command_group::harmless), std::vector<std::string>{"*"});
  EXPECT_EQ(c.authz.rules_for("mute", command_group::channel), std::vector<std::string>{"*"});
  config d = parse("", file);
  EXPECT_TRUE(d.authz.rules_for("force", command_group::dangerous).empty());
  EXPECT_EQ(d.authz.rules_for("notify", command_group::channel), std::vector<std::string>{"@ops"});
}

TEST(Config, AuthzUnknownCommandAndBadAtRule) {
  EXPECT_EQ(error("[authz]\nforse = []\n"), "/srv/h.toml:2:1: unknown key `authz.forse`; did you mean `force`?");
  EXPECT_EQ(error("[authz]\nmute = [\"@voice\"]\n"),
            "/srv/h.toml:2:9: `@voice` in `authz.mute`: the only @ rule is `@ops` (channel operators)");
}

TEST(Config, ChannelFiltersAndOwnNotifyEvents) {
  config c = parse("[irc]\nchannels = [{ name = \"#linux\", builders = [\"linux\"], tags = [\"release\"], "
                   "notify_events = [\"FAILURE\"] }, \"#all\"]\n",
                   file);
  ASSERT_EQ(c.irc.channels.size(), 2u);
  EXPECT_EQ(c.irc.channels[0].builders, std::vector<std::string>{"linux"});
  EXPECT_EQ(c.irc.channels[0].tags, std::vector<std::string>{"release"});
  ASSERT_TRUE(c.irc.channels[0].notify_events);
  EXPECT_EQ(*c.irc.channels[0].notify_events, std::vector<std::string>{"failure"});
  EXPECT_FALSE(c.irc.channels[1].notify_events);
  auto e = error("[irc]\nchannels = [{ name = \"#x\", notify_events = [\"nope\"] }]\n");
  EXPECT_TRUE(e.starts_with("/srv/h.toml:2:45: unknown notify event `nope` in `irc.channels.notify_events`")) << e;
}

// ---- [irc] identity keys: SASL, client certificate, NickServ, notice_on_channel ----

TEST(Config, IrcIdentityDefaults) {
  config c = parse("[irc]\n", file);
  EXPECT_EQ(c.irc.sasl_mechanism, "none");
  EXPECT_EQ(c.irc.sasl_username, "");
  EXPECT_TRUE(c.irc.sasl_password.empty());
  EXPECT_FALSE(c.irc.sasl_required);
  EXPECT_TRUE(c.irc.tls_client_cert.empty());
  EXPECT_TRUE(c.irc.tls_client_key.empty());
  EXPECT_TRUE(c.irc.nickserv_password.empty());
  EXPECT_EQ(c.irc.nickserv_name, "NickServ");
  EXPECT_FALSE(c.irc.notice_on_channel);
  EXPECT_TRUE(c.irc.summarize_bursts);
  EXPECT_FALSE(parse("[irc]\nsummarize_bursts = false\n", file).irc.summarize_bursts);
}

TEST(Config, IrcSaslPlainAndNickServ) {
  ::setenv("HERALD_TEST_SASL", "from-env", 1);
  config c = parse(
      "[irc]\nsasl_mechanism = \"plain\"\nsasl_username = \"bot\"\nsasl_password = \"env:HERALD_TEST_SASL\"\n"
      "sasl_required = true\nnickserv_password = \"ns-secret\"\nnickserv_name = \"Services\"\n"
      "notice_on_channel = true\n",
      file);
  ::unsetenv("HERALD_TEST_SASL");
  EXPECT_EQ(c.irc.sasl_mechanism, "plain");
  EXPECT_EQ(c.irc.sasl_username, "bot");
  EXPECT_EQ(c.irc.sasl_password.reveal(), "from-env");
  EXPECT_TRUE(c.irc.sasl_required);
  EXPECT_EQ(c.irc.nickserv_password.reveal(), "ns-secret");
  EXPECT_EQ(c.irc.nickserv_name, "Services");
  EXPECT_TRUE(c.irc.notice_on_channel);
}

TEST(Config, IrcSaslExternalPathsAreRelativeToTheConfig) {
  config c = parse("[irc]\ntls = true\nsasl_mechanism = \"external\"\ntls_client_cert = \"certs/herald.pem\"\n"
                   "tls_client_key = \"certs/herald.key\"\n",
                   file);
  EXPECT_EQ(c.irc.tls_client_cert, fs::path("/srv/certs/herald.pem"));
  EXPECT_EQ(c.irc.tls_client_key, fs::path("/srv/certs/herald.key"));
}

TEST(Config, IrcSaslErrors) {
  EXPECT_EQ(error("[irc]\nsasl_mechanism = \"scram\"\nsasl_password = \"x\"\n"),
            "/srv/h.toml:2:18: unknown SASL mechanism `scram` in `irc.sasl_mechanism`: use \"none\", \"plain\" or "
            "\"external\"");
  EXPECT_EQ(error("[irc]\nsasl_mechanism = \"plain\"\n"),
            "/srv/h.toml:2:18: `irc.sasl_mechanism = \"plain\"` needs `irc.sasl_password`");
  EXPECT_EQ(errors("[irc]\nsasl_mechanism = \"external\"\n"),
            (std::vector<std::string>{
                "/srv/h.toml:2:18: `irc.sasl_mechanism = \"external\"` needs `irc.tls = true`",
                "/srv/h.toml:2:18: `irc.sasl_mechanism = \"external\"` needs `irc.tls_client_cert` (and its key)"}));
  EXPECT_EQ(error("[irc]\nsasl_required = true\n"),
            "/srv/h.toml:2:17: `irc.sasl_required = true` needs `irc.sasl_mechanism`");
  EXPECT_EQ(error("[irc]\ntls_client_key = \"k.pem\"\n"),
            "/srv/h.toml:2:18: `irc.tls_client_key` needs `irc.tls_client_cert`");
  EXPECT_EQ(error("[irc]\nsasl_username = \"a b\"\n"),
            "/srv/h.toml:2:17: `irc.sasl_username` must be non-empty, without spaces, line breaks or NUL");
  EXPECT_EQ(error("[irc]\nsasl_password = \"a\\nb\"\nsasl_mechanism = \"plain\"\n"),
            "/srv/h.toml:2:17: `irc.sasl_password` must not contain line breaks or NUL");
  EXPECT_EQ(error("[irc]\nnickserv_name = \"Nick Serv\"\n"),
            "/srv/h.toml:2:17: invalid IRC nick `Nick Serv` in `irc.nickserv_name`");
  EXPECT_EQ(error("[irc]\nnotice_on_channel = \"yes\"\n"),
            "/srv/h.toml:2:21: expected a boolean for `irc.notice_on_channel`, got a string");
  EXPECT_EQ(error("[irc]\nsasl_mechanim = \"plain\"\n"),
            "/srv/h.toml:2:1: unknown key `irc.sasl_mechanim`; did you mean `sasl_mechanism`?");
}

TEST(Config, PrivateContactsAndMessageOptions) {
  config c = parse("[irc]\npm_to_nicks = [\"alice\"]\nshow_blame = true\nshow_revision = true\n", file);
  EXPECT_EQ(c.irc.pm_to_nicks, std::vector<std::string>{"alice"});
  EXPECT_TRUE(c.irc.show_blame);
  EXPECT_TRUE(c.irc.show_revision);
  EXPECT_TRUE(error("[irc]\npm_to_nicks = [\"9lives\"]\n").starts_with("/srv/h.toml:2:16: invalid IRC nick `9lives` in `irc.pm_to_nicks`"));
}

}  // namespace
}  // namespace herald::config
