"""aiosmtpd pieces for receivers.SmtpServer. Runs under Debian's
/usr/bin/python3 (python3-aiosmtpd 1.4).

RecordingMailbox
    aiosmtpd's Mailbox handler (Maildir delivery) that also keeps, in a state
    folder: index.jsonl (one line per message: envelope, TLS, AUTH login),
    raw/<key>.eml (the bytes received after DATA) and reads control.json to
    refuse or stall MAIL, RCPT or DATA on demand. Usable with the aiosmtpd CLI:
        python3 -m aiosmtpd -n -c smtp_handlers.RecordingMailbox MAILDIR STATE

Run as a script, it is a server like the aiosmtpd CLI plus AUTH, which the
CLI cannot set up (no authenticator option):
    python3 smtp_handlers.py -l 127.0.0.1:PORT --auth user:password \\
        [--tlscert C --tlskey K [--no-requiretls] | --smtpscert C --smtpskey K] \\
        [--auth-optional] [--auth-without-tls] MAILDIR STATE
"""

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import time
from functools import partial

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def _append_json(path, obj):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(obj) + "\n").encode())
    finally:
        os.close(fd)


def _tls_info(server):
    transport = getattr(server, "transport", None)
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    return (ssl_object is not None), (ssl_object.version() if ssl_object is not None else None)


class RecordingMailbox(Mailbox):
    def __init__(self, mail_dir, state_dir=None):
        super().__init__(mail_dir)
        self.state_dir = state_dir or os.path.join(os.path.dirname(os.path.abspath(mail_dir)),
                                                   "state")
        os.makedirs(os.path.join(self.state_dir, "raw"), exist_ok=True)

    @classmethod
    def from_cli(cls, parser, *args):
        if not 1 <= len(args) <= 2:
            parser.error("RecordingMailbox takes MAILDIR [STATE_DIR]")
        return cls(*args)

    def _control(self, stage):
        try:
            with open(os.path.join(self.state_dir, "control.json")) as f:
                return json.load(f).get(stage)
        except (OSError, ValueError):
            return None

    async def _override(self, stage):
        reply = self._control(stage)
        if reply == "hang":
            await asyncio.sleep(3600)
        return reply

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = await self._override("MAIL")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = await self._override("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = await self._override("DATA")
        if reply:
            return reply
        message = self.prepare_message(session, envelope)
        key = self.mailbox.add(message)
        raw = envelope.original_content or b""
        with open(os.path.join(self.state_dir, "raw", key + ".eml"), "wb") as f:
            f.write(raw)
        tls, tls_version = _tls_info(server)
        auth = session.auth_data.get("login") if isinstance(session.auth_data, dict) else None
        _append_json(os.path.join(self.state_dir, "index.jsonl"), {
            "key": key, "time": time.time(), "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos), "tls": tls, "tls_version": tls_version,
            "auth": auth, "peer": list(session.peer or ()), "size": len(raw),
        })
        return "250 OK"


class Authenticator:
    """AUTH PLAIN/LOGIN against fixed users; every attempt is logged."""

    def __init__(self, users, state_dir):
        self.users = users  # {login: password}
        self.log = os.path.join(state_dir, "auth.jsonl")

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login = password = None
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
        ok = login is not None and self.users.get(login) == password
        _append_json(self.log, {"time": time.time(), "mechanism": mechanism, "login": login,
                                "success": ok, "tls": _tls_info(server)[0]})
        if not ok:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data={"login": login, "mechanism": mechanism})


def _context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.check_hostname = False
    ctx.load_cert_chain(cert, key)
    return ctx


def main(argv=None):
    ap = argparse.ArgumentParser(description="aiosmtpd with AUTH, for herald's tests")
    ap.add_argument("-l", "--listen", default="127.0.0.1:8025")
    ap.add_argument("--auth", action="append", default=[], metavar="USER:PASSWORD")
    ap.add_argument("--auth-optional", action="store_true",
                    help="accept MAIL without AUTH (default: AUTH required)")
    ap.add_argument("--auth-without-tls", action="store_true",
                    help="offer AUTH on unencrypted connections too")
    ap.add_argument("--tlscert")
    ap.add_argument("--tlskey")
    ap.add_argument("--no-requiretls", dest="requiretls", action="store_false")
    ap.add_argument("--smtpscert")
    ap.add_argument("--smtpskey")
    ap.add_argument("maildir")
    ap.add_argument("state", nargs="?")
    args = ap.parse_args(argv)

    host, _, port = args.listen.rpartition(":")
    users = dict(a.split(":", 1) for a in args.auth)
    handler = RecordingMailbox(args.maildir, args.state)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    tls_context = _context(args.tlscert, args.tlskey) if args.tlscert else None
    smtps_context = _context(args.smtpscert, args.smtpskey) if args.smtpscert else None
    factory = partial(
        SMTP, handler, hostname="localhost", loop=loop,
        tls_context=tls_context, require_starttls=bool(tls_context) and args.requiretls,
        authenticator=Authenticator(users, handler.state_dir),
        auth_required=bool(users) and not args.auth_optional,
        # aiosmtpd 1.4 only counts STARTTLS as encryption: under implicit TLS
        # it would hide and refuse AUTH (aio-libs/aiosmtpd#281, #274).
        auth_require_tls=not (args.auth_without_tls or smtps_context))
    server = loop.run_until_complete(
        loop.create_server(factory, host=host or "127.0.0.1", port=int(port), ssl=smtps_context))
    sys.stderr.write(f"listening on {args.listen} pid {os.getpid()}\n")
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.close()


if __name__ == "__main__":
    main()
