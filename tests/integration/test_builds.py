"""Forcing, stopping and asking about builds over IRC, against a real ngircd.

One ngircd, one herald and one client (`alice`, allowed to force and stop)
for the whole class. The tests run in name order; each test reads the build
numbers it needs from herald's replies instead of assuming earlier tests.
"""

import os
import re
import time
import unittest

from fixtures import BUILDER_NAMES, HeraldTestCase, IrcClient, procs_in

B = "`"  # the builder name is between literal backticks in herald's text


def bq(name):
    return re.escape(B + name + B)


class TestBuilds(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        # alice by nick; dave by a nick!user@host glob that matches (ngircd
        # reports our host as 127.0.0.1); eve by a glob that does not match.
        cls.setup_stack(force=["alice", "dave!*@127.0.0.1", "eve!*@10.*"],
                        stop=["alice"])

    # -- helpers --------------------------------------------------------

    def force(self, args, builder, client=None, target="#builds"):
        """Send `force build ARGS` (ARGS = [options] BUILDER REASON...) and
        return the build number herald replies with."""
        c = client or self.client
        if target == "#builds":
            c.command(f"force build {args}")
        else:
            c.say("herald", f"force build {args}")
        reply_target = "#builds" if target == "#builds" else c.nick
        m = c.wait_msg(rf"^Force build requested: #(\d+) of {bq(builder)}\.",
                       target=reply_target)
        return int(m.group(1))

    def wait_result(self, n, builder, result, timeout=15, since=None):
        return self.client.wait_msg(rf"^Build #{n} of {bq(builder)} {result}",
                                    timeout=timeout, since=since)

    def max_number(self, builder):
        nums = [int(m.group(1)) for m in self.client.msgs_matching(
            rf"^(?:Force build requested: #|Build #)(\d+) of {bq(builder)}")]
        nums += [int(m.group(1)) for m in self.client.msgs_matching(
            rf"^(?:Force build requested: #|Build #)(\d+) of {bq(builder)}",
            target=self.client.nick)]
        return max(nums, default=0)

    # -- tests ----------------------------------------------------------

    def test_01_force_quick_is_announced(self):
        since = self.client.mark()
        n = self.force("quick first build", "quick")
        self.assertEqual(n, 1, "build numbers count from 1 per builder")
        self.client.wait_msg(rf"^Build #1 of {bq('quick')} started[.,]", since=since)
        self.wait_result(1, "quick", r"completed successfully\.", since=since)

    def test_02_force_broken_fails_and_last_reports_it(self):
        since = self.client.mark()
        n = self.force("broken expected to fail", "broken")
        self.wait_result(n, "broken", "failed", since=since)

        self.client.command("last broken")
        self.client.wait_msg(rf"^Last build of {bq('broken')}: #{n} failed")

        self.client.command("status broken")
        self.client.wait_msg(rf"^{bq('broken')}: idle, last build #{n} .*ago, failed")

    def test_03_status_and_last(self):
        since = self.client.mark()
        n = self.force("quick for status", "quick")
        self.wait_result(n, "quick", r"completed successfully\.", since=since)

        self.client.command("status quick")
        self.client.wait_msg(
            rf"^{bq('quick')}: idle, last build #{n} .*ago, completed successfully")

        self.client.command("last quick")
        self.client.wait_msg(rf"^Last build of {bq('quick')}: #{n} completed successfully")

        # `echo` is never built in this module.
        self.client.command("last echo")
        self.client.wait_msg(rf"^{bq('echo')} has no finished builds yet\.")
        self.client.command("status echo")
        self.client.wait_msg(rf"^{bq('echo')}: idle, no builds yet")

        # status all: one line per configured builder
        since = self.client.command("status all")
        for name in BUILDER_NAMES:
            self.client.wait_msg(rf"^{bq(name)}: (idle|running)", since=since)
        self.client.wait_msg(
            rf"^{bq('quick')}: idle, last build #{n} .*ago, completed successfully",
            since=since)
        self.client.wait_msg(rf"^{bq('echo')}: idle, no builds yet", since=since)

    def test_04_unknown_builder(self):
        self.client.command("force build nosuch some reason")
        self.client.wait_msg(r"^No such builder `nosuch`\.")
        self.client.command("status nosuch")
        self.client.wait_msg(r"^No such builder `nosuch`\.")

    def test_05_unknown_command(self):
        self.client.command("frobnicate now")
        self.client.wait_msg(r"^Unknown command `frobnicate`\.")

    def test_06_help_force(self):
        self.client.command("help force")
        self.client.wait_msg(r"^Usage: force build")

    def test_07_list_builders(self):
        self.client.command("list builders")
        self.client.wait_msg(r"^Configured builders: quick, broken, slow, echo\.")

    def test_08_version_and_addressing(self):
        self.client.command("version")
        self.client.wait_msg(r"herald")
        # `herald, CMD` with any case of the nick works too
        self.client.command("list builders", nick="HeRaLd", sep=",")
        self.client.wait_msg(r"^Configured builders: quick, broken, slow, echo\.")

    def test_09_private_message_gets_private_replies(self):
        c = self.client
        since = c.mark()
        c.say("herald", "list builders")
        c.wait_private(r"^Configured builders: quick, broken, slow, echo\.")
        c.say("herald", "help force")
        c.wait_private(r"^Usage: force build")
        n = self.force("quick from a private message", "quick", target="private")
        # the notification itself still goes to the subscribed channel
        self.wait_result(n, "quick", r"completed successfully\.", since=since)
        c.pump(0.5)
        wrong = c.msgs_matching(r"^(Configured builders|Usage: |Force build requested)",
                                target="#builds", since=since)
        self.assertEqual(wrong, [], "replies to a private message leaked into the channel")

    def test_10_stop_slow_build(self):
        c = self.client
        since = c.mark()
        n = self.force("--props=seconds=60 slow to be stopped", "slow")
        c.wait_msg(rf"^Build #{n} of {bq('slow')} started", since=since)

        c.command("status slow")
        c.wait_msg(rf"^{bq('slow')}: running build #{n}")

        t0 = time.monotonic()
        since = c.command("stop build slow enough waiting")
        c.wait_msg(rf"^Stop requested for build #{n} of {bq('slow')}\.", since=since)
        c.wait_msg(rf"^Build #{n} of {bq('slow')} was cancelled", timeout=8, since=since)
        self.assertLess(time.monotonic() - t0, 8)

        # the step's process is gone
        work = os.path.join(self.herald.data_dir, "work", "slow")
        self.assertFalse(procs_in(work), "the stopped step still runs")

        c.command("stop build slow nothing left")
        c.wait_msg(rf"^No build of {bq('slow')} is running\.")

        c.command("last slow")
        c.wait_msg(rf"^Last build of {bq('slow')}: #{n} was cancelled")

    def test_11_unauthorized_nick_is_refused(self):
        bob = IrcClient("bob")
        self.addCleanup(bob.close)
        bob.connect(self.ngircd.port, "bob")
        bob.join("#builds")
        before = self.max_number("quick")

        alice_since = self.client.mark()
        bob.command("force build quick sneaky")
        bob.wait_msg(r"^Sorry, you are not allowed to use `force`\.")
        bob.command("stop build slow sneaky")
        bob.wait_msg(r"^Sorry, you are not allowed to use `stop`\.")
        # privately, too
        bob.say("herald", "force build quick sneaky")
        bob.wait_private(r"^Sorry, you are not allowed to use `force`\.")

        self.client.pump(1.5)
        started = self.client.msgs_matching(
            r"^(Force build requested|Build #\d+ of `quick` started)", since=alice_since)
        self.assertEqual(started, [], "an unauthorized force started a build")

        # and the build number did not move
        since = self.client.mark()
        n = self.force("quick after bob", "quick")
        self.assertEqual(n, before + 1)
        self.wait_result(n, "quick", r"completed successfully\.", since=since)

    def test_12_malformed_props(self):
        c = self.client
        since = c.command("force build --props=novalue quick reason")
        c.wait_msg(r"(?i)props", since=since)
        c.pump(1.5)
        self.assertEqual(
            c.msgs_matching(r"^(Force build requested|Build #\d+ of `quick` started)",
                            since=since), [],
            "a malformed --props started a build")

    def test_13_usage_on_missing_arguments(self):
        self.client.command("force build")
        self.client.wait_msg(r"^Usage: ")

    def test_14_authz_globs(self):
        dave = IrcClient("dave")
        self.addCleanup(dave.close)
        dave.connect(self.ngircd.port, "dave")
        eve = IrcClient("eve")
        self.addCleanup(eve.close)
        eve.connect(self.ngircd.port, "eve")
        dave.join("#builds")
        eve.join("#builds")

        eve.command("force build quick not me")
        eve.wait_msg(r"^Sorry, you are not allowed to use `force`\.")

        dave.command("force build quick glob match")
        m = dave.wait_msg(r"^Force build requested: #(\d+) of `quick`\.")
        dave.wait_msg(rf"^Build #{m.group(1)} of `quick` completed successfully")
        # dave may force but not stop
        dave.command("stop build quick no")
        dave.wait_msg(r"^Sorry, you are not allowed to use `stop`\.")

    def test_15_odd_input_does_not_break_herald(self):
        c = self.client
        c.command('force build quick "unterminated quote')
        c.wait_msg(r"\S")  # some answer (an error or usage), not a crash
        c.command("")
        c.command("force build quick ünïcödé reason ✓ " + "x" * 300)
        m = c.wait_msg(r"^Force build requested: #(\d+) of `quick`\.")
        c.wait_msg(rf"^Build #{m.group(1)} of `quick` completed successfully")
        c.command("version")
        c.wait_msg(r"herald")
        self.assertTrue(self.herald.running())

    def test_zz_no_announcement_twice(self):
        self.client.pump(1.0)
        counts = self.assert_no_duplicate_announcements(self.client)
        # sanity: the earlier tests did produce announcements
        self.assertTrue(counts, "no build announcement was seen at all")
        # and no line seen twice in a private conversation either
        self.assert_no_duplicate_announcements(self.client, target=self.client.nick)


if __name__ == "__main__":
    unittest.main(verbosity=2)
