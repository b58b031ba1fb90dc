"""Shared fixtures for herald's integration tests: real ngircd, real herald.

Standard library only. Run with Debian's /usr/bin/python3.

Environment:
  HERALD_BIN   path to the herald binary (required; tests fail without it)
  NGIRCD       path to ngircd (default: looked up in PATH, /usr/sbin, /sbin)
  HERALD_KEEP_TMP=1   keep the temporary folders for inspection
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# --------------------------------------------------------------------------
# Environment lookups: a missing server or binary is a failure, never a skip.
# --------------------------------------------------------------------------


def herald_bin():
    path = os.environ.get("HERALD_BIN", "")
    if not path:
        raise AssertionError(
            "HERALD_BIN is not set; run through ctest or set it to build/herald")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(f"HERALD_BIN={path!r} is not an executable file")
    return path


def ngircd_bin():
    path = os.environ.get("NGIRCD", "")
    if path and not path.endswith("-NOTFOUND"):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise AssertionError(f"NGIRCD={path!r} is not an executable file")
    found = shutil.which("ngircd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not found:
        raise AssertionError("ngircd not found: install it (apt-get install ngircd) "
                             "or set NGIRCD")
    return found


def free_port():
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=5.0, proc=None):
    """Poll until 127.0.0.1:port accepts a connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before "
                                 f"port {port} accepted")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.01)
    raise AssertionError(f"port {port} did not accept within {timeout} s")


def stop_process(p, sig=signal.SIGKILL, timeout=10):
    """Signal a child we started and reap it; SIGKILL if `sig` is not enough.
    Returns False when it had to SIGKILL."""
    if p is None or p.poll() is not None:
        return True
    try:
        os.kill(p.pid, sig)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(5)
        return False


def make_self_signed(folder, name="cert", cn="localhost",
                     san="DNS:localhost,IP:127.0.0.1"):
    """A self-signed P-256 certificate, by default for localhost and 127.0.0.1 (IP SAN);
    it is its own CA: use it as the CA file. Readable by all (ngircd drops to
    `nobody` when started as root). Returns (cert, key)."""
    cert = os.path.join(folder, name + ".pem")
    key = os.path.join(folder, name + "-key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=" + cn, "-addext", "subjectAltName=" + san,
         "-keyout", key, "-out", cert],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if r.returncode != 0:
        raise AssertionError("openssl could not make a certificate:\n"
                             + r.stdout.decode("utf-8", "replace"))
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)
    return cert, key


def make_tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    # ngircd drops to `nobody` when started as root; let it read its files.
    os.chmod(d, 0o755)
    return d


def remove_tmpdir(d):
    if os.environ.get("HERALD_KEEP_TMP"):
        sys.stderr.write(f"[fixtures] keeping {d}\n")
        return
    shutil.rmtree(d, ignore_errors=True)


def log_tail(path, lines=60):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def kill_strays(root):
    """Kill processes whose working directory is inside `root`.

    Build steps run in <data_dir>/work/<builder>; when a test SIGKILLs herald
    its children live on. They are ours, so clean them up.
    """
    root = os.path.realpath(root)
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + "/"):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def procs_in(root, settle=3.0):
    """PIDs whose cwd is inside root, after waiting up to `settle` s for none."""
    root = os.path.realpath(root)
    deadline = time.monotonic() + settle
    while True:
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            if cwd == root or cwd.startswith(root + "/"):
                found.append(int(pid))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


# --------------------------------------------------------------------------
# ngircd
# --------------------------------------------------------------------------

class Ngircd:
    """One ngircd in the foreground on a free port, in its own temp folder."""

    def __init__(self, port=None, extra_conf="", listen="127.0.0.1"):
        """extra_conf: more config text appended to ngircd.conf (e.g. an
        [SSL] section); listen: the addresses to listen on."""
        self.port = port or free_port()
        self.extra_conf = extra_conf
        self.listen = listen
        self.dir = make_tmpdir("herald-ngircd-")
        self.include_dir = os.path.join(self.dir, "conf.d")
        os.mkdir(self.include_dir)
        os.chmod(self.include_dir, 0o755)
        self.conf = os.path.join(self.dir, "ngircd.conf")
        self.log = os.path.join(self.dir, "ngircd.log")
        self.proc = None
        self._write_conf()

    def _write_conf(self):
        with open(self.conf, "w") as f:
            f.write(f"""[Global]
Name = irc.test
Info = herald integration test server
AdminInfo1 = herald tests
AdminInfo2 = localhost
AdminEMail = nobody@irc.test
Listen = {self.listen}
Ports = {self.port}

[Limits]
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30

[Options]
DNS = no
Ident = no
PAM = no
IncludeDir = {self.include_dir}
""")
            if self.extra_conf:
                f.write("\n" + self.extra_conf + "\n")
        os.chmod(self.conf, 0o644)

    def start(self, timeout=5.0):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        logf = open(self.log, "ab")
        logf.write(f"\n===== ngircd start {time.strftime('%H:%M:%S')} port {self.port}\n"
                   .encode())
        logf.flush()
        self.proc = subprocess.Popen(
            [ngircd_bin(), "-n", "-f", self.conf],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            cwd=self.dir, start_new_session=True)
        logf.close()
        try:
            wait_port(self.port, timeout, self.proc)
        except AssertionError:
            self.stop()
            raise AssertionError(f"ngircd did not start on port {self.port}:\n"
                                 + log_tail(self.log))
        return self

    def stop(self, sig=signal.SIGKILL):
        stop_process(self.proc, sig)

    def kill(self):
        self.stop(signal.SIGKILL)

    def restart(self, delay=0.0):
        self.stop()
        if delay:
            time.sleep(delay)
        return self.start()

    def cleanup(self):
        self.stop()
        remove_tmpdir(self.dir)

    def log_tail(self, lines=40):
        return log_tail(self.log, lines)


# --------------------------------------------------------------------------
# herald
# --------------------------------------------------------------------------

DEFAULT_BUILDERS = r'''
[[builder]]
name = "quick"
  [[builder.step]]
  name = "hello"
  command = ["sh", "-c", "echo hello"]

[[builder]]
name = "broken"
  [[builder.step]]
  name = "compile"
  command = "echo oops >&2; exit 2"

[[builder]]
name = "slow"
  [[builder.step]]
  name = "sleep"
  command = "sleep ${HERALD_PROP_SECONDS:-30}"

[[builder]]
name = "echo"
  [[builder.step]]
  name = "record"
  command = "printf '%s' \"$HERALD_PROP_X\" > \"$HERALD_PROP_OUT\""
'''

BUILDER_NAMES = ["quick", "broken", "slow", "echo"]


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items):
    return "[" + ", ".join(toml_str(i) for i in items) + "]"


def herald_config(irc_port, data_dir, channels=("#builds",),
                  notify_events=("started", "finished"), force=("alice",),
                  stop=("alice",), shutdown=(), builders=DEFAULT_BUILDERS,
                  extra_irc="", nick="herald", extra_authz="", extra_herald=""):
    return f"""[herald]
title = "Test CI"
url = "http://ci.test/"
data_dir = {toml_str(data_dir)}
{extra_herald}

[irc]
host = "127.0.0.1"
port = {irc_port}
nick = {toml_str(nick)}
channels = {toml_list(channels)}
notify_events = {toml_list(notify_events)}
lost_delay = [0.2, 0.5]
failed_delay = [0.5, 1.0]
flood_burst = 4
flood_rate = 2.0
{extra_irc}
[authz]
force = {toml_list(force)}
stop = {toml_list(stop)}
shutdown = {toml_list(shutdown)}
{extra_authz}
{builders}"""


class Herald:
    """The real herald binary with a config in its own temp folder.

    The data dir survives stop()/start(), so restart tests see the same state.
    """

    def __init__(self, irc_port, **config_args):
        self.bin = herald_bin()
        self.dir = make_tmpdir("herald-run-")
        self.data_dir = os.path.join(self.dir, "var")
        self.conf = os.path.join(self.dir, "herald.toml")
        self.log = os.path.join(self.dir, "herald.log")
        self.proc = None
        self.starts = 0
        self.log_level = "debug"
        self.write_config(herald_config(irc_port, self.data_dir, **config_args))

    def write_config(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        logf = open(self.log, "ab")
        logf.write(f"\n===== herald start #{self.starts} {time.strftime('%H:%M:%S')}\n"
                   .encode())
        logf.flush()
        self.proc = subprocess.Popen(
            [self.bin, "run", "--config", self.conf, "--log-level", self.log_level],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            cwd=self.dir, start_new_session=True)
        logf.close()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM and wait; returns the exit code. SIGKILL if it hangs."""
        p = self.proc
        if p is None:
            return None
        if not stop_process(p, signal.SIGTERM, timeout):
            raise AssertionError(f"herald did not exit within {timeout} s of SIGTERM")
        return p.returncode

    def kill(self):
        """SIGKILL herald only (its build children survive, like a crash)."""
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)

    def cleanup(self):
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                self.stop(5)
            except AssertionError:
                pass
        if p is not None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
        kill_strays(self.dir)
        remove_tmpdir(self.dir)

    def log_tail(self, lines=80):
        return log_tail(self.log, lines)


# --------------------------------------------------------------------------
# A raw IRC test client
# --------------------------------------------------------------------------

FORMATTING = re.compile(r"\x03(\d{1,2}(,\d{1,2})?)?|[\x02\x0f\x16\x1d\x1f\x1e\x11]")


def strip_formatting(text):
    return FORMATTING.sub("", text)


BURST_SEPARATOR = " \u00b7 "


class Message:
    """One parsed IRC line."""

    __slots__ = ("raw", "prefix", "nick", "command", "params", "time")

    def __init__(self, raw):
        self.raw = raw
        self.time = time.monotonic()
        rest = raw
        if rest.startswith("@"):  # IRCv3 tags: ignore
            rest = rest.split(" ", 1)[1] if " " in rest else ""
        self.prefix = ""
        if rest.startswith(":"):
            self.prefix, _, rest = rest[1:].partition(" ")
        self.nick = self.prefix.split("!", 1)[0]
        trailing = None
        if " :" in rest:
            rest, trailing = rest.split(" :", 1)
        elif rest.startswith(":"):
            rest, trailing = "", rest[1:]
        parts = rest.split()
        self.command = parts[0].upper() if parts else ""
        self.params = parts[1:]
        if trailing is not None:
            self.params.append(trailing)

    @property
    def target(self):
        return self.params[0] if self.params else ""

    @property
    def text(self):
        """PRIVMSG/NOTICE text without colours and bold."""
        return strip_formatting(self.params[-1]) if self.params else ""

    def __repr__(self):
        return f"<{self.raw}>"


class IrcClient:
    """A minimal, paced IRC client for tests.

    Every received line is kept in `lines` (parsed `Message`s) in order, so a
    test can assert on the whole history. `mark()` remembers a position; the
    `wait_*` helpers look at lines after the current mark (or `since`).
    """

    SEND_INTERVAL = 0.35  # ngircd throttles; pace our own sends

    def __init__(self, name="client"):
        self.name = name
        self.sock = None
        self.nick = None
        self.buf = b""
        self.lines = []
        self.bursts = []  # lines that carried several notifications
        self.pos = 0
        self._last_send = 0.0
        self.connected = False

    # -- connection ---------------------------------------------------------

    def open_socket(self, port, nick):
        """The TCP connection alone; returns the history position before it."""
        self.nick = nick
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.connected = True
        return len(self.lines)

    def connect(self, port, nick, timeout=10.0):
        start = self.open_socket(port, nick)
        self.send_raw(f"NICK {nick}", pace=False)
        self.send_raw(f"USER {nick} 0 * :herald test {nick}", pace=False)
        self.wait_line(lambda m: m.command == "001", timeout, since=start,
                       what="001 welcome")
        self.pos = len(self.lines)
        return self

    def close(self):
        if self.sock is not None:
            try:
                if self.connected:
                    self.sock.setblocking(True)
                    self.sock.settimeout(0.5)
                    self.sock.sendall(b"QUIT :bye\r\n")
            except OSError:
                pass
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.connected = False

    # -- sending ------------------------------------------------------------

    def send_raw(self, line, pace=True):
        if pace:
            wait = self._last_send + self.SEND_INTERVAL - time.monotonic()
            while wait > 0:  # keep reading (and answering PINGs) while pacing
                self._pump(wait)
                wait = self._last_send + self.SEND_INTERVAL - time.monotonic()
        # bytes go out as they are (tests of invalid UTF-8); str as UTF-8
        data = line + b"\r\n" if isinstance(line, bytes) else (line + "\r\n").encode()
        self.sock.setblocking(True)
        try:
            self.sock.settimeout(5)
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)
        self._last_send = time.monotonic()

    def mark(self):
        """Only lines received from now on count for the next waits."""
        self.pos = len(self.lines)
        return self.pos

    def say(self, target, text):
        """PRIVMSG; marks the history position first."""
        self.mark()
        self.send_raw(f"PRIVMSG {target} :{text}")
        return self.pos

    def command(self, text, channel="#builds", nick="herald", sep=":"):
        """Address herald in a channel: `herald: text`."""
        return self.say(channel, f"{nick}{sep} {text}")

    def join(self, chan, timeout=10.0):
        since = self.mark()
        self.send_raw(f"JOIN {chan}")
        self.wait_line(lambda m: m.command == "366" and len(m.params) > 1
                       and m.params[1].lower() == chan.lower(),
                       timeout, since=since, what=f"366 for {chan}")

    # -- receiving ----------------------------------------------------------

    def _pump(self, timeout):
        """Read what is available within `timeout`; answer PINGs. Returns
        True when at least one line arrived."""
        if not self.connected:
            time.sleep(max(0.0, min(timeout, 0.05)))
            return False
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self.connected = False
            return False
        self.buf += data
        got = False
        while b"\n" in self.buf:
            raw, self.buf = self.buf.split(b"\n", 1)
            raw = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not raw:
                continue
            msg = Message(raw)
            # herald may sum up a burst of notifications on one line, joined
            # by " · ": each part counts as its own message, as a reader sees it.
            if msg.command in ("PRIVMSG", "NOTICE") and len(msg.params) == 2 \
                    and BURST_SEPARATOR in msg.params[1]:
                head = raw[:len(raw) - len(msg.params[1])]
                for part in msg.params[1].split(BURST_SEPARATOR):
                    self.lines.append(Message(head + part))
                self.bursts.append(msg)
            else:
                self.lines.append(msg)
            got = True
            if msg.command == "PING":
                try:
                    self.sock.setblocking(True)
                    self.sock.settimeout(5)
                    self.sock.sendall(("PONG :" + (msg.params[-1] if msg.params else "")
                                       + "\r\n").encode())
                    self.sock.setblocking(False)
                except OSError:
                    self.connected = False
        return got

    def pump(self, duration):
        """Keep reading for `duration` seconds."""
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._pump(left)

    def wait_line(self, pred, timeout=10.0, since=None, what="line"):
        """The first Message after `since` (default: the mark) with pred(m)."""
        i = self.pos if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            while i < len(self.lines):
                m = self.lines[i]
                i += 1
                if pred(m):
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not self.connected and not self.buf:
                time.sleep(min(left, 0.05))
                if not self.connected:
                    break
            self._pump(min(left, 0.5))
        raise AssertionError(
            f"[{self.name}] timed out after {timeout} s waiting for {what}; "
            f"connected={self.connected}; lines since mark:\n  "
            + "\n  ".join(m.raw for m in self.lines[(self.pos if since is None else since):][-40:]))

    def wait_for(self, regex, timeout=10.0, since=None):
        """re.search on raw lines; returns the match."""
        rx = re.compile(regex)
        box = []

        def pred(m):
            mt = rx.search(m.raw)
            if mt:
                box.append(mt)
            return bool(mt)
        self.wait_line(pred, timeout, since, what=f"/{regex}/")
        return box[0]

    def _msg_pred(self, rx, target, sender, box):
        def pred(m):
            if m.command not in ("PRIVMSG", "NOTICE"):
                return False
            if sender is not None and m.nick.lower() != sender.lower():
                return False
            if target is not None and m.target.lower() != target.lower():
                return False
            mt = rx.search(m.text)
            if mt:
                box.append(mt)
            return bool(mt)
        return pred

    def wait_msg(self, regex, target="#builds", sender="herald", timeout=10.0, since=None):
        """Wait for a PRIVMSG/NOTICE from `sender` to `target` whose text
        (formatting stripped) matches `regex` (re.search). Returns the match."""
        rx = re.compile(regex)
        box = []
        self.wait_line(self._msg_pred(rx, target, sender, box), timeout, since,
                       what=f"message from {sender} to {target} matching /{regex}/")
        return box[0]

    def wait_private(self, regex, sender="herald", timeout=10.0, since=None):
        return self.wait_msg(regex, target=self.nick, sender=sender, timeout=timeout,
                             since=since)

    def lines_matching(self, regex, since=0):
        """Raw-line matches after `since` (default: all history)."""
        rx = re.compile(regex)
        return [mt for mt in (rx.search(m.raw) for m in self.lines[since:]) if mt]

    def msgs_matching(self, regex, target="#builds", sender="herald", since=0):
        """Text matches of PRIVMSG/NOTICE lines after `since` (default: all)."""
        rx = re.compile(regex)
        out = []
        for m in self.lines[since:]:
            box = []
            if self._msg_pred(rx, target, sender, box)(m):
                out.append(box[0])
        return out

    def wait_join(self, nick, chan, timeout=15.0, since=0):
        """Wait until `nick` is in `chan`: a JOIN we saw, or in NAMES (353)."""
        def pred(m):
            if m.command == "JOIN" and m.nick.lower() == nick.lower() \
                    and m.params and m.params[0].lower() == chan.lower():
                return True
            if m.command == "353" and len(m.params) >= 4 and m.params[2].lower() == chan.lower():
                names = [n.lstrip("@+%&~") .lower() for n in m.params[3].split()]
                return nick.lower() in names
            return False
        return self.wait_line(pred, timeout, since, what=f"{nick} in {chan}")



# --------------------------------------------------------------------------
# A TCP gate: herald's view of "the server is up" that the test controls
# --------------------------------------------------------------------------

class TcpGate:
    """Forwards 127.0.0.1:port to 127.0.0.1:target while open.

    Closed, nothing listens on `port` (connections are refused, as when the
    server is down) and every forwarded connection is cut. Tests use it to
    let herald back in only after their own client is in the channel.
    """

    def __init__(self, target, port=None):
        self.target = target
        self.port = port or free_port()
        self.listener = None
        self.conns = []
        self.lock = threading.Lock()

    def open(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(16)
        self.listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()
        return self

    def _accept(self, ls):
        while True:
            try:
                down, _ = ls.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                up.settimeout(None)
            except OSError:
                down.close()
                continue
            for s in (down, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.conns += [down, up]
            threading.Thread(target=self._pipe, args=(down, up), daemon=True).start()
            threading.Thread(target=self._pipe, args=(up, down), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    cleanup = close


# --------------------------------------------------------------------------
# Test case base: cleanup + logs on failure
# --------------------------------------------------------------------------

ANNOUNCE_RX = (r"^Build #(\d+) of `([^`]+)` (started|completed successfully|"
               r"completed with warnings|failed|was cancelled|stopped with exception|"
               r"was skipped|has been retried)")


class HeraldTestCase(unittest.TestCase):
    """Base class. Subclasses put processes in `cls.heralds` / `cls.servers`
    (class fixtures) or self.* via addCleanup; logs are printed on failure."""

    heralds = ()
    servers = ()

    @classmethod
    def dump_logs(cls, extra=()):
        out = sys.stderr
        for h in list(cls.heralds) + [x for x in extra if isinstance(x, Herald)]:
            out.write(f"\n----- herald log tail ({h.log}) -----\n{h.log_tail()}\n")
        for s in list(cls.servers) + [x for x in extra if isinstance(x, Ngircd)]:
            out.write(f"\n----- ngircd log tail ({s.log}) -----\n{s.log_tail()}\n")
        out.flush()

    def _failed(self):
        """Did this test fail so far? (works inside tearDown on 3.9 - 3.12)"""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        result = getattr(outcome, "result", None)
        if result is not None:
            for t, _ in list(result.failures) + list(result.errors):
                if t is self:
                    return True
        # Python < 3.11 keeps errors in outcome.errors until the test ends
        for t, exc in getattr(outcome, "errors", []) or []:
            if exc is not None:
                return True
        return False

    def tearDown(self):
        if self._failed():
            self.dump_logs(getattr(self, "local_fixtures", ()))
        super().tearDown()

    # -- helpers shared by tests ----------------------------------------

    @classmethod
    def setup_stack(cls, channels=("#builds",), client_nick="alice", gate=False,
                    **herald_args):
        """Class fixture: ngircd, a client `alice` in the channels, and herald
        (started, joined). Sets cls.ngircd, cls.herald, cls.client; all of it
        is cleaned up after the class even when something fails. With
        gate=True herald reaches ngircd through cls.gate (a TcpGate)."""
        herald_bin()  # fail fast, before starting anything
        cls.ngircd = Ngircd()
        cls.addClassCleanup(cls.ngircd.cleanup)
        cls.servers = [cls.ngircd]
        cls.heralds = []
        cls.ngircd.start()
        cls.client = IrcClient(client_nick)
        cls.addClassCleanup(cls.client.close)
        cls.client.connect(cls.ngircd.port, client_nick)
        for ch in channels:
            cls.client.join(ch)
        herald_port = cls.ngircd.port
        cls.gate = None
        if gate:
            cls.gate = TcpGate(cls.ngircd.port)
            cls.addClassCleanup(cls.gate.close)
            cls.gate.open()
            herald_port = cls.gate.port
        cls.herald = Herald(herald_port, channels=channels, **herald_args)
        cls.addClassCleanup(cls.herald.cleanup)
        cls.heralds = [cls.herald]
        try:
            start_herald_and_wait(cls.herald, cls.client, channels)
        except BaseException:
            cls.dump_logs()
            raise

    def assert_no_duplicate_announcements(self, client, target="#builds", since=0):
        counts = {}
        for mt in client.msgs_matching(ANNOUNCE_RX, target=target, since=since):
            key = (mt.group(1), mt.group(2), mt.group(3))
            counts[key] = counts.get(key, 0) + 1
        for mt in client.msgs_matching(r"^Force build requested: #(\d+) of `([^`]+)`",
                                       target=target, since=since):
            key = (mt.group(1), mt.group(2), "requested")
            counts[key] = counts.get(key, 0) + 1
        dups = {k: v for k, v in counts.items() if v > 1}
        self.assertEqual(dups, {}, f"announcements received more than once: {dups}")
        return counts


def start_herald_and_wait(herald, client, channels=("#builds",), timeout=20.0):
    """Start herald and wait until it has joined every channel."""
    since = len(client.lines)
    herald.start()
    for ch in channels:
        try:
            client.wait_join("herald", ch, timeout, since=since)
        except AssertionError:
            if not herald.running():
                raise AssertionError(
                    f"herald exited with {herald.proc.returncode}:\n{herald.log_tail()}")
            raise
    client.mark()
