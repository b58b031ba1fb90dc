"""herald on a network with services: InspIRCd 3 + Anope 2.0 (services.py).

- SASL PLAIN logs herald in to its NickServ account; a wrong password with
  sasl_required = true keeps it off the network, without leaking the password.
- NickServ IDENTIFY as the fallback when SASL is not used.
- Authorization by services account: `account:alice` lets alice force builds,
  and nobody who merely takes the nick `alice` (after alice left, or after she
  changed nick) can; refusals are in the audit table.

Each class starts its own InspIRCd + Anope pair (about 4 s) and registers the
accounts it needs.
"""

import base64
import os
import sqlite3
import sys
import time
import unittest

from fixtures import (Herald, HeraldTestCase, IrcClient, herald_bin,
                      start_herald_and_wait)
from services import InspircdAnope, IrcV3Client, whois_account

HERALD_PW = "h3rald-Secret-pw"
ALICE_PW = "al1ce-Secret-pw"
WRONG_PW = "wr0ng-Secret-pw"
REFUSED = r"^Sorry, you are not allowed to use `force`\.$"
REQUESTED = r"^Force build requested: #(\d+) of `quick`\.$"


def log_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def sasl_irc(password, required=True):
    return (f'sasl_mechanism = "plain"\nsasl_password = "{password}"\n'
            f'sasl_required = {"true" if required else "false"}\n')


def secret_forms(password, user="herald"):
    """The password, and the base64 SASL PLAIN blobs that carry it."""
    forms = [password]
    for authz in (user, ""):
        forms.append(base64.b64encode(f"{authz}\0{user}\0{password}".encode()).decode())
    return forms


class ServicesTestCase(HeraldTestCase):
    """Base: one InspIRCd + Anope per class, logs dumped on failure."""

    @classmethod
    def start_network(cls, accounts=()):
        herald_bin()  # fail fast, before starting anything
        # blockcolor: channel mode +c, for the colour-stripping test
        cls.net = InspircdAnope(fast_port=True, extra_conf='<module name="blockcolor">')
        cls.addClassCleanup(cls.net.cleanup)
        cls.net.start()
        for nick, pw in accounts:
            cls.net.register(nick, pw)

    @classmethod
    def dump_logs(cls, extra=()):
        super().dump_logs(extra)
        net = getattr(cls, "net", None)
        if net is not None:
            sys.stderr.write(f"\n----- inspircd + anope ({net.dir}) -----\n{net.log_tail()}\n")

    def client(self, nick, channels=("#builds",), sasl_password=None, name=None):
        """A test client on the unthrottled port, in `channels`."""
        c = IrcV3Client(name or nick)
        c.SEND_INTERVAL = 0.05
        self.addCleanup(c.close)
        if sasl_password:
            c.connect_sasl(self.net.client_port(), nick, nick, sasl_password)
        else:
            c.connect(self.net.client_port(), nick)
        for ch in channels:
            c.join(ch)
        return c

    def wait_account(self, watcher, nick, account, timeout=8.0):
        """Poll WHOIS until `nick` is logged in as `account`."""
        deadline = time.monotonic() + timeout
        while True:
            got = whois_account(watcher, nick)
            if got == account or time.monotonic() > deadline:
                return got
            watcher.pump(0.5)


# --------------------------------------------------------------------------
# SASL PLAIN and authorization by account
# --------------------------------------------------------------------------

class TestSaslAndAccounts(ServicesTestCase):
    """herald logs in with SASL PLAIN; `force` is for account alice only."""

    @classmethod
    def setUpClass(cls):
        cls.start_network(accounts=[("herald", HERALD_PW), ("alice", ALICE_PW)])
        cls.watcher = IrcClient("watcher")
        cls.watcher.SEND_INTERVAL = 0.05
        cls.addClassCleanup(cls.watcher.close)
        cls.watcher.connect(cls.net.client_port(), "watcher")
        cls.watcher.join("#builds")
        cls.herald = Herald(cls.net.port, force=("account:alice",), stop=(),
                            extra_irc=sasl_irc(HERALD_PW))
        cls.addClassCleanup(cls.herald.cleanup)
        cls.heralds = [cls.herald]
        try:
            start_herald_and_wait(cls.herald, cls.watcher)
        except BaseException:
            cls.dump_logs()
            raise

    def audit_rows(self):
        db = os.path.join(self.herald.data_dir, "herald.db")
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT command, nick, account, mask, place, text, outcome "
                               "FROM audit ORDER BY id").fetchall()
        finally:
            con.close()

    def wait_audit(self, pred, what, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            rows = self.audit_rows()
            hits = [r for r in rows if pred(r)]
            if hits or time.monotonic() > deadline:
                self.assertTrue(hits, f"no audit row for {what}; rows: {rows}")
                return hits
            time.sleep(0.2)

    def force_ok(self, c):
        since = c.command("force build quick")
        n = c.wait_msg(REQUESTED, since=since).group(1)
        c.wait_msg(rf"^Build #{n} of `quick` completed successfully", since=since, timeout=15)
        # the watcher reads only when asked: let it catch up
        self.watcher.wait_msg(rf"^Build #{n} of `quick` completed successfully", since=0)
        return n

    def mallory_is_refused(self, mallory):
        """mallory (as `alice`) forces in #builds: refused, and no build starts."""
        w_since = self.watcher.mark()
        since = mallory.command("force build quick")
        mallory.wait_msg(REFUSED, since=since)
        self.watcher.pump(1.5)  # a build would be announced by now
        for c, since in ((mallory, 0), (self.watcher, w_since)):
            started = c.msgs_matching(r"^(Force build requested|Build #\d+ of `quick` started)",
                                      since=since)
            self.assertEqual([m.group(0) for m in started], [],
                             f"a build started after the refusal ({c.name} saw it)")

    def test_1_sasl_plain_logs_herald_in(self):
        self.assertEqual(self.wait_account(self.watcher, "herald", "herald"), "herald",
                         "WHOIS herald shows no 330 'logged in as herald'")
        log = log_text(self.herald.log)
        self.assertRegex(log, r"SASL PLAIN authentication succeeded")
        for secret in secret_forms(HERALD_PW):
            self.assertNotIn(secret, log, "herald's log holds its SASL password")
        self.assertTrue(self.herald.running())

    def test_2_account_not_nick_after_alice_quits(self):
        w_since = self.watcher.mark()
        alice = self.client("alice", sasl_password=ALICE_PW)
        self.force_ok(alice)
        self.wait_audit(lambda r: r[0] == "force" and r[1] == "alice" and r[2] == "alice"
                        and r[6] == "ran", "alice's force")
        # alice leaves; mallory connects and takes her nick, without her password
        alice.close()
        self.watcher.wait_line(lambda m: m.command == "QUIT" and m.nick == "alice", 10,
                               since=w_since, what="alice's QUIT")
        w_since = self.watcher.mark()
        mallory = self.client("alice", name="mallory")
        self.assertIsNone(whois_account(self.watcher, "alice"), "mallory is logged in?")
        self.mallory_is_refused(mallory)
        self.wait_audit(lambda r: r[0] == "force" and r[1] == "alice" and r[2] == ""
                        and r[6] == "denied" and "@" in r[3], "mallory's refusal")
        self.assertRegex(log_text(self.herald.log),
                         r"denied `force` to alice!\S+ \(account -\)")
        mallory.close()

    def test_3_account_not_nick_after_alice_renames(self):
        alice = self.client("alice")
        since = alice.mark()
        alice.send_raw(f"PRIVMSG NickServ :IDENTIFY alice {ALICE_PW}")
        alice.wait_msg(r"(?i)password accepted", target="alice", sender="NickServ",
                       since=since)
        self.force_ok(alice)
        # alice becomes alice2 (still logged in); mallory takes `alice`
        since = alice.mark()
        alice.send_raw("NICK alice2")
        alice.wait_line(lambda m: m.command == "NICK" and m.nick == "alice", 10, since=since,
                        what="NICK alice -> alice2")
        alice.nick = "alice2"
        mallory = self.client("alice", name="mallory")
        self.mallory_is_refused(mallory)
        self.wait_audit(lambda r: r[0] == "force" and r[1] == "alice" and r[2] == ""
                        and r[6] == "denied", "mallory's refusal")
        # and the real alice, under her new nick, still may
        self.force_ok(alice)
        self.wait_audit(lambda r: r[0] == "force" and r[1] == "alice2" and r[2] == "alice"
                        and r[6] == "ran", "alice2's force")
        self.assertTrue(self.herald.running())


# --------------------------------------------------------------------------
# SASL failure, and NickServ IDENTIFY
# --------------------------------------------------------------------------

class TestSaslFailureAndNickServ(ServicesTestCase):

    @classmethod
    def setUpClass(cls):
        cls.start_network(accounts=[("herald", HERALD_PW)])
        cls.heralds = []

    def setUp(self):
        self.watcher = self.client("watcher")

    def new_herald(self, extra_irc):
        h = Herald(self.net.port, extra_irc=extra_irc)
        self.addCleanup(h.cleanup)
        self.local_fixtures = [h]
        return h

    def test_wrong_password_with_sasl_required_never_registers(self):
        h = self.new_herald(sasl_irc(WRONG_PW, required=True))
        since = self.watcher.mark()
        h.start()
        self.watcher.pump(6.0)
        joins = [m.raw for m in self.watcher.lines[since:] if m.command == "JOIN"]
        self.assertEqual(joins, [], "herald joined without its SASL login")
        self.assertIsNone(whois_account(self.watcher, "herald"))
        self.assertTrue(h.running(), f"herald exited:\n{h.log_tail()}")
        log = log_text(h.log)
        self.assertRegex(log, r"SASL PLAIN as herald failed")
        self.assertNotRegex(log, r"irc: registered as")
        for secret in secret_forms(WRONG_PW):
            self.assertNotIn(secret, log, "herald's log holds its SASL password")

    def test_nickserv_identify_fallback(self):
        h = self.new_herald(f'nickserv_password = "{HERALD_PW}"\n')
        start_herald_and_wait(h, self.watcher)
        self.assertEqual(self.wait_account(self.watcher, "herald", "herald"), "herald",
                         "herald did not end up identified to NickServ (no 330)")
        log = log_text(h.log)
        self.assertRegex(log, r"identifying to NickServ as herald")
        self.assertNotIn(HERALD_PW, log, "herald's log holds its NickServ password")

    def test_colours_are_stripped_for_a_plus_c_channel(self):
        """use_colors colours the result word, except in a channel with +c,
        where the server would refuse the line."""
        self.watcher.join("#plain")
        self.watcher.send_raw("MODE #plain +c")
        self.watcher.wait_line(lambda m: m.command == "MODE" and m.params[:2] == ["#plain", "+c"],
                               what="MODE +c")
        h = Herald(self.net.port, channels=("#builds", "#plain"), extra_irc="use_colors = true\n")
        self.addCleanup(h.cleanup)
        self.local_fixtures = [h]
        start_herald_and_wait(h, self.watcher, channels=("#builds", "#plain"))
        since = self.watcher.command("force build broken colours")  # only alice may force
        self.watcher.wait_msg(r"^Sorry, you are not allowed", since=since)
        alice = self.client("alice", channels=("#builds", "#plain"))
        since = alice.command("force build broken colours")
        coloured = alice.wait_line(lambda m: m.nick == "herald" and m.target == "#builds"
                                   and m.text.startswith("Build #") and "failed" in m.text,
                                   timeout=15, since=since, what="the announcement in #builds")
        self.assertIn("\x0304failed\x0f", coloured.params[-1])
        plain = alice.wait_line(lambda m: m.nick == "herald" and m.target == "#plain"
                                and m.text.startswith("Build #") and "failed" in m.text,
                                timeout=15, since=since, what="the announcement in #plain")
        self.assertNotIn("\x03", plain.params[-1], "colours sent to a +c channel")
        self.assertNotIn(" 404 ", log_text(h.log), "the server refused a line")


if __name__ == "__main__":
    unittest.main(verbosity=2)
