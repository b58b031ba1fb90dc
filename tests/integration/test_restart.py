"""State survives a restart of herald: notify subscriptions, build numbers,
and builds interrupted by a crash are closed as exceptions.

One ngircd and one client for the class; a fresh herald (fresh data dir) per
test, restarted inside the test on the same data dir.
"""

import os
import unittest

from fixtures import (Herald, HeraldTestCase, IrcClient, Ngircd, procs_in,
                      start_herald_and_wait)

LIST_RX = r"^(?:The following events are being notified: ([^.]*)\.|No events are being notified\.)"


class TestRestart(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.ngircd = Ngircd()
        cls.addClassCleanup(cls.ngircd.cleanup)
        cls.servers = [cls.ngircd]
        cls.ngircd.start()
        cls.client = IrcClient("alice")
        cls.addClassCleanup(cls.client.close)
        cls.client.connect(cls.ngircd.port, "alice")
        cls.client.join("#builds")

    def setUp(self):
        self.herald = Herald(self.ngircd.port)
        self.addCleanup(self.herald.cleanup)
        self.local_fixtures = [self.herald]

    def start_herald(self):
        start_herald_and_wait(self.herald, self.client)

    def notify_list(self):
        self.client.command("notify list")
        return self.events(self.client.wait_msg(LIST_RX))

    @staticmethod
    def events(m):
        if m.group(1) is None:
            return set()
        return {e.strip() for e in m.group(1).split(",") if e.strip()}

    def force(self, args, builder):
        self.client.command(f"force build {args}")
        m = self.client.wait_msg(rf"^Force build requested: #(\d+) of `{builder}`\.")
        return int(m.group(1))

    def test_notify_settings_and_build_numbers_survive_sigterm(self):
        c = self.client
        first = c.mark()
        self.start_herald()
        self.assertEqual(self.notify_list(), {"started", "finished"},
                         "notify_events from the config is the initial set")

        c.command("notify on failure")
        m = c.wait_msg(LIST_RX)
        self.assertEqual(self.events(m), {"started", "finished", "failure"})
        c.command("notify off started")
        m = c.wait_msg(LIST_RX)
        expected = {"finished", "failure"}
        self.assertEqual(self.events(m), expected)
        self.assertEqual(self.notify_list(), expected)

        c.command("notify on nosuchevent")
        c.wait_msg(r"^Unknown event `nosuchevent`\. Valid events: ")

        since = c.mark()
        n1 = self.force("quick before restart", "quick")
        self.assertEqual(n1, 1)
        c.wait_msg(rf"^Build #{n1} of `quick` completed successfully", since=since)
        c.pump(0.5)
        self.assertEqual(c.msgs_matching(r"^Build #\d+ of `quick` started", since=since), [],
                         "`started` was announced after `notify off started`")

        rc = self.herald.stop()
        self.assertEqual(rc, 0, "herald should exit 0 after SIGTERM")

        self.start_herald()
        self.assertEqual(self.notify_list(), expected,
                         "notify subscriptions were not kept across a restart")

        since = c.mark()
        n2 = self.force("quick after restart", "quick")
        self.assertEqual(n2, n1 + 1, "build numbers must continue after a restart")
        c.wait_msg(rf"^Build #{n2} of `quick` completed successfully", since=since)
        c.pump(0.5)
        self.assertEqual(c.msgs_matching(r"^Build #\d+ of `quick` started", since=since), [])

        c.command("last quick")
        c.wait_msg(rf"^Last build of `quick`: #{n2} completed successfully")
        self.assert_no_duplicate_announcements(c, since=first)

    def test_build_interrupted_by_crash_is_an_exception(self):
        c = self.client
        first = c.mark()
        self.start_herald()
        since = c.mark()
        n = self.force("--props=seconds=30 slow crash during this", "slow")
        c.wait_msg(rf"^Build #{n} of `slow` started", since=since)
        c.pump(0.5)

        self.herald.kill()  # SIGKILL: no chance to clean up
        since = c.mark()
        self.start_herald()
        c.wait_msg(rf"^Build #{n} of `slow` stopped with exception", since=since, timeout=20)

        c.command("status slow")
        c.wait_msg(rf"^`slow`: idle, last build #{n} .*ago, stopped with exception")

        since = c.mark()
        n2 = self.force("--props=seconds=1 slow after the crash", "slow")
        self.assertEqual(n2, n + 1)
        c.wait_msg(rf"^Build #{n2} of `slow` completed successfully", since=since, timeout=15)
        c.pump(0.5)
        self.assert_no_duplicate_announcements(c, since=first)

    def test_sigterm_during_build_is_orderly(self):
        c = self.client
        first = c.mark()
        self.start_herald()
        since = c.mark()
        n = self.force("--props=seconds=30 slow shut down during this", "slow")
        c.wait_msg(rf"^Build #{n} of `slow` started", since=since)

        rc = self.herald.stop()  # fails if herald needs more than 10 s
        self.assertEqual(rc, 0, "herald should exit 0 after SIGTERM")
        # the step did not outlive herald
        work = os.path.join(self.herald.data_dir, "work", "slow")
        self.assertEqual(procs_in(work), [], "a build step outlived herald's shutdown")

        since = c.mark()
        self.start_herald()
        # however the build ended, it ended: not running, and reported once
        c.command("status slow")
        c.wait_msg(rf"^`slow`: idle, last build #{n} ")
        since = c.mark()
        n2 = self.force("--props=seconds=1 slow after the shutdown", "slow")
        self.assertEqual(n2, n + 1)
        c.wait_msg(rf"^Build #{n2} of `slow` completed successfully", since=since, timeout=15)
        c.pump(0.5)
        finished = c.msgs_matching(
            rf"^Build #{n} of `slow` (completed|failed|was cancelled|stopped with exception)",
            since=first)
        self.assertLessEqual(len(finished), 1, "the interrupted build was announced twice")
        self.assert_no_duplicate_announcements(c, since=first)



if __name__ == "__main__":
    unittest.main(verbosity=2)
