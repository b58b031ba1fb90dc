"""Real receivers for herald's push reporters: an HTTP recorder and an SMTP
server (aiosmtpd), each in its own process on a free loopback port, so a test
can stop, kill and restart them at the same port while herald keeps running.

Standard library only on the test side. The SMTP server runs under Debian's
/usr/bin/python3 (python3-aiosmtpd); set HERALD_SMTP_PYTHON to use another.

HttpRecorder
    Records every request (method, path, query, headers, body, time) as JSON
    lines in a file, so records survive restarts. How it answers is switched
    at run time through a control file it rereads on every request:
    ok, status, hang, garbage, close, huge; per path prefix (and method) or
    for everything; optionally for the next N requests only.

SmtpServer
    `python3 -m aiosmtpd` with a Maildir handler (plain, STARTTLS, SMTPS), or
    smtp_handlers.py's own runner when AUTH is wanted (the aiosmtpd CLI cannot
    take an authenticator). messages() parses the Maildir.

Both can be run by hand:
    /usr/bin/python3 receivers.py http --port 8080 --dir /tmp/rec
"""

import base64
import email
import email.policy
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

from fixtures import free_port, log_tail, make_self_signed, make_tmpdir, remove_tmpdir, stop_process

HERE = os.path.dirname(os.path.abspath(__file__))
SMTP_PYTHON = os.environ.get("HERALD_SMTP_PYTHON", "/usr/bin/python3")

HTTP_MODES = ("ok", "status", "hang", "garbage", "close", "huge")
GARBAGE = b"\x00\xff\xfeTHIS IS NOT HTTP\r\n\x1b[31mgarbage\r\n\r\n"


def _write_json_atomic(path, obj):
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def _read_json_lines(path):
    """Every complete JSON line of `path`; a torn last line (a killed writer)
    is skipped."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _wait(fetch, done, timeout, what):
    """Poll fetch() until done(result) or timeout; returns the result."""
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if done(got):
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                 f"have {len(got)}:\n  " + "\n  ".join(repr(g) for g in got[-20:]))
        time.sleep(0.02)




# ==========================================================================
# HTTP recorder
# ==========================================================================

class RecordedRequest:
    """One request as the recorder saw it."""

    def __init__(self, rec):
        self.raw = rec
        self.time = rec["time"]                 # epoch seconds (float)
        self.method = rec["method"]
        self.path = rec["path"]                 # without the query
        self.query = rec["query"]               # raw query string, "" if none
        self.headers = [tuple(h) for h in rec["headers"]]  # [(name, value)] in order
        self.body = base64.b64decode(rec["body_b64"])
        self.mode = rec["mode"]                 # how it was answered
        self.incomplete = rec.get("incomplete", False)  # body cut short by the client
        self.pid = rec.get("pid")               # recorder process (changes on restart)

    @property
    def target(self):
        return self.path + ("?" + self.query if self.query else "")

    @property
    def params(self):
        """The query as {name: [values]}."""
        return urllib.parse.parse_qs(self.query, keep_blank_values=True)

    def header(self, name, default=None):
        """The first header of that name (case-insensitive)."""
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default

    def header_all(self, name):
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def form(self):
        """An application/x-www-form-urlencoded body as {name: [values]}."""
        return urllib.parse.parse_qs(self.text, keep_blank_values=True)

    def __repr__(self):
        return f"<{self.method} {self.target} [{self.mode}] {len(self.body)} B>"


class _ServerProcess:
    """A receiver in a child process of its own, in its own temp dir (`dir`),
    logging to `log`; subclasses start it (`start()` sets `proc`). Stop, kill
    and restart keep the port and the dir, so records survive."""

    proc = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM and wait (the process ends at once; open connections drop)."""
        stop_process(self.proc, signal.SIGTERM)

    def kill(self):
        """SIGKILL and wait."""
        stop_process(self.proc, signal.SIGKILL)

    def restart(self, delay=0.0):
        """Kill and start again at the same port; what it recorded stays."""
        self.kill()
        if delay:
            time.sleep(delay)
        return self.start()

    def cleanup(self):
        self.kill()
        remove_tmpdir(self.dir)

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def log_tail(self, lines=40):
        return log_tail(self.log, lines)


class HttpRecorder(_ServerProcess):
    """A real HTTP/1.1 server in its own process; see the module docstring.

    Files in self.dir: requests.jsonl (records), control.json (modes),
    http.log (the server's stderr).
    """

    def __init__(self, port=None, start=False, tls=None):
        """tls: None (plain HTTP) or (cert, key) PEM files: HTTPS."""
        self.port = port or free_port()
        self.tls = tls
        self.dir = make_tmpdir("herald-http-")
        self.records = os.path.join(self.dir, "requests.jsonl")
        self.control = os.path.join(self.dir, "control.json")
        self.log = os.path.join(self.dir, "http.log")
        self.proc = None
        self._rules = []
        self._version = 0
        self._lock = threading.Lock()
        self._write_control()
        if start:
            self.start()

    # -- process ------------------------------------------------------------

    @property
    def url(self):
        """http(s)://127.0.0.1:PORT (no trailing slash)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout=5.0):
        assert not self.running(), "already running"
        logf = open(self.log, "ab")
        logf.write(f"\n===== http recorder start {time.strftime('%H:%M:%S')} "
                   f"port {self.port}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "http", "--port", str(self.port),
             "--dir", self.dir] + (["--cert", self.tls[0], "--key", self.tls[1]] if self.tls else []),
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            cwd=self.dir, start_new_session=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1"))
        logf.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout):
        # kill()/stop() reap the previous process first, so whoever accepts
        # on the port now is this one.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"http recorder exited with {self.proc.returncode}:\n"
                                     + self.log_tail())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.01)
        self.kill()
        raise AssertionError(f"http recorder did not listen on {self.port} within "
                             f"{timeout} s:\n" + self.log_tail())


    # -- behaviour ------------------------------------------------------------

    def _write_control(self):
        self._version += 1
        _write_json_atomic(self.control, {"version": self._version, "rules": self._rules})

    @staticmethod
    def _rule(mode, prefix, method, status, headers, body, times, delay, size, hang_max):
        if mode not in HTTP_MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {HTTP_MODES}")
        if mode == "status" and status is None:
            raise ValueError("mode 'status' needs status=N")
        rule = {"mode": mode, "prefix": prefix or "", "method": method.upper() if method else None}
        if status is not None:
            rule["status"] = int(status)
        if headers:
            rule["headers"] = [[str(k), str(v)] for k, v in
                               (headers.items() if isinstance(headers, dict) else headers)]
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                rule.setdefault("headers", [])
                if not any(k.lower() == "content-type" for k, _ in rule["headers"]):
                    rule["headers"].append(["Content-Type", "application/json"])
            elif isinstance(body, str):
                body = body.encode()
            rule["body_b64"] = base64.b64encode(body).decode()
        if times is not None:
            rule["times"] = int(times)
        if delay:
            rule["delay"] = float(delay)
        if size is not None:
            rule["size"] = int(size)
        if hang_max is not None:
            rule["hang_max"] = float(hang_max)
        return rule

    def set_mode(self, mode="ok", prefix="", method=None, status=None, headers=None, body=None,
                 times=None, delay=0.0, size=None, hang_max=None):
        """How to answer requests whose path starts with `prefix` ("" = all)
        and, when given, whose method is `method`. Replaces the rules for that
        prefix and method. Takes effect on the next request, no restart.

        mode:   "ok"      status (default 200; 201, 204...) with `body`
                          (default {"ok": true} as JSON)
                "status"  status=N, with headers (e.g. {"Retry-After": "2"}) and
                          body (str, bytes, or dict/list sent as JSON)
                "hang"    read the request, never answer; hangs up when the
                          client does (or after hang_max s, default 300)
                "garbage" write non-HTTP bytes and close
                "close"   close without a byte
                "huge"    200 with a body of `size` bytes (default 10 MiB)
        times:  the rule serves the next N matching requests only, then the
                next rule applies (counted across restarts)
        delay:  seconds to wait before answering (any mode)

        Rules with longer prefixes win; among equal prefixes, the first one
        added that still has uses left. No rule: "ok".
        """
        rule = self._rule(mode, prefix, method, status, headers, body, times, delay, size, hang_max)
        with self._lock:
            self._rules = [r for r in self._rules
                           if (r["prefix"], r["method"]) != (rule["prefix"], rule["method"])]
            self._rules.append(rule)
            self._write_control()

    def add_mode(self, mode="ok", prefix="", method=None, status=None, headers=None, body=None,
                 times=None, delay=0.0, size=None, hang_max=None):
        """Like set_mode but keeps the rules already there: with `times`,
        builds sequences (e.g. 500 twice, then 429 once, then ok)."""
        rule = self._rule(mode, prefix, method, status, headers, body, times, delay, size, hang_max)
        with self._lock:
            self._rules.append(rule)
            self._write_control()

    def reset_modes(self):
        """Every request answered "ok" again."""
        with self._lock:
            self._rules = []
            self._write_control()

    # -- records --------------------------------------------------------------

    def requests(self, prefix=None, method=None):
        """Every recorded request in arrival order (all runs of the server),
        optionally only those under `prefix` / with `method`."""
        out = [RecordedRequest(r) for r in _read_json_lines(self.records)]
        if prefix is not None:
            out = [r for r in out if r.path.startswith(prefix)]
        if method is not None:
            out = [r for r in out if r.method == method.upper()]
        return out

    def clear(self):
        """Forget the records so far."""
        with open(self.records, "wb"):
            pass

    def wait_for(self, what=1, timeout=10.0, count=1):
        """Wait for requests; returns a list.

        wait_for(3)                    at least 3 requests in all: all of them
        wait_for(pred)                 a request with pred(r): the matching ones
        wait_for(pred, count=2)        at least 2 matching requests
        """
        if callable(what):
            return _wait(lambda: [r for r in self.requests() if what(r)],
                         lambda got: len(got) >= count, timeout,
                         f"{count} request(s) matching {getattr(what, '__name__', what)}")
        return _wait(self.requests, lambda got: len(got) >= what, timeout,
                     f"{what} request(s) at {self.url}")

    def no_request_within(self, seconds, pred=lambda r: True):
        """Assert that no (matching) request arrives within `seconds`."""
        before = len([r for r in self.requests() if pred(r)])
        time.sleep(seconds)
        after = [r for r in self.requests() if pred(r)]
        if len(after) != before:
            raise AssertionError(f"unexpected request(s): {after[before:]}")


# -- the server process -------------------------------------------------------

def _http_server_main(port, folder, tls=None):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    records = os.path.join(folder, "requests.jsonl")
    control = os.path.join(folder, "control.json")
    lock = threading.Lock()
    used = {}  # (control version, rule index) -> requests served

    # Uses of `times` rules survive restarts: count them from the records.
    for rec in _read_json_lines(records):
        if rec.get("rule") is not None:
            key = (rec.get("control"), rec["rule"])
            used[key] = used.get(key, 0) + 1

    def read_control():
        for _ in range(5):
            try:
                with open(control) as f:
                    return json.load(f)
            except (OSError, ValueError):
                time.sleep(0.01)
        return {"version": 0, "rules": []}

    def choose(method, path):
        """(rule index or None, rule, control version), counting the use."""
        ctl = read_control()
        version = ctl.get("version", 0)
        rules = ctl.get("rules", [])
        order = sorted(range(len(rules)), key=lambda i: (-len(rules[i]["prefix"]), i))
        with lock:
            for i in order:
                r = rules[i]
                if not path.startswith(r["prefix"]):
                    continue
                if r.get("method") and r["method"] != method:
                    continue
                if "times" in r:
                    if used.get((version, i), 0) >= r["times"]:
                        continue
                    used[(version, i)] = used.get((version, i), 0) + 1
                return i, r, version
        return None, {"mode": "ok"}, version

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "herald-test-recorder/1"

        def __getattr__(self, name):
            if name.startswith("do_"):  # every method goes through serve()
                return self.serve
            raise AttributeError(name)

        def log_message(self, fmt, *args):
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} {self.address_string()} "
                             f"{fmt % args}\n")

        def read_body(self):
            """(body, complete)"""
            te = (self.headers.get("Transfer-Encoding") or "").lower()
            body = b""
            try:
                if "chunked" in te:
                    while True:
                        line = self.rfile.readline(65537)
                        if not line:
                            return body, False
                        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            while True:  # trailers up to the blank line
                                t = self.rfile.readline(65537)
                                if t in (b"\r\n", b"\n", b""):
                                    break
                            return body, True
                        chunk = self.rfile.read(size)
                        body += chunk
                        if len(chunk) < size:
                            return body, False
                        self.rfile.readline(3)
                length = int(self.headers.get("Content-Length") or 0)
                if length > 0:
                    body = self.rfile.read(length)
                return body, len(body) == length
            except (OSError, ValueError):
                self.close_connection = True
                return body, False

        def serve(self):
            method = self.command
            parsed = urllib.parse.urlsplit(self.path)
            path = parsed.path
            if not self.path.startswith("/"):  # absolute-form target
                path = parsed.path or "/"
            body, complete = self.read_body()
            index, rule, version = choose(method, path)
            mode = rule["mode"]
            rec = {
                "time": time.time(), "method": method, "path": path, "query": parsed.query,
                "version": self.request_version,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_b64": base64.b64encode(body).decode(), "mode": mode,
                "rule": index, "control": version, "pid": os.getpid(),
                "client": list(self.client_address[:2]),
            }
            if not complete:
                rec["incomplete"] = True
            line = (json.dumps(rec) + "\n").encode()
            with lock:  # one write per record, O_APPEND: whole lines
                fd = os.open(records, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
            if not complete:
                self.close_connection = True
                return
            if rule.get("delay"):
                time.sleep(rule["delay"])
            getattr(self, "mode_" + mode)(rule)

        def send_body(self, status, headers, body):
            self.send_response(status)
            names = {k.lower() for k, _ in headers}
            for k, v in headers:
                self.send_header(k, v)
            no_body = status in (204, 304) or 100 <= status < 200
            if not no_body and "content-length" not in names:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not no_body and self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()

        def mode_ok(self, rule):
            status = rule.get("status", 200)
            headers = rule.get("headers", [])
            if "body_b64" in rule:
                body = base64.b64decode(rule["body_b64"])
            else:
                body = b'{"ok": true}'
                if not any(k.lower() == "content-type" for k, _ in headers):
                    headers = headers + [["Content-Type", "application/json"]]
            self.send_body(status, headers, body)

        def mode_status(self, rule):
            status = rule["status"]
            headers = rule.get("headers", [])
            if "body_b64" in rule:
                body = base64.b64decode(rule["body_b64"])
            else:
                body = json.dumps({"message": self.responses.get(status, ("",))[0]}).encode()
                if not any(k.lower() == "content-type" for k, _ in headers):
                    headers = headers + [["Content-Type", "application/json"]]
            self.send_body(status, headers, body)

        def mode_hang(self, rule):
            sock = self.connection
            deadline = time.monotonic() + rule.get("hang_max", 300.0)
            while time.monotonic() < deadline:
                r, _, _ = select.select([sock], [], [], 0.2)
                if r:
                    try:
                        if not sock.recv(65536):
                            break  # the client gave up
                    except OSError:
                        break
            self.close_connection = True

        def mode_garbage(self, rule):
            self.wfile.write(GARBAGE)
            self.wfile.flush()
            self.close_connection = True

        def mode_close(self, rule):
            self.close_connection = True

        def mode_huge(self, rule):
            size = rule.get("size", 10 * 1024 * 1024)
            self.send_response(rule.get("status", 200))
            for k, v in rule.get("headers", []):
                self.send_header(k, v)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            block = b"x" * 65536
            left = size
            try:
                while left > 0 and self.command != "HEAD":
                    n = min(left, len(block))
                    self.wfile.write(block[:n])
                    left -= n
                self.wfile.flush()
            except OSError:  # the client stopped reading
                self.close_connection = True

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 64

        def handle_error(self, request, client_address):
            # Clients that hang up mid-answer are normal here; keep the log short.
            exc = sys.exc_info()[1]
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} {client_address}: "
                             f"{type(exc).__name__}: {exc}\n")

    server = Server(("127.0.0.1", port), Handler)
    if tls:
        # Each connection's handshake runs in its own handler thread, so one
        # client that never completes it holds up nobody else.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
        plain_finish = Handler.setup

        def setup(self):
            try:
                self.request.do_handshake()
            except (OSError, ssl.SSLError) as e:
                sys.stderr.write(f"{time.strftime('%H:%M:%S')} TLS handshake failed: {e}\n")
                raise
            plain_finish(self)
        Handler.setup = setup
    sys.stderr.write(f"listening on 127.0.0.1:{port} pid {os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever(poll_interval=0.1)


# ==========================================================================
# SMTP server
# ==========================================================================

class SmtpServer(_ServerProcess):
    """aiosmtpd on a free loopback port, delivering to a Maildir.

    tls:      None (plain), "starttls" (STARTTLS offered; required before MAIL
              unless require_starttls=False) or "smtps" (implicit TLS).
    auth:     None, or (user, password): AUTH PLAIN and LOGIN with those
              credentials; then auth_required (default True) refuses MAIL
              without AUTH, and auth_require_tls (default True) hides AUTH
              until the connection is encrypted.
    ca_file:  for TLS variants, the self-signed certificate to trust (it
              names localhost and 127.0.0.1).
    """

    def __init__(self, tls=None, auth=None, require_starttls=True, auth_required=True,
                 auth_require_tls=True, port=None, start=False):
        if tls not in (None, "starttls", "smtps"):
            raise ValueError(f"tls must be None, 'starttls' or 'smtps', not {tls!r}")
        self.tls = tls
        self.auth = auth
        self.require_starttls = require_starttls
        self.auth_required = auth_required
        self.auth_require_tls = auth_require_tls
        self.port = port or free_port()
        self.dir = make_tmpdir("herald-smtp-")
        self.maildir = os.path.join(self.dir, "maildir")
        self.state = os.path.join(self.dir, "state")  # index, raw messages, control
        os.makedirs(self.state)
        self.log = os.path.join(self.dir, "smtp.log")
        self.proc = None
        self.cert = self.key = self.ca_file = None
        if tls:
            self.cert, self.key = make_self_signed(self.dir)
            self.ca_file = self.cert
        if start:
            self.start()

    @property
    def url(self):
        """smtp://127.0.0.1:PORT or smtps://... (libcurl's form)."""
        scheme = "smtps" if self.tls == "smtps" else "smtp"
        return f"{scheme}://127.0.0.1:{self.port}"

    def command(self):
        if not self.auth:
            cmd = [SMTP_PYTHON, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
                   "-c", "smtp_handlers.RecordingMailbox"]
        else:
            user, password = self.auth
            cmd = [SMTP_PYTHON, os.path.join(HERE, "smtp_handlers.py"),
                   "-l", f"127.0.0.1:{self.port}", "--auth", f"{user}:{password}"]
            if not self.auth_required:
                cmd.append("--auth-optional")
            if not self.auth_require_tls:
                cmd.append("--auth-without-tls")
        if self.tls == "starttls":
            cmd += ["--tlscert", self.cert, "--tlskey", self.key]
            if not self.require_starttls:
                cmd.append("--no-requiretls")
        elif self.tls == "smtps":
            cmd += ["--smtpscert", self.cert, "--smtpskey", self.key]
        return cmd + [self.maildir, self.state]

    def start(self, timeout=10.0):
        assert not self.running(), "already running"
        logf = open(self.log, "ab")
        logf.write(f"\n===== smtp start {time.strftime('%H:%M:%S')} port {self.port}\n".encode())
        logf.flush()
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
        env["PYTHONPATH"] = HERE + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True, env=env)
        except FileNotFoundError:
            raise AssertionError(f"{SMTP_PYTHON} not found (set HERALD_SMTP_PYTHON)")
        finally:
            logf.close()
        self._wait_banner(timeout)
        return self

    def client_context(self):
        """An SSL context that trusts this server's certificate."""
        return ssl.create_default_context(cafile=self.ca_file)

    def _wait_banner(self, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"aiosmtpd exited with {self.proc.returncode}:\n"
                                     + self.log_tail())
            s = None
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                if self.tls == "smtps":
                    s = self.client_context().wrap_socket(s, server_hostname="127.0.0.1")
                banner = s.recv(512)
                if banner.startswith(b"220"):
                    try:
                        s.sendall(b"QUIT\r\n")
                        s.recv(512)
                    except OSError:
                        pass
                    return
                last = banner
            except (OSError, ssl.SSLError) as e:
                last = e
            finally:
                if s is not None:
                    s.close()
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"aiosmtpd did not answer 220 on {self.port} within {timeout} s "
                             f"({last!r}):\n" + self.log_tail())


    # -- behaviour ------------------------------------------------------------

    def set_reply(self, stage, reply):
        """Answer `stage` ("MAIL", "RCPT" or "DATA") with `reply` (e.g.
        "451 4.3.0 try again later", "550 5.1.1 no such user") instead of
        accepting; "hang" never answers. None accepts again. Takes effect on
        the next command, no restart."""
        stage = stage.upper()
        if stage not in ("MAIL", "RCPT", "DATA"):
            raise ValueError("stage must be MAIL, RCPT or DATA")
        path = os.path.join(self.state, "control.json")
        try:
            with open(path) as f:
                ctl = json.load(f)
        except (OSError, ValueError):
            ctl = {}
        if reply is None:
            ctl.pop(stage, None)
        else:
            ctl[stage] = reply
        _write_json_atomic(path, ctl)

    def reset_replies(self):
        _write_json_atomic(os.path.join(self.state, "control.json"), {})

    # -- what arrived -----------------------------------------------------------

    def deliveries(self):
        """One dict per accepted message, in arrival order: key, time,
        mail_from, rcpt_tos, tls (bool), tls_version, auth (login or None),
        peer, size."""
        return _read_json_lines(os.path.join(self.state, "index.jsonl"))

    def raw_messages(self):
        """The messages exactly as received after DATA (bytes, CRLF)."""
        out = []
        for d in self.deliveries():
            with open(os.path.join(self.state, "raw", d["key"] + ".eml"), "rb") as f:
                out.append(f.read())
        return out

    def messages(self):
        """The Maildir's messages (email.message.EmailMessage, policy
        default) in arrival order. aiosmtpd's Mailbox adds X-Peer,
        X-MailFrom and X-RcptTo."""
        out = []
        for d in self.deliveries():
            path = self._maildir_file(d["key"])
            with open(path, "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
        return out

    def _maildir_file(self, key):
        new = os.path.join(self.maildir, "new", key)
        if os.path.exists(new):
            return new
        cur = os.path.join(self.maildir, "cur")
        for name in os.listdir(cur):
            if name.split(":", 1)[0] == key:
                return os.path.join(cur, name)
        raise AssertionError(f"message {key} is not in {self.maildir}")

    def auth_attempts(self):
        """AUTH attempts seen: [{"time", "mechanism", "login", "success"}]."""
        return _read_json_lines(os.path.join(self.state, "auth.jsonl"))

    def wait_for(self, count=1, timeout=10.0):
        """Wait until at least `count` messages arrived; returns messages()."""
        _wait(self.deliveries, lambda got: len(got) >= count, timeout,
              f"{count} message(s) at {self.url}")
        return self.messages()

    def no_message_within(self, seconds):
        before = len(self.deliveries())
        time.sleep(seconds)
        after = self.deliveries()
        if len(after) != before:
            raise AssertionError(f"unexpected message(s): {after[before:]}")


# ==========================================================================

def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    h = sub.add_parser("http", help="run the HTTP recorder")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--dir", required=True)
    h.add_argument("--cert")
    h.add_argument("--key")
    args = ap.parse_args(argv)
    if args.what == "http":
        os.makedirs(args.dir, exist_ok=True)
        _http_server_main(args.port, args.dir, (args.cert, args.key) if args.cert else None)


if __name__ == "__main__":
    _main(sys.argv[1:])
