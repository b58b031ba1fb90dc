"""herald's IRC client against a real ngircd: a taken nick, CTCP, hostile
input, and flood control. (TLS is in test_tls.py.)

Every class starts its own ngircd and herald, so the classes do not depend on
each other or on the order they run in.
"""

import re
import time
import unittest

from fixtures import (Herald, HeraldTestCase, IrcClient, Ngircd, herald_bin, log_tail,
                      start_herald_and_wait)

VERSION_RX = r"^herald \S+$"  # the reply to `version`


def herald_lines(client, sender="herald"):
    return [m for m in client.lines if m.nick.lower() == sender.lower()]


def lines_with_cr(client):
    """Lines the client received whose text still holds a raw CR: the client
    splits on LF and strips one trailing CR, so any CR left was inside."""
    return [m.raw for m in client.lines if "\r" in m.raw]


def log_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


# --------------------------------------------------------------------------
# Nick in use, and getting it back
# --------------------------------------------------------------------------

class TestNickInUse(HeraldTestCase):

    def setUp(self):
        herald_bin()
        self.ngircd = Ngircd()
        self.addCleanup(self.ngircd.cleanup)
        self.ngircd.start()
        self.client = IrcClient("alice")
        self.addCleanup(self.client.close)
        self.client.connect(self.ngircd.port, "alice")
        self.client.join("#builds")
        self.squatter = IrcClient("squatter")
        self.addCleanup(self.squatter.close)
        self.squatter.connect(self.ngircd.port, "herald")
        self.herald = Herald(self.ngircd.port, extra_irc="reclaim_nick_interval = 1\n")
        self.addCleanup(self.herald.cleanup)
        self.local_fixtures = [self.herald, self.ngircd]

    def test_fallback_nick_then_reclaim(self):
        c, h = self.client, self.herald
        since = c.mark()
        h.start()
        m = c.wait_line(lambda m: m.command == "JOIN" and m.nick.lower().startswith("herald")
                        and m.nick.lower() != "herald", 20, since=since,
                        what="herald joining under a fallback nick")
        alt = m.nick
        self.assertTrue(h.running())

        # it answers to its fallback nick
        since = c.command("version", nick=alt)
        c.wait_msg(VERSION_RX, sender=alt, since=since)
        # privately too
        since = c.say(alt, "version")
        c.wait_private(VERSION_RX, sender=alt, since=since)

        # the squatter leaves; herald takes its nick back within a few seconds
        self.squatter.close()
        t0 = time.monotonic()
        since = c.mark()
        m = c.wait_line(lambda m: m.command == "NICK" and m.nick.lower() == alt.lower()
                        and m.params and m.params[-1].lower() == "herald",
                        8, since=since, what=f"NICK {alt} -> herald")
        took = m.time - t0
        self.assertLess(took, 5.0, f"reclaiming the nick took {took:.1f} s")

        since = c.command("version")
        c.wait_msg(VERSION_RX, sender="herald", since=since)
        self.assertTrue(h.running())


# --------------------------------------------------------------------------
# CTCP VERSION
# --------------------------------------------------------------------------

class TestCtcpVersion(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.setup_stack()

    def test_ctcp_version_reply(self):
        c = self.client
        since = c.say("herald", "\x01VERSION\x01")
        m = c.wait_line(lambda m: m.command == "NOTICE" and m.nick == "herald"
                        and m.target == "alice", 10, since=since,
                        what="a NOTICE from herald")
        self.assertRegex(m.params[-1], r"^\x01VERSION herald \S+\x01$")
        # a CTCP request is never answered with a PRIVMSG
        c.pump(0.5)
        self.assertEqual([x.raw for x in c.lines[since:]
                          if x.command == "PRIVMSG" and x.nick == "herald"], [])


# --------------------------------------------------------------------------
# Garbage and hostile input
# --------------------------------------------------------------------------

class TestHostileInput(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.setup_stack()

    def first_reply(self, since, target="#builds"):
        """herald's first PRIVMSG to `target` after `since`."""
        return self.client.wait_line(
            lambda m: m.command == "PRIVMSG" and m.nick == "herald"
            and m.target.lower() == target.lower(), 20, since=since,
            what=f"a reply from herald in {target}")

    # An echoed word is cut at 40 characters, never inside a UTF-8 sequence.
    def test_echoed_word_stays_valid_utf8(self):
        since = self.client.command("a" + "\u00e9" * 30)  # 61 bytes, valid UTF-8
        m = self.first_reply(since)
        self.assertRegex(m.text, r"^Unknown command")
        # the client decodes with errors="replace": U+FFFD marks invalid bytes
        self.assertNotIn("\ufffd", m.raw, "herald sent invalid UTF-8")

    # IRC formatting (bold, colour) around a command word is not part of it.
    def test_formatting_codes_in_a_command_are_ignored(self):
        since = self.client.command("\x02status\x02 \x0304quick\x03")
        m = self.first_reply(since)
        self.assertRegex(m.text, r"^`quick`: ")

    def test_garbage_and_hostile_input(self):
        c, h = self.client, self.herald
        start = c.mark()

        def both(text_channel, text_private):
            """Send to #builds (addressed) and privately."""
            c.send_raw(b"PRIVMSG #builds :" + text_channel)
            c.send_raw(b"PRIVMSG herald :" + text_private)

        # invalid UTF-8
        both(b"herald: \xff\xfe\xc3(", b"\xff\xfe\xc3(")
        both(b"herald: status \xff\xfe\xc3(", b"status \xc3(\xff")
        # lines of about 500 bytes (the server's limit is 512 with CRLF)
        long_word = b"q" * (510 - len(b"PRIVMSG #builds :herald: status "))
        both(b"herald: status " + long_word, b"status " + long_word)
        both(b"herald: " + b"x" * 470, b"y" * 480)
        # a CTCP flood, to the channel and privately, in one burst: 12 lines,
        # 6 of them VERSION requests
        flood = b""
        kinds = [b"\x01PING x\x01", b"\x01VERSION\x01", b"\x01FOO\x01", b"\x01VERSION\x01"]
        for i in range(12):
            ctcp = kinds[i % 4]
            target = b"#builds" if (i // 4) % 2 else b"herald"
            flood += b"PRIVMSG " + target + b" :" + ctcp + b"\r\n"
        c.send_raw(flood.rstrip(b"\r\n"))
        # formatting control characters inside a command
        both(b"herald: \x02status\x02 \x0304quick\x03", b"\x02status\x02 \x0304,01quick")
        both(b"herald: st\x03atus\x16 quick\x1f\x0f", b"ver\x02sion")
        # an unterminated quote
        since_quote = c.mark()
        both(b'herald: force build "unterminated', b'force build "unterminated')
        c.wait_msg(r"^Cannot read that command: unclosed double quote",
                   since=since_quote, timeout=15)
        c.wait_private(r"^Cannot read that command: unclosed double quote",
                       since=since_quote, timeout=15)
        # shell syntax is only text
        both(b"herald: status quick$(id)", b"status quick$(id) `id`")

        # herald still answers, in the channel and privately
        since = c.command("version")
        c.wait_msg(VERSION_RX, since=since, timeout=30)
        since = c.say("herald", "version")
        c.wait_private(VERSION_RX, since=since, timeout=30)
        c.pump(0.5)
        self.assertTrue(h.running(), f"herald died:\n{h.log_tail()}")

        mine = herald_lines(c)
        self.assertEqual(lines_with_cr(c), [], "a line with a raw CR inside arrived")
        # nothing ran `id`
        self.assertEqual([m.raw for m in mine if re.search(r"uid=\d+", m.raw)], [])
        # no build was started by any of it
        self.assertEqual(c.msgs_matching(r"^Force build requested", since=start), [])
        # herald did not leave the channel or the server
        self.assertEqual([m.raw for m in c.lines[start:]
                          if m.nick == "herald" and m.command in ("QUIT", "PART")], [])
        # the CTCP flood got a few VERSION replies (herald allows two, then
        # one per 5 s), never one per request
        ctcp_replies = [m for m in c.lines[start:]
                        if m.nick == "herald" and m.command == "NOTICE"
                        and m.params[-1].startswith("\x01")]
        self.assertLessEqual(len(ctcp_replies), 3, "herald answered the CTCP flood "
                             f"line for line: {[m.raw for m in ctcp_replies]}")
        for m in ctcp_replies:
            self.assertRegex(m.params[-1], r"^\x01VERSION herald \S+\x01$")
            self.assertEqual(m.target, "alice")
        # no reply went over the server's line limit
        too_long = [m.raw for m in mine if len(m.raw.encode()) > 510]
        self.assertEqual(too_long, [])
        log = log_text(h.log)
        self.assertNotRegex(log, r"(?i)callback threw|critical|Excess Flood")


# --------------------------------------------------------------------------
# Flood control with the default pacing
# --------------------------------------------------------------------------

class TestFloodControl(HeraldTestCase):
    """flood_burst = 4 and flood_rate = 1.0 (the defaults): twelve replies
    must all arrive, paced, and ngircd must not throw herald out."""

    BURST = 4
    RATE = 1.0
    N = 12

    @classmethod
    def setUpClass(cls):
        herald_bin()
        cls.ngircd = Ngircd()
        cls.addClassCleanup(cls.ngircd.cleanup)
        cls.servers = [cls.ngircd]
        cls.ngircd.start()
        cls.client = IrcClient("alice")
        cls.addClassCleanup(cls.client.close)
        cls.client.connect(cls.ngircd.port, "alice")
        cls.client.join("#builds")
        cls.herald = Herald(cls.ngircd.port)
        cls.addClassCleanup(cls.herald.cleanup)
        cls.heralds = [cls.herald]
        with open(cls.herald.conf) as f:
            text = f.read()
        assert "flood_burst = 4\n" in text and "flood_rate = 2.0\n" in text
        text = text.replace("flood_burst = 4\n", f"flood_burst = {cls.BURST}\n", 1)
        text = text.replace("flood_rate = 2.0\n", f"flood_rate = {cls.RATE}\n", 1)
        cls.herald.write_config(text)
        start_herald_and_wait(cls.herald, cls.client)

    def test_twelve_replies_paced_not_dropped(self):
        c, h = self.client, self.herald
        c.pump(2.0)  # herald is idle after its JOIN: its bucket refills
        start = c.mark()
        sent_first = time.monotonic()
        for _ in range(self.N):
            c.send_raw("PRIVMSG herald :version")  # paced by the client (0.35 s)
        sent_last = time.monotonic()

        def replies():
            return [m for m in c.lines[start:]
                    if m.nick == "herald" and m.command == "PRIVMSG"
                    and m.target == "alice" and re.search(VERSION_RX, m.text)]

        deadline = time.monotonic() + 30
        while len(replies()) < self.N and time.monotonic() < deadline and c.connected:
            c.pump(0.5)
        c.pump(0.5)  # anything extra, or a QUIT, would show up now
        got = replies()
        times = [m.time - got[0].time for m in got] if got else []
        self.assertEqual(len(got), self.N, f"replies arrived: {len(got)} of {self.N}")
        timing = (f"client sent over {sent_last - sent_first:.2f} s; reply offsets: "
                  + ", ".join(f"{t:.2f}" for t in times))
        # no Excess Flood: herald did not quit the channel and nobody logged it
        quits = [m.raw for m in c.lines[start:] if m.nick == "herald" and m.command == "QUIT"]
        self.assertEqual(quits, [], "herald was disconnected")
        self.assertNotRegex(log_text(h.log), r"(?i)excess flood")
        self.assertNotRegex(log_text(self.ngircd.log), r"(?i)excess flood")
        self.assertTrue(h.running())
        # The bucket allows BURST lines at once and RATE per second after that:
        # from the first reply to the last (N - 1 more lines, at most BURST - 1
        # tokens left) takes at least (N - BURST) / RATE s. Allow 2 s for the
        # server's own buffering.
        need = (self.N - self.BURST) / self.RATE - 2.0
        self.assertGreaterEqual(times[-1], need,
                                f"replies came faster than the flood bucket allows; {timing}")
        # and not starved either: each reply costs at most two tokens (the
        # reply and herald's delivery-marker PING)
        self.assertLess(times[-1], 2 * self.N / self.RATE + 2, timing)
        print(f"\n[flood] {timing}")


class TestMessageShapes(HeraldTestCase):
    """notice_on_channel and use_colors: announcements go out as NOTICE with
    the result word coloured, replies stay PRIVMSG. (Stripping colours for a
    +c channel needs a server with that mode; ngircd has none.)"""

    @classmethod
    def setUpClass(cls):
        cls.setup_stack(extra_irc="notice_on_channel = true\nuse_colors = true\n")

    def test_notice_and_colours(self):
        c = self.client
        since = c.command("version")
        reply = c.wait_line(lambda m: m.nick == "herald" and m.command in ("PRIVMSG", "NOTICE")
                            and m.target == "#builds", since=since, what="reply")
        self.assertEqual(reply.command, "PRIVMSG", "a reply must be a PRIVMSG")
        since = c.command("force build broken shapes")
        line = c.wait_line(lambda m: m.nick == "herald" and m.target == "#builds"
                           and m.text.startswith("Build #") and "failed" in m.text,
                           timeout=15, since=since, what="the announcement")
        self.assertEqual(line.command, "NOTICE", "announcements go out as NOTICE")
        self.assertIn("\x0304failed\x0f", line.params[-1], "use_colors: the result word is red")


class TestIpv6(HeraldTestCase):
    """herald reaches a server over IPv6 (`host = "::1"`)."""

    def test_connects_over_ipv6(self):
        ngircd = Ngircd(listen="::1,127.0.0.1")
        self.addCleanup(ngircd.cleanup)
        ngircd.start()
        client = IrcClient("alice")
        self.addCleanup(client.close)
        client.connect(ngircd.port, "alice")
        client.join("#builds")
        herald = Herald(ngircd.port)
        self.addCleanup(herald.cleanup)
        self.local_fixtures = [herald, ngircd]
        with open(herald.conf) as f:
            text = f.read()
        herald.write_config(text.replace('host = "127.0.0.1"', 'host = "::1"', 1))
        start_herald_and_wait(herald, client)
        self.assertRegex(log_tail(herald.log, 400), r"connected to ::1")
        since = client.command("version")
        client.wait_msg(r"^herald ", since=since)


if __name__ == "__main__":
    unittest.main(verbosity=2)
