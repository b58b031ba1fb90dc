"""herald over TLS: ngircd's own TLS listener (Debian's ngircd is built with
GnuTLS) with a self-signed certificate made by the `openssl` CLI for each run,
and a bare Python TLS listener for a certificate that names another host.

The test client talks to the same ngircd on its plain port.
"""

import os
import re
import socket
import ssl
import subprocess
import threading
import time
import unittest

from fixtures import (Herald, HeraldTestCase, IrcClient, Ngircd, free_port, make_self_signed,
                      herald_bin, make_tmpdir, remove_tmpdir, start_herald_and_wait,
                      toml_str, wait_port)


def log_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


# --------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------



class TlsHandshakeCounter:
    """A TLS server on a free port that only does handshakes: it counts the
    ones that complete and the ones the client aborts, then hangs up."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.port = free_port()
        self.ok = 0
        self.failed = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                # the server's side completes only with the client's Finished,
                # which a client that rejects the certificate never sends
                with self.ctx.wrap_socket(conn, server_side=True):
                    self.ok += 1
            except (OSError, ssl.SSLError):
                self.failed += 1
            finally:
                conn.close()

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()


class TestTls(HeraldTestCase):
    """herald over TLS to ngircd's TLS port; the test client uses the plain
    port of the same server."""

    @classmethod
    def setUpClass(cls):
        herald_bin()
        cls.certdir = make_tmpdir("herald-tls-")
        cls.addClassCleanup(remove_tmpdir, cls.certdir)
        cls.cert, cls.key = make_self_signed(cls.certdir)
        cls.tls_port = free_port()
        cls.ngircd = Ngircd(extra_conf=f"""[SSL]
CertFile = {cls.cert}
KeyFile = {cls.key}
Ports = {cls.tls_port}
""")
        cls.addClassCleanup(cls.ngircd.cleanup)
        cls.servers = [cls.ngircd]
        cls.heralds = []
        cls.ngircd.start()
        # ngircd makes DH parameters before it listens on the TLS port
        wait_port(cls.tls_port, 20, cls.ngircd.proc)
        cls.client = IrcClient("alice")
        cls.addClassCleanup(cls.client.close)
        cls.client.connect(cls.ngircd.port, "alice")
        cls.client.join("#builds")

    def new_herald(self, extra_irc, host=None):
        h = Herald(self.tls_port, extra_irc=extra_irc)
        if host is not None:
            with open(h.conf) as f:
                text = f.read()
            h.write_config(text.replace('host = "127.0.0.1"', f"host = {toml_str(host)}", 1))
        self.addCleanup(h.cleanup)
        self.local_fixtures = [h]
        return h

    def tls_sessions(self):
        return len(re.findall(r"initialized TLS", log_text(self.ngircd.log)))

    def check_builds_announced(self, h):
        c = self.client
        sessions = self.tls_sessions()
        start_herald_and_wait(h, c)
        # it really is TLS: ngircd logged one more TLS session
        self.assertGreater(self.tls_sessions(), sessions, "ngircd saw no TLS session")
        since = c.command("force build quick over tls")
        m = c.wait_msg(r"^Force build requested: #(\d+) of `quick`", since=since)
        n = m.group(1)
        c.wait_msg(rf"^Build #{n} of `quick` started", since=since, timeout=15)
        c.wait_msg(rf"^Build #{n} of `quick` completed successfully", since=since, timeout=15)
        self.assertTrue(h.running())

    def test_trusted_ca_file_connects_and_announces(self):
        h = self.new_herald(f"tls = true\ntls_ca_file = {toml_str(self.cert)}\n")
        self.check_builds_announced(h)

    def test_trusted_ca_file_by_host_name(self):
        """host = "localhost": the DNS name in the certificate is checked
        (and sent as SNI) instead of the IP address."""
        h = self.new_herald(f"tls = true\ntls_ca_file = {toml_str(self.cert)}\n",
                            host="localhost")
        self.check_builds_announced(h)

    def test_untrusted_certificate_is_refused_and_retried(self):
        """No tls_ca_file: the system store does not trust the self-signed
        certificate. herald must not register, must say why, and must keep
        retrying instead of exiting."""
        h = self.new_herald("tls = true\n")
        c = self.client
        since = c.mark()
        h.start()
        c.pump(5.0)
        joins = [m.raw for m in c.lines[since:]
                 if m.command == "JOIN" and m.nick.lower().startswith("herald")]
        self.assertEqual(joins, [], "herald joined over a TLS connection it must not trust")
        self.assertTrue(h.running(), f"herald exited on a TLS failure:\n{h.log_tail()}")
        log = log_text(h.log)
        failures = [line for line in log.splitlines()
                    if re.search(r"certificate|verif", line, re.I)
                    and not re.search(r"verification is off", line, re.I)]
        self.assertTrue(failures, "herald's log does not mention the certificate "
                                  f"verification failure:\n{h.log_tail()}")
        # retrying: with failed_delay = [0.5, 1.0] it tries several times in 5 s
        self.assertGreaterEqual(len(failures), 2,
                                f"herald did not retry the TLS connection:\n{h.log_tail()}")
        # nothing was registered on the server either
        self.assertNotRegex(log, r"irc: registered as")

    def test_certificate_for_another_name_is_refused(self):
        """tls_ca_file trusts the certificate, but it is for `wrong.test`, not
        127.0.0.1: the name check alone must make herald hang up."""
        cert, key = make_self_signed(self.certdir, "wrong", cn="wrong.test",
                                     san="DNS:wrong.test")
        server = TlsHandshakeCounter(cert, key)
        self.addCleanup(server.close)
        h = Herald(server.port, extra_irc=f"tls = true\ntls_ca_file = {toml_str(cert)}\n")
        self.addCleanup(h.cleanup)
        self.local_fixtures = [h]
        h.start()
        deadline = time.monotonic() + 10
        while server.failed < 2 and server.ok == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(server.ok, 0, "herald completed a TLS handshake with a "
                                       "certificate for another name")
        self.assertGreaterEqual(server.failed, 2, "herald did not try (again)")
        self.assertTrue(h.running(), f"herald exited on a TLS failure:\n{h.log_tail()}")
        self.assertRegex(log_text(h.log), r"(?i)certificate|verif")


if __name__ == "__main__":
    unittest.main(verbosity=2)
