"""Self-tests of the test receivers (receivers.py): the HTTP recorder and the
aiosmtpd wrapper, driven by urllib, http.client and smtplib, not herald.

Run: /usr/bin/python3 -m unittest -v test_receivers
"""

import email.message
import email.policy
import http.client
import json
import smtplib
import socket
import threading
import time
import unittest
import urllib.error
import urllib.request

from receivers import HttpRecorder, SmtpServer


def fetch(url, data=None, method=None, headers=None, timeout=5.0):
    """(status, headers, body) also for error statuses."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class HttpRecorderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rec = HttpRecorder()
        cls.addClassCleanup(cls.rec.cleanup)
        cls.rec.start()

    def setUp(self):
        if not self.rec.running():
            self.rec.start()
        self.rec.reset_modes()
        self.rec.clear()

    def conn(self, timeout=5.0):
        c = http.client.HTTPConnection("127.0.0.1", self.rec.port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def test_ok_records_the_request(self):
        t0 = time.time()
        status, headers, body = fetch(self.rec.url + "/repos/o/r/statuses/abc?x=1&y=two",
                                      data=b'{"state": "success"}', method="POST",
                                      headers={"Content-Type": "application/json",
                                               "Authorization": "Bearer t0ken"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"ok": True})
        self.assertEqual(headers["Content-Type"], "application/json")
        [r] = self.rec.requests()
        self.assertEqual(r.method, "POST")
        self.assertEqual(r.path, "/repos/o/r/statuses/abc")
        self.assertEqual(r.query, "x=1&y=two")
        self.assertEqual(r.params, {"x": ["1"], "y": ["two"]})
        self.assertEqual(r.target, "/repos/o/r/statuses/abc?x=1&y=two")
        self.assertEqual(r.header("authorization"), "Bearer t0ken")
        self.assertEqual(r.header("content-length"), "20")
        self.assertEqual(r.json(), {"state": "success"})
        self.assertEqual(r.mode, "ok")
        self.assertGreaterEqual(r.time, t0 - 1)

    def test_keep_alive_and_statuses_without_body(self):
        self.rec.set_mode("ok", status=204)
        c = self.conn()
        for i in range(3):  # one connection, three requests
            c.request("PUT", f"/k/{i}", body=b"x" * i)
            resp = c.getresponse()
            self.assertEqual(resp.status, 204)
            self.assertEqual(resp.read(), b"")
        self.rec.set_mode("ok", status=201, body={"id": 42})
        c.request("POST", "/k/again", body=b"{}")
        resp = c.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())), (201, {"id": 42}))
        self.assertEqual([r.path for r in self.rec.requests()],
                         ["/k/0", "/k/1", "/k/2", "/k/again"])
        self.assertEqual(self.rec.requests()[2].body, b"xx")

    def test_status_modes(self):
        reset = int(time.time()) + 60
        cases = [
            (dict(status=500), 500, {}, None),
            (dict(status=429, headers={"Retry-After": "2"}), 429, {"Retry-After": "2"}, None),
            (dict(status=403, headers={"X-RateLimit-Remaining": "0",
                                       "X-RateLimit-Reset": str(reset)}),
             403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}, None),
            (dict(status=404, body="no such repo"), 404, {}, b"no such repo"),
        ]
        for opts, want, want_headers, want_body in cases:
            with self.subTest(status=want):
                self.rec.set_mode("status", **opts)
                status, headers, body = fetch(self.rec.url + "/s", data=b"{}")
                self.assertEqual(status, want)
                for k, v in want_headers.items():
                    self.assertEqual(headers[k], v)
                if want_body is not None:
                    self.assertEqual(body, want_body)
                else:
                    self.assertIn("message", json.loads(body))

    def test_prefix_method_and_times(self):
        self.rec.set_mode("status", prefix="/api/", status=500)
        self.rec.set_mode("status", prefix="/api/v2/", method="GET", status=418)
        self.assertEqual(fetch(self.rec.url + "/api/x")[0], 500)
        self.assertEqual(fetch(self.rec.url + "/api/v2/x")[0], 418)
        self.assertEqual(fetch(self.rec.url + "/api/v2/x", data=b"")[0], 500)  # POST
        self.assertEqual(fetch(self.rec.url + "/other")[0], 200)
        # A sequence: 500 twice, 429 once, then ok.
        self.rec.reset_modes()
        self.rec.add_mode("status", status=500, times=2)
        self.rec.add_mode("status", status=429, times=1)
        got = [fetch(self.rec.url + f"/seq/{i}")[0] for i in range(5)]
        self.assertEqual(got, [500, 500, 429, 200, 200])

    def test_hang_until_the_client_gives_up(self):
        self.rec.set_mode("hang", prefix="/slow")
        t0 = time.monotonic()
        with self.assertRaises((socket.timeout, urllib.error.URLError, TimeoutError)):
            fetch(self.rec.url + "/slow/x", data=b"payload", timeout=0.5)
        self.assertLess(time.monotonic() - t0, 2.0)
        [r] = self.rec.requests()
        self.assertEqual((r.path, r.mode, r.body), ("/slow/x", "hang", b"payload"))
        self.assertEqual(fetch(self.rec.url + "/fast")[0], 200)  # others still served

    def test_garbage_and_close(self):
        self.rec.set_mode("garbage", prefix="/g")
        self.rec.set_mode("close", prefix="/c")
        c = self.conn()
        c.request("GET", "/g")
        with self.assertRaises(http.client.BadStatusLine):
            c.getresponse()
        c = self.conn()
        c.request("GET", "/c")
        with self.assertRaises(http.client.RemoteDisconnected):
            c.getresponse()
        self.assertEqual([r.mode for r in self.rec.requests()], ["garbage", "close"])

    def test_huge_and_delay(self):
        self.rec.set_mode("huge")
        status, headers, body = fetch(self.rec.url + "/big")
        self.assertEqual((status, len(body)), (200, 10 * 1024 * 1024))
        self.rec.set_mode("huge", size=1000, delay=0.3)
        t0 = time.monotonic()
        status, headers, body = fetch(self.rec.url + "/big")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertEqual(len(body), 1000)

    def test_chunked_and_expect_continue(self):
        c = self.conn()
        c.request("POST", "/chunked", body=iter([b"abc", b"defg"]), encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
        self.assertEqual(c.getresponse().status, 200)
        # libcurl sends "Expect: 100-continue" before large bodies.
        with socket.create_connection(("127.0.0.1", self.rec.port), timeout=5) as s:
            s.sendall(b"POST /expect HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100"))
            s.sendall(b"hello")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200"))
        self.assertEqual([r.body for r in self.rec.requests()], [b"abcdefg", b"hello"])

    def test_records_and_counts_survive_restart(self):
        self.rec.set_mode("status", status=503, times=2)
        port, url = self.rec.port, self.rec.url
        self.assertEqual(fetch(url + "/one")[0], 503)
        pid = self.rec.proc.pid
        self.rec.kill()
        with self.assertRaises(urllib.error.URLError):
            fetch(url + "/down", timeout=1)
        self.rec.restart()
        self.assertEqual((self.rec.port, self.rec.url), (port, url))
        self.assertEqual(fetch(url + "/two")[0], 503)  # the second of two
        self.assertEqual(fetch(url + "/three")[0], 200)
        rs = self.rec.requests()
        self.assertEqual([r.path for r in rs], ["/one", "/two", "/three"])
        self.assertEqual(rs[0].pid, pid)
        self.assertNotEqual(rs[1].pid, pid)
        self.rec.stop()
        self.assertFalse(self.rec.running())

    def test_wait_for(self):
        threading.Timer(0.2, fetch, args=(self.rec.url + "/later",)).start()
        threading.Timer(0.3, fetch, args=(self.rec.url + "/later",)).start()
        got = self.rec.wait_for(lambda r: r.path == "/later", count=2, timeout=5)
        self.assertEqual(len(got), 2)
        self.assertEqual(len(self.rec.wait_for(2, timeout=1)), 2)
        with self.assertRaises(AssertionError):
            self.rec.wait_for(3, timeout=0.2)


# --------------------------------------------------------------------------

USER, PASSWORD = "herald", "s3cret pass"


def sample_message(subject="Build #7 ✗ failed on ünïcödé"):
    m = email.message.EmailMessage()
    m["From"] = "herald <ci@example.org>"
    m["To"] = "dev@example.org"
    m["Subject"] = subject
    m["Message-ID"] = "<herald.linux.7@example.org>"
    m.set_content("The build failed.\n.\n..leading dots\n")
    m.add_attachment(bytes(range(256)), maintype="application", subtype="octet-stream",
                     filename="all-bytes.bin")
    return m


class SmtpServerTest(unittest.TestCase):
    def server(self, **kw):
        s = SmtpServer(**kw)
        self.addCleanup(s.cleanup)
        return s.start()

    def send(self, s, client, msg=None, rcpt=("dev@example.org",)):
        msg = msg or sample_message()
        client.send_message(msg, from_addr="ci@example.org", to_addrs=list(rcpt))

    def check_delivery(self, s, tls, auth=None):
        [m] = s.wait_for(1, timeout=5)
        self.assertEqual(str(m["Subject"]), "Build #7 ✗ failed on ünïcödé")
        self.assertEqual(m["Message-ID"], "<herald.linux.7@example.org>")
        self.assertEqual(m["X-MailFrom"], "ci@example.org")
        self.assertEqual(m.get_body(("plain",)).get_content(),
                         "The build failed.\n.\n..leading dots\n")
        [att] = list(m.iter_attachments())
        self.assertEqual((att.get_filename(), att.get_content()), ("all-bytes.bin", bytes(range(256))))
        [d] = s.deliveries()
        self.assertEqual((d["mail_from"], d["rcpt_tos"], d["tls"], d["auth"]),
                         ("ci@example.org", ["dev@example.org"], tls, auth))
        [raw] = s.raw_messages()
        self.assertIn(b"\r\n.\r\n..leading dots\r\n", raw)  # dot-unstuffed, CRLF kept
        return m

    def test_plain(self):
        s = self.server()
        self.assertEqual(s.url, f"smtp://127.0.0.1:{s.port}")
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            self.send(s, c, rcpt=("dev@example.org", "ops@example.org"))
        [m] = s.wait_for(1)
        self.assertEqual(s.deliveries()[0]["rcpt_tos"], ["dev@example.org", "ops@example.org"])
        self.assertEqual(m["X-RcptTo"], "dev@example.org, ops@example.org")

    def test_starttls_required(self):
        s = self.server(tls="starttls")
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            with self.assertRaises(smtplib.SMTPSenderRefused) as e:
                self.send(s, c)
            self.assertEqual(e.exception.smtp_code, 530)
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            c.starttls(context=s.client_context())
            self.send(s, c)
        self.check_delivery(s, tls=True)
        self.assertTrue(s.deliveries()[0]["tls_version"].startswith("TLS"))

    def test_starttls_optional(self):
        s = self.server(tls="starttls", require_starttls=False)
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            c.ehlo()
            self.assertTrue(c.has_extn("starttls"))
            self.send(s, c)
        self.check_delivery(s, tls=False)

    def test_smtps(self):
        s = self.server(tls="smtps")
        self.assertEqual(s.url, f"smtps://127.0.0.1:{s.port}")
        with smtplib.SMTP_SSL("127.0.0.1", s.port, timeout=5, context=s.client_context()) as c:
            self.send(s, c)
        self.check_delivery(s, tls=True)

    def test_auth_after_starttls(self):
        s = self.server(tls="starttls", auth=(USER, PASSWORD))
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            c.starttls(context=s.client_context())
            with self.assertRaises(smtplib.SMTPSenderRefused) as e:  # no AUTH yet
                self.send(s, c)
            self.assertEqual(e.exception.smtp_code, 530)
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            c.starttls(context=s.client_context())
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                c.login(USER, "wrong")
            c.login(USER, PASSWORD)
            self.send(s, c)
        self.check_delivery(s, tls=True, auth=USER)
        # smtplib tries each mechanism the server offers before giving up.
        attempts = [(a["login"], a["success"], a["tls"]) for a in s.auth_attempts()]
        self.assertEqual(attempts[-1], (USER, True, True))
        self.assertEqual(set(attempts[:-1]), {(USER, False, True)})

    def test_auth_plain_and_login_without_tls(self):
        s = self.server(auth=(USER, PASSWORD), auth_require_tls=False)
        for mech in ("PLAIN", "LOGIN"):
            with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
                c.ehlo()
                self.assertIn(mech, c.esmtp_features["auth"])
                c.user, c.password = USER, PASSWORD
                c.auth(mech, getattr(c, "auth_" + mech.lower()), initial_response_ok=False)
                self.send(s, c)
        s.wait_for(2)
        self.assertEqual([a["mechanism"] for a in s.auth_attempts()], ["PLAIN", "LOGIN"])
        self.assertEqual([d["auth"] for d in s.deliveries()], [USER, USER])

    def test_auth_over_smtps(self):
        s = self.server(tls="smtps", auth=(USER, PASSWORD))
        with smtplib.SMTP_SSL("127.0.0.1", s.port, timeout=5, context=s.client_context()) as c:
            c.login(USER, PASSWORD)
            self.send(s, c)
        self.check_delivery(s, tls=True, auth=USER)

    def test_refusals_and_restart(self):
        s = self.server()
        s.set_reply("RCPT", "550 5.1.1 no such user")
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                self.send(s, c)
        s.set_reply("RCPT", None)
        s.set_reply("DATA", "451 4.3.0 try again later")
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            with self.assertRaises(smtplib.SMTPDataError) as e:
                self.send(s, c)
            self.assertEqual(e.exception.smtp_code, 451)
        s.set_reply("DATA", "hang")
        with smtplib.SMTP("127.0.0.1", s.port, timeout=0.5) as c:
            with self.assertRaises((socket.timeout, TimeoutError, smtplib.SMTPServerDisconnected)):
                self.send(s, c)
        s.reset_replies()
        self.assertEqual(s.deliveries(), [])
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            self.send(s, c)
        s.restart()
        with smtplib.SMTP("127.0.0.1", s.port, timeout=5) as c:
            self.send(s, c, sample_message("second"))
        msgs = s.wait_for(2)
        self.assertEqual([str(m["Subject"]) for m in msgs], ["Build #7 ✗ failed on ünïcödé", "second"])
        s.kill()
        with self.assertRaises(OSError):
            smtplib.SMTP("127.0.0.1", s.port, timeout=1)


if __name__ == "__main__":
    unittest.main()
