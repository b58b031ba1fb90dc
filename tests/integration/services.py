"""InspIRCd 3 + Anope 2.0 for herald's integration tests: a real network with
SASL, NickServ accounts and IRCv3 (account-tag, account-notify, extended-join,
server-time, batch, echo-message, multi-prefix).

Standard library only; run with Debian's /usr/bin/python3.

Environment:
  INSPIRCD   path to inspircd (default: looked up in PATH, /usr/sbin, /sbin)
  ANOPE      path to anope (default: the same)
  HERALD_KEEP_TMP=1   keep the temporary folders for inspection

A missing server is a failure, never a skip (scripts/install-deps installs
both: `apt-get install inspircd anope`).
"""

import base64
import os
import re
import shutil
import signal
import subprocess
import time

from fixtures import (Herald, IrcClient, free_port, log_tail, make_tmpdir, stop_process,
                      remove_tmpdir, wait_port)

SERVER_NAME = "irc.test"
SERVICES_NAME = "services.test"
LINK_PASSWORD = "mypassword"  # what Debian's /etc/anope/services.conf ships with
ANOPE_CONF_SRC = "/etc/anope"
ANOPE_MODULES = "/usr/lib/anope"
ANOPE_LOCALE = "/usr/share/anope/locale"


def _find(env, name):
    path = os.environ.get(env, "")
    if path and not path.endswith("-NOTFOUND"):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise AssertionError(f"{env}={path!r} is not an executable file")
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not found:
        raise AssertionError(f"{name} not found: install it (apt-get install inspircd "
                             f"anope, or scripts/install-deps) or set {env}")
    return found


def inspircd_bin():
    return _find("INSPIRCD", "inspircd")


def anope_bin():
    return _find("ANOPE", "anope")


class InspircdAnope:
    """One InspIRCd and one Anope linked to it, each in the foreground on free
    ports, in one temp folder.

    port:       clients (default fakelag unless fakelag=False)
    fast_port:  a second client port whose connect class is unthrottled
                (commandrate 100000, no fakelag, a high penalty threshold),
                for test helpers that must not be slowed down; present when
                fast_port=True
    link_port:  the services link
    """

    def __init__(self, fakelag=True, fast_port=False, extra_conf=""):
        self.fakelag = fakelag
        self.port = free_port()
        self.link_port = free_port()
        self.fast_port = free_port() if fast_port else None
        self.extra_conf = extra_conf
        self.dir = make_tmpdir("herald-inspircd-")
        self.conf = os.path.join(self.dir, "inspircd.conf")
        self.log = os.path.join(self.dir, "inspircd.log")      # InspIRCd's own log
        self.out = os.path.join(self.dir, "inspircd.out")      # its stdout/stderr
        self.anope_conf = os.path.join(self.dir, "anope-conf")
        self.anope_db = os.path.join(self.dir, "anope-db")
        self.anope_logdir = os.path.join(self.dir, "anope-log")
        self.anope_out = os.path.join(self.dir, "anope.out")
        self.ircd = None
        self.anope = None
        self._write_inspircd_conf()
        self._write_anope_conf()

    # -- configuration -------------------------------------------------------

    def _write_inspircd_conf(self):
        # commandrate: penalty (ms) forgiven per second; threshold: seconds of
        # penalty before a client is lagged, or with fakelag="no" thrown out
        # ("Excess Flood"), so an unthrottled class needs a high threshold too
        unthrottled = 'commandrate="100000" fakelag="no" threshold="100000"'
        common = ('timeout="60" pingfreq="120" hardsendq="1048576" softsendq="65536" '
                  'localmax="1000" globalmax="1000" resolvehostnames="no" useident="no"')
        binds = f'<bind address="127.0.0.1" port="{self.port}" type="clients">\n'
        connects = ""
        if self.fast_port:
            binds += f'<bind address="127.0.0.1" port="{self.fast_port}" type="clients">\n'
            # the first matching class wins: the fast port's first
            connects += (f'<connect name="fast" allow="*" port="{self.fast_port}" '
                         f'{common} {unthrottled}>\n')
        connects += (f'<connect name="main" allow="*" port="{self.port}" {common}'
                     + ("" if self.fakelag else " " + unthrottled) + ">\n")
        with open(self.conf, "w") as f:
            f.write(f"""<server name="{SERVER_NAME}" description="herald test server" network="HeraldTest" id="1HT">
<admin name="herald tests" nick="admin" email="nobody@irc.test">
{binds}<bind address="127.0.0.1" port="{self.link_port}" type="servers">
{connects}<options casemapping="ascii">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{self.log}">
<module name="cap">
<module name="ircv3">
<module name="ircv3_accounttag">
<module name="ircv3_servertime">
<module name="ircv3_echomessage">
<module name="ircv3_capnotify">
<module name="ircv3_batch">
<module name="namesx">
<module name="services_account">
<module name="sasl">
<module name="spanningtree">
# Anope's inspircd3 protocol module drops the link without hidechans
<module name="hidechans">
<sasl target="{SERVICES_NAME}" requiressl="no">
<link name="{SERVICES_NAME}" ipaddr="127.0.0.1" port="{self.link_port}" allowmask="127.0.0.0/8" sendpass="{LINK_PASSWORD}" recvpass="{LINK_PASSWORD}">
<uline server="{SERVICES_NAME}" silent="yes">
{self.extra_conf}
""")

    @staticmethod
    def _edit(path, replacements):
        with open(path) as f:
            text = f.read()
        for old, new in replacements:
            if old not in text:
                raise AssertionError(f"{path}: expected {old!r} in Debian's shipped file")
            text = text.replace(old, new, 1)
        with open(path, "w") as f:
            f.write(text)

    def _write_anope_conf(self):
        if not os.path.isdir(ANOPE_CONF_SRC):
            raise AssertionError(f"{ANOPE_CONF_SRC} is missing: apt-get install anope")
        os.mkdir(self.anope_conf)
        for name in os.listdir(ANOPE_CONF_SRC):
            src = os.path.join(ANOPE_CONF_SRC, name)
            if os.path.isfile(src):
                shutil.copy(src, self.anope_conf)
        for d in (self.anope_db, self.anope_logdir):
            os.mkdir(d)
        # Debian's files are set up for inspircd3 on 127.0.0.1:7000
        self._edit(os.path.join(self.anope_conf, "services.conf"), [
            ("port = 7000", f"port = {self.link_port}"),                      # uplink
            ('name = "services.example.com"', f'name = "{SERVICES_NAME}"'),   # serverinfo
            ('pid = "/var/run/anope/anope.pid"',
             f'pid = "{os.path.join(self.dir, "anope.pid")}"'),
            ("usemail = yes", "usemail = no"),
        ])
        # every test client comes from 127.0.0.1: no session limit (default 3 per IP)
        self._edit(os.path.join(self.anope_conf, "operserv.conf"), [
            ("defaultsessionlimit = 3", "defaultsessionlimit = 1000"),
            ("maxsessionlimit = 100", "maxsessionlimit = 1000"),
        ])
        self._edit(os.path.join(self.anope_conf, "nickserv.conf"), [
            ("forceemail = yes", "forceemail = no"),
            ("regdelay = 30s", "regdelay = 0s"),
        ])

    # -- processes -----------------------------------------------------------

    def start(self, timeout=20.0):
        inspircd, anope = inspircd_bin(), anope_bin()
        with open(self.out, "ab") as out:
            self.ircd = subprocess.Popen(
                [inspircd, f"--config={self.conf}", "--nofork", "--nopid", "--runasroot"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True)
        try:
            wait_port(self.port, 10, self.ircd)
        except AssertionError:
            self.stop()
            raise AssertionError("inspircd did not start:\n" + log_tail(self.out)
                                 + "\n" + log_tail(self.log))
        with open(self.anope_out, "ab") as out:
            self.anope = subprocess.Popen(
                [anope, f"--confdir={self.anope_conf}", f"--dbdir={self.anope_db}",
                 f"--logdir={self.anope_logdir}", f"--modulesdir={ANOPE_MODULES}",
                 f"--localedir={ANOPE_LOCALE}", "--nofork"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True)
        try:
            self.wait_linked(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def client_port(self):
        """The port helpers use: the unthrottled one when there is one."""
        return self.fast_port or self.port

    def wait_linked(self, timeout=20.0):
        """Poll until NickServ answers `HELP`: Anope linked and burst."""
        probe = IrcClient("probe")
        probe.SEND_INTERVAL = 0.0
        deadline = time.monotonic() + timeout
        try:
            probe.connect(self.client_port(), "linkprobe", timeout=10)
            while True:
                if self.anope.poll() is not None:
                    raise AssertionError(f"anope exited with {self.anope.returncode}:\n"
                                         + log_tail(self.anope_out))
                since = probe.mark()
                probe.send_raw("PRIVMSG NickServ :HELP", pace=False)
                try:
                    probe.wait_line(lambda m: m.command == "NOTICE"
                                    and m.nick.lower() == "nickserv", 1.0, since=since,
                                    what="a NOTICE from NickServ")
                    return
                except AssertionError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"anope did not link within {timeout} s:\n"
                        + log_tail(self.anope_out) + "\n--- inspircd ---\n"
                        + log_tail(self.log))
                probe.pump(0.3)
        finally:
            probe.close()

    def register(self, nick, password, timeout=10.0):
        """Register NickServ account `nick` (password `password`) from a raw
        client that then quits."""
        c = IrcClient(f"register-{nick}")
        c.SEND_INTERVAL = 0.0
        try:
            c.connect(self.client_port(), nick)
            since = c.mark()
            c.send_raw(f"PRIVMSG NickServ :REGISTER {password} {nick}@example.test")
            m = c.wait_line(lambda m: m.command == "NOTICE" and m.nick.lower() == "nickserv",
                            timeout, since=since, what=f"NickServ's answer to REGISTER {nick}")
            if not re.match(rf"^Nickname {re.escape(nick)} registered", m.text, re.I):
                raise AssertionError(f"REGISTER {nick} failed: {m.raw}")
            return m.text
        finally:
            c.close()

    def stop(self, sig=signal.SIGKILL):
        for p in (self.anope, self.ircd):
            stop_process(p, sig)

    def cleanup(self):
        self.stop()
        remove_tmpdir(self.dir)

    def log_tail(self, lines=40):
        return ("--- inspircd.log ---\n" + log_tail(self.log, lines)
                + "\n--- inspircd stdout ---\n" + log_tail(self.out, 10)
                + "\n--- anope stdout ---\n" + log_tail(self.anope_out, lines))

    def log_text(self):
        out = []
        for path in (self.log, self.out, self.anope_out):
            try:
                with open(path, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(out)


class IrcV3Client(IrcClient):
    """IrcClient that can log in with SASL PLAIN while it registers, and sees
    IRCv3 tags (kept in Message.raw)."""

    def connect_sasl(self, port, nick, account, password, timeout=10.0):
        start = self.open_socket(port, nick)
        self.send_raw("CAP REQ :sasl", pace=False)
        self.send_raw(f"NICK {nick}", pace=False)
        self.send_raw(f"USER {nick} 0 * :herald test {nick}", pace=False)
        self.wait_line(lambda m: m.command == "CAP" and len(m.params) >= 2
                       and m.params[1] == "ACK", timeout, since=start, what="CAP ACK sasl")
        self.send_raw("AUTHENTICATE PLAIN", pace=False)
        self.wait_line(lambda m: m.command == "AUTHENTICATE", timeout, since=start,
                       what="AUTHENTICATE +")
        blob = base64.b64encode(f"{account}\0{account}\0{password}".encode()).decode()
        self.send_raw(f"AUTHENTICATE {blob}", pace=False)
        m = self.wait_line(lambda m: m.command in ("903", "904", "905", "906"), timeout,
                           since=start, what="SASL result")
        if m.command != "903":
            raise AssertionError(f"[{self.name}] SASL failed: {m.raw}")
        self.send_raw("CAP END", pace=False)
        self.wait_line(lambda m: m.command == "001", timeout, since=start, what="001 welcome")
        self.pos = len(self.lines)
        return self


def whois_account(client, nick, timeout=10.0):
    """The account `nick` is logged in as according to WHOIS (330), or None."""
    since = client.mark()
    client.send_raw(f"WHOIS {nick}")
    found = None
    end = client.wait_line(lambda m: m.command in ("318", "401"), timeout, since=since,
                           what=f"end of WHOIS {nick}")
    for m in client.lines[since:]:
        if m.command == "330" and len(m.params) >= 3 and m.params[1].lower() == nick.lower():
            found = m.params[2]
        if m is end:
            break
    return found


class TracedHerald(Herald):
    """herald at --log-level trace: every line it writes and reads is in its
    log (secrets redacted by herald), with a timestamp."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log_level = "trace"
