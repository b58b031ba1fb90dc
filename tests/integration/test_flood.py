"""herald against InspIRCd's default fakelag: 200 notifications to 5 channels.

InspIRCd's default connect class lets a client run about 10 commands at once
and then one per second ("fakelag": it stops reading the client's socket
until the penalty has decayed); a client whose unread lines exceed the recvq
is disconnected. herald must get all 200 notifications through on one
connection (summarize_bursts joins several into a line), never be thrown out,
and go about as fast as the server lets it. To know how fast that is, a plain
client floods the same server the same way at the same time, and the test
prints both rates.
"""

import re
import socket
import sys
import threading
import time
import unittest
from datetime import datetime

from fixtures import HeraldTestCase, IrcClient, herald_bin, start_herald_and_wait
from services import InspircdAnope, TracedHerald

CHANNELS = [f"#flood{i}" for i in range(1, 6)]
BUILDS = 40
FINISHED = "Build #{} of `quick` completed successfully."
PART_RX = re.compile(r"Build #(\d+) of `quick` completed successfully\.")
SEP = " \u00b7 "


def log_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def steady_rate(times, skip):
    """Lines per second after the first `skip` lines (the burst the server or
    the bucket allows at once): (n - 1) intervals over their span."""
    t = sorted(times)[skip:]
    if len(t) < 3 or t[-1] <= t[0]:
        return None, len(t)
    return (len(t) - 1) / (t[-1] - t[0]), len(t)


def fmt(rate):
    return "?" if rate is None else f"{rate:.3f}"


def pct(a, b):
    return "?" if a is None or not b else f"{100 * a / b:.0f}%"


class PlainFlooder(threading.Thread):
    """A plain client on herald's (fakelagged) port that sends `count` lines of
    `size` bytes round robin to the channels as fast as the server takes them,
    with at most `window` lines not yet processed (echo-message tells it), the
    way herald keeps its unconfirmed bytes small. Records when each echo came
    back: that is when the server accepted the line."""

    def __init__(self, port, nick, channels, count=30, size=450, window=4):
        super().__init__(daemon=True)
        self.port, self.nick, self.channels = port, nick, channels
        self.count, self.size, self.window = count, size, window
        self.echo_times = []
        self.error = None
        self.quit_seen = False
        self.go = threading.Event()

    def connect(self):
        c = IrcClient(self.nick)
        c.SEND_INTERVAL = 0.0
        self.client = c
        c.nick = self.nick
        c.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        c.sock.setblocking(False)
        c.connected = True
        c.send_raw("CAP REQ :echo-message", pace=False)
        c.send_raw(f"NICK {self.nick}", pace=False)
        c.send_raw(f"USER {self.nick} 0 * :plain flooder", pace=False)
        c.wait_line(lambda m: m.command == "CAP", 10, since=0, what="CAP ACK")
        c.send_raw("CAP END", pace=False)
        c.wait_line(lambda m: m.command == "001", 10, since=0, what="001")
        c.send_raw("JOIN " + ",".join(self.channels), pace=False)
        c.wait_line(lambda m: m.command == "366" and m.params[1] == self.channels[-1], 10,
                    since=0, what="366")
        # the JOINs' penalty must decay first: start with a full allowance
        self.ready_at = time.monotonic() + 3.0
        c.mark()

    def run(self):
        try:
            self.go.wait(60)
            c = self.client
            c.pump(max(0.0, self.ready_at - time.monotonic()))
            c.mark()
            sent = 0
            filler = "x" * self.size
            while len(self.echo_times) < self.count and c.connected:
                while sent < self.count and sent - len(self.echo_times) < self.window:
                    ch = self.channels[sent % len(self.channels)]
                    c.send_raw(f"PRIVMSG {ch} :plain {sent} {filler}"[:self.size], pace=False)
                    sent += 1
                before = len(c.lines)
                c._pump(1.0)
                for m in c.lines[before:]:
                    if m.command == "PRIVMSG" and m.nick == self.nick:
                        self.echo_times.append(m.time)
                    if m.command in ("ERROR", "KILL"):
                        self.quit_seen = True
        except Exception as e:  # reported by the test
            self.error = e


class TestFloodDefaultFakelag(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        herald_bin()
        cls.net = InspircdAnope(fast_port=True)  # herald: fakelag; helpers: fast port
        cls.addClassCleanup(cls.net.cleanup)
        cls.net.start()
        cls.watcher = IrcClient("watcher")
        cls.watcher.SEND_INTERVAL = 0.0
        cls.addClassCleanup(cls.watcher.close)
        cls.watcher.connect(cls.net.client_port(), "watcher")
        for ch in CHANNELS:
            cls.watcher.join(ch)
        cls.alice = IrcClient("alice")
        cls.alice.SEND_INTERVAL = 0.0
        cls.addClassCleanup(cls.alice.close)
        cls.alice.connect(cls.net.client_port(), "alice")
        cls.flooder = PlainFlooder(cls.net.port, "plain", CHANNELS)
        cls.flooder.connect()
        cls.addClassCleanup(cls.flooder.client.close)
        cls.herald = TracedHerald(
            cls.net.port, channels=CHANNELS, notify_events=("finished",), force=("alice",),
            extra_irc="summarize_bursts = true\n")
        cls.addClassCleanup(cls.herald.cleanup)
        cls.heralds = [cls.herald]
        with open(cls.herald.conf) as f:
            text = f.read()
        assert text.count("flood_burst = 4\n") == 1 and text.count("flood_rate = 2.0\n") == 1
        text = text.replace("flood_rate = 2.0\n", "flood_rate = 1.0\n", 1)
        # no links in messages: shorter notifications, about 10 to a line
        assert text.count('url = "http://ci.test/"\n') == 1
        text = text.replace('url = "http://ci.test/"\n', "", 1)
        cls.herald.write_config(text)
        try:
            start_herald_and_wait(cls.herald, cls.watcher, CHANNELS)
        except BaseException:
            cls.dump_logs()
            raise

    @classmethod
    def dump_logs(cls, extra=()):
        super().dump_logs(extra)
        sys.stderr.write(f"\n----- inspircd + anope ({cls.net.dir}) -----\n"
                         f"{cls.net.log_tail()}\n")

    def herald_wire(self):
        """(wall time, line) for every line herald wrote, from its trace log."""
        out = []
        rx = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) trace irc -> (.*)$")
        for line in log_text(self.herald.log).splitlines():
            m = rx.match(line)
            if m:
                t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
                out.append((t, m.group(2)))
        return out

    def test_200_notifications_on_default_fakelag(self):
        w, a, h = self.watcher, self.alice, self.herald
        flooder = self.flooder
        flooder.start()
        t0 = time.monotonic()
        wall0 = time.time()
        w_start, a_start = w.mark(), a.mark()
        w_bursts = len(w.bursts)

        # 40 forces, privately, from a client on the unthrottled port
        for _ in range(BUILDS):
            a.send_raw("PRIVMSG herald :force build quick", pace=False)
            a._pump(0.02)
        forced = time.monotonic() - t0
        flooder.go.set()  # the plain client floods while herald does

        def parts():
            got = {}
            for m in w.lines[w_start:]:
                if m.command in ("PRIVMSG", "NOTICE") and m.nick == "herald":
                    for n in PART_RX.findall(m.text):
                        got.setdefault((int(n), m.target.lower()), []).append(m.time)
            return got

        deadline = t0 + 100
        while time.monotonic() < deadline:
            w.pump(0.5)
            a.pump(0.05)
            if len(parts()) >= BUILDS * len(CHANNELS):
                break
        w.pump(1.5)  # duplicates or a QUIT would show up now
        a.pump(0.1)
        flooder.join(30)
        elapsed = time.monotonic() - t0

        got = parts()
        lines = [m for m in w.lines[w_start:]
                 if m.command in ("PRIVMSG", "NOTICE") and m.nick == "herald"]
        # IrcClient splits a combined line into its parts (in `lines`) and keeps
        # the line itself in `bursts`
        combined = w.bursts[w_bursts:]
        want_n = BUILDS * len(CHANNELS)
        # delivery rates
        plain_rate, _ = steady_rate(flooder.echo_times, 10)
        wire = [(t, l) for t, l in self.herald_wire() if t >= wall0 - 0.5]
        busy = [t for t, l in wire if l.startswith(("PRIVMSG", "NOTICE", "PING"))]
        herald_rate, herald_n = steady_rate(busy, 4)
        wire_lines = len(lines) - sum(len(m.text.split(SEP)) - 1 for m in combined)
        reply_times = [m.time for m in a.lines[a_start:]
                       if m.command == "PRIVMSG" and m.nick == "herald"]
        useful_rate, _ = steady_rate(
            [t for t, l in wire if l.startswith(("PRIVMSG", "NOTICE"))], 4)
        pings = sum(1 for t, l in wire if l.startswith("PING :herald-mark-"))
        summary = (f"\n[flood] {BUILDS} builds x {len(CHANNELS)} channels = {want_n} "
                   f"notifications ({len(got)} arrived) in {wire_lines} channel lines "
                   f"({len(combined)} combined), {len(reply_times)} force replies, "
                   f"{pings} PING markers; forcing took {forced:.1f} s, all delivered "
                   f"{elapsed:.1f} s after the first force\n"
                   f"[flood] server's allowed rate (plain client, {flooder.count} lines "
                   f"of {flooder.size} B, {len(flooder.echo_times)} accepted, steady part): "
                   f"{fmt(plain_rate)} lines/s\n"
                   f"[flood] herald on the wire (PRIVMSG+PING, steady part, {herald_n} "
                   f"lines): {fmt(herald_rate)} lines/s = {pct(herald_rate, plain_rate)} "
                   f"of the server's; PRIVMSGs only: {fmt(useful_rate)} lines/s = "
                   f"{pct(useful_rate, plain_rate)}\n")
        print(summary)
        self.assertIsNone(flooder.error, f"the plain client failed: {flooder.error}")
        self.assertFalse(flooder.quit_seen, "the plain client was thrown out")
        self.assertEqual(len(flooder.echo_times), flooder.count)
        # every (build, channel) exactly once
        requested = [int(mt.group(1)) for mt in a.msgs_matching(
            r"^Force build requested: #(\d+) of `quick`\.", target="alice", since=a_start)]
        self.assertEqual(len(requested), BUILDS, "force replies")
        want = {(n, ch) for n in requested for ch in CHANNELS}
        missing = sorted(want - set(got))
        dups = {k: len(v) for k, v in got.items() if len(v) > 1}
        self.assertEqual(missing, [], f"{len(missing)} of {len(want)} notifications missing")
        self.assertEqual(dups, {}, "notifications delivered more than once")
        self.assertEqual(set(got), want)

        # the lines: whole notifications, several on a line joined by " · "
        self.assertTrue(combined, "no notifications were combined on one line")
        for m in lines + combined:
            for p in m.text.split(SEP):
                self.assertRegex(p, r"^Build #\d+ of `quick` completed successfully\.$",
                                 f"bad line {m.raw!r}")
        for m in combined:
            self.assertLessEqual(len(m.raw.encode()), 510)

        # never disconnected, never "Excess Flood"
        self.assertTrue(h.running())
        hlog = log_text(h.log)
        self.assertNotRegex(hlog, r"trace irc -> QUIT|trace irc <- ERROR|"
                            r"irc: (server closed|connection closed|reconnecting)")
        self.assertNotRegex(self.net.log_text(), r"(?i)excess flood|recvq exceeded|sendq exceeded")
        self.assertEqual([m.raw for m in w.lines[w_start:]
                          if m.nick == "herald" and m.command in ("QUIT", "PART")], [])
        self.assertEqual(hlog.count("irc: connected to"), 1)

        # the target: delivery (PRIVMSGs, not PING markers) within 10% of
        # the rate the server allows
        self.assertGreaterEqual(herald_rate, 0.9 * plain_rate,
                                "herald writes more than 10% slower than the server allows"
                                + summary)
        self.assertGreaterEqual(useful_rate, 0.9 * plain_rate,
                                "herald delivers more than 10% slower than the server allows"
                                + summary)


if __name__ == "__main__":
    unittest.main(verbosity=2)
