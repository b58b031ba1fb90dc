"""The rest of the command set over IRC, against a real ngircd: list, status
with progress, watch, mute/unmute, join/leave, notify permissions, the audit
trail, and shutdown.

alice creates #builds before herald joins, so ngircd makes her a channel
operator; bob is an ordinary member. alice may force, stop, join, leave and
shut down; bob may do none of that.
"""

import os
import re
import sqlite3
import time
import unittest

from fixtures import HeraldTestCase, IrcClient

B = "`"


def bq(name):
    return re.escape(B + name + B)


AUTHZ = 'join = ["alice"]\nleave = ["alice"]'


class TestCommands(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.setup_stack(force=["alice"], stop=["alice"], shutdown=["alice"], extra_authz=AUTHZ)
        cls.bob = IrcClient("bob")
        cls.addClassCleanup(cls.bob.close)
        cls.bob.connect(cls.ngircd.port, "bob")
        cls.bob.join("#builds")

    def force(self, args, builder):
        since = self.client.command(f"force build {args}")
        m = self.client.wait_msg(rf"^Force build requested: #(\d+) of {bq(builder)}\.", since=since)
        return int(m.group(1))

    def test_list_builders_and_workers(self):
        self.client.command("list builders")
        self.client.wait_msg(r"^Configured builders: quick, broken, slow, echo\.")
        self.client.command("list 2 builders")
        self.client.wait_msg(r"^Configured builders: quick, broken\. \(2 of 4\)")
        self.client.command("list workers")
        self.client.wait_msg(r"^Worker `local`: online, 4 slots, \d+ busy")

    def test_status_shows_the_running_step(self):
        n = self.force("--props=seconds=4 slow for status", "slow")
        self.client.wait_msg(rf"^Build #{n} of {bq('slow')} started")
        self.client.command("status slow")
        self.client.wait_msg(rf"^{bq('slow')}: running build #{n} \(step 1/1 {bq('sleep')}, \d+ seconds? so far")
        self.client.command("list workers")
        self.client.wait_msg(rf"^Worker `local`: online, 4 slots, 1 busy: {bq('slow')} #{n}")
        self.client.wait_msg(rf"^Build #{n} of {bq('slow')} completed successfully", timeout=15)

    def test_watch_tells_the_asker_privately(self):
        n = self.force("--props=seconds=2 slow for watch", "slow")
        since = self.bob.mark()
        self.bob.say("herald", "watch slow")
        self.bob.wait_private(rf"^Watching build #{n} of {bq('slow')}", since=since)
        self.bob.wait_private(rf"^Build #{n} of {bq('slow')} completed successfully", timeout=15, since=since)
        self.bob.say("herald", "watch slow")
        self.bob.wait_private(rf"^No build of {bq('slow')} is running\.")

    def test_notify_in_a_channel_needs_an_operator(self):
        self.bob.command("notify on failure")
        self.bob.wait_msg(r"^Sorry, you are not allowed to use `notify` in this channel\.")
        # in a private chat bob manages his own subscriptions
        self.bob.say("herald", "notify on failure")
        self.bob.wait_private(r"^The following events are being notified: failure\.")
        since = self.bob.mark()
        self.force("broken bob hears this privately", "broken")
        self.bob.wait_private(r"^Build #\d+ of `broken` failed", since=since, timeout=15)
        self.bob.say("herald", "notify off")
        self.bob.wait_private(r"^No events are being notified\.")

    def test_mute_and_unmute(self):
        self.bob.command("mute")
        self.bob.wait_msg(r"^Sorry, you are not allowed to use `mute` in this channel\.")
        self.client.command("mute")
        self.client.wait_msg(r"^Muted: no announcements here until `unmute`\.")
        since = self.client.mark()
        n = self.force("quick while muted", "quick")
        self.client.pump(3.0)
        self.assertEqual(self.client.msgs_matching(rf"^Build #{n} of {bq('quick')}", since=since), [],
                         "a muted channel got an announcement")
        self.client.command("unmute")
        self.client.wait_msg(r"^Unmuted: announcements resume here\.")
        n = self.force("quick after unmute", "quick")
        self.client.wait_msg(rf"^Build #{n} of {bq('quick')} completed successfully", timeout=15)

    def test_join_and_leave(self):
        self.bob.command("join #elsewhere")
        self.bob.wait_msg(r"^Sorry, you are not allowed to use `join`\.")
        since = self.client.mark()
        self.client.join("#elsewhere")
        self.client.command("join #elsewhere")
        self.client.wait_msg(r"^Joining #elsewhere\.")
        self.client.wait_join("herald", "#elsewhere", since=since)
        self.client.command("version", channel="#elsewhere")
        self.client.wait_msg(r"^herald ", target="#elsewhere")
        self.client.command("leave #elsewhere")
        self.client.wait_line(lambda m: m.command == "PART" and m.nick == "herald"
                              and m.params[0] == "#elsewhere", what="herald's PART")

    def test_zz_audit_records_dangerous_commands(self):
        self.bob.command("force build quick sneaky")
        self.bob.wait_msg(r"^Sorry, you are not allowed to use `force`\.")
        self.force("quick audited", "quick")
        time.sleep(1.0)  # the writer thread commits in batches
        db = sqlite3.connect(os.path.join(self.herald.data_dir, "herald.db"))
        try:
            rows = db.execute("SELECT command, nick, place, outcome, text FROM audit").fetchall()
        finally:
            db.close()
        self.assertIn(("force", "bob", "#builds", "denied", "force build quick sneaky"), rows)
        self.assertIn(("force", "alice", "#builds", "ran", "force build quick audited"), rows)


class TestShutdown(HeraldTestCase):

    def setUp(self):
        type(self).setup_stack(force=["alice"], stop=["alice"], shutdown=["alice"])
        self.addCleanup(self.doClassCleanups)

    def test_clean_shutdown_waits_for_the_running_build(self):
        c = self.client
        c.command("force build --props=seconds=3 slow last one")
        m = c.wait_msg(r"^Force build requested: #(\d+) of `slow`\.")
        n = int(m.group(1))
        c.wait_msg(rf"^Build #{n} of `slow` started")
        c.command("shutdown start")
        c.wait_msg(r"^Clean shutdown started: herald stops once 1 running build finishes; new builds are refused\.")
        c.command("force build quick too late")
        c.wait_msg(r"shutting down")
        c.command("shutdown check")
        c.wait_msg(r"^Clean shutdown in progress: waiting for 1 running build\.")
        c.wait_msg(rf"^Build #{n} of `slow` completed successfully", timeout=15)
        self.herald.proc.wait(15)
        self.assertEqual(self.herald.proc.returncode, 0)

    def test_shutdown_now_interrupts(self):
        c = self.client
        c.command("force build --props=seconds=60 slow interrupted")
        m = c.wait_msg(r"^Force build requested: #(\d+) of `slow`\.")
        n = int(m.group(1))
        c.wait_msg(rf"^Build #{n} of `slow` started")
        c.command("shutdown now")
        c.wait_msg(r"^Shutting down now, interrupting 1 running build\.")
        c.wait_msg(rf"^Build #{n} of `slow` stopped with exception: interrupted by shutdown", timeout=15)
        self.herald.proc.wait(15)
        self.assertEqual(self.herald.proc.returncode, 0)


if __name__ == "__main__":
    unittest.main()
