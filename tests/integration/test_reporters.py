"""Push reporters against real receivers: an HTTP recorder (tests/integration/
receivers.py) standing in for GitHub, GitLab, Bitbucket, Gerrit, the chat
webhooks and a plain HTTP push target, and aiosmtpd for mail.

Builds are forced over IRC (ngircd), as a user would; the reporters then
deliver through herald's durable outbox. Checks the documented request paths,
headers and bodies, retries (500, 429 with Retry-After, hang, garbage),
dead letters, latest-state-wins for commit statuses, a SIGKILL of herald
with 100 deliveries pending while the receiver is down, and a backlog larger
than outbox_memory_mib, read back from the database.
"""

import os
import shutil
import subprocess
import time
import unittest
import urllib.parse

from fixtures import (DEFAULT_BUILDERS, Herald, HeraldTestCase, IrcClient, Ngircd, make_self_signed,
                      make_tmpdir, remove_tmpdir, start_herald_and_wait, toml_list, toml_str)
from receivers import HttpRecorder, SmtpServer

# Builds that take a moment, so a status's "started" state is sent before the
# final one (a faster build's "pending" may be superseded before it is sent).
SLOW_BUILDERS = DEFAULT_BUILDERS + r'''
[[builder]]
name = "passes"
  [[builder.step]]
  name = "test"
  command = "sleep 0.5; echo all good"

[[builder]]
name = "fails"
  [[builder.step]]
  name = "compile"
  command = "sleep 0.5; echo oops >&2; exit 2"
'''

SHA = "0123456789abcdef0123456789abcdef01234567"
SHA2 = "89abcdef0123456789abcdef0123456789abcdef"
TOKENS = ["gh-t0ken-SECRET", "gl-t0ken-SECRET", "bbc-app-pw-SECRET", "bbs-t0ken-SECRET",
          "gerrit-http-pw-SECRET", "matrix-t0ken-SECRET", "tg-b0t-SECRET", "zulip-key-SECRET",
          "push-t0ken-SECRET", "mail-pw-SECRET"]


def reporter(name, type_, **keys):
    """One [[reporter]] table; values are TOML-quoted unless given as raw text (a tuple)."""
    lines = ["", "[[reporter]]", f"name = {toml_str(name)}", f"type = {toml_str(type_)}"]
    for k, v in keys.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, (int, float)):
            lines.append(f"{k} = {v}")
        elif isinstance(v, list):
            lines.append(f"{k} = {toml_list(v)}")
        elif isinstance(v, tuple):
            lines.append(f"{k} = {v[0]}")
        else:
            lines.append(f"{k} = {toml_str(v)}")
    return "\n".join(lines) + "\n"


class ReporterTestCase(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.ngircd = Ngircd()
        cls.addClassCleanup(cls.ngircd.cleanup)
        cls.ngircd.start()
        cls.http = HttpRecorder(start=True)
        cls.addClassCleanup(cls.http.cleanup)
        cls.servers = [cls.ngircd]
        cls.client = IrcClient("alice")
        cls.addClassCleanup(cls.client.close)
        cls.client.connect(cls.ngircd.port, "alice")
        cls.client.join("#builds")

    def setUp(self):
        self.http.reset_modes()
        self.http.clear()

    def start(self, reporters, builders=DEFAULT_BUILDERS, extra_herald=""):
        h = Herald(self.ngircd.port, builders=builders + reporters, extra_herald=extra_herald)
        self.addCleanup(h.cleanup)
        self.local_fixtures = [h]
        start_herald_and_wait(h, self.client)
        self.herald = h
        return h

    def force(self, args, builder):
        self.client.command(f"force build {args}")
        m = self.client.wait_msg(rf"^Force build requested: #(\d+) of `{builder}`\.")
        return int(m.group(1))

    def wait_finished(self, n, builder, timeout=20, since=None):
        return self.client.wait_msg(rf"^Build #{n} of `{builder}` (completed|failed)", timeout=timeout,
                                    since=since)

    def outbox(self, *args):
        out = subprocess.run([self.herald.bin, "outbox", "--config", self.herald.conf, *args],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def wait_dead(self, text, timeout=15):
        """`herald outbox --dead` once it shows `text` (or at the timeout)."""
        deadline = time.time() + timeout
        dead = self.outbox("--dead")
        while text not in dead and time.time() < deadline:
            time.sleep(0.2)
            dead = self.outbox("--dead")
        return dead

    def pending(self):
        last = self.outbox().strip().splitlines()[-1]
        return int(last.split()[0])

    def herald_log(self):
        with open(self.herald.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def assert_no_secrets(self, text):
        for t in TOKENS:
            self.assertNotIn(t, text)


class TestProviders(ReporterTestCase):
    """Every HTTP provider from one herald, for a passing and a failing build."""

    def test_requests_are_as_documented(self):
        u = self.http.url
        reps = "".join([
            reporter("gh", "github", url=u + "/gh", token=TOKENS[0], repository="octo/repo"),
            reporter("gl", "gitlab", url=u + "/gl", token=TOKENS[1], repository="group/proj"),
            reporter("bbc", "bitbucket_cloud", url=u + "/bbc", username="ci-bot", token=TOKENS[2],
                     repository="ws/repo"),
            reporter("bbs", "bitbucket_server", url=u + "/bbs", token=TOKENS[3]),
            reporter("bbsr", "bitbucket_server", url=u + "/bbsr", username="ci-bot", token=TOKENS[3],
                     repository="PROJ/repo"),
            reporter("gerrit", "gerrit", url=u + "/gerrit", username="ci", token=TOKENS[4]),
            reporter("slack", "slack", url=u + "/slack/T000/B000/XXXX"),
            reporter("mm", "mattermost", url=u + "/mm/hooks/abc"),
            reporter("discord", "discord", url=u + "/discord/api/webhooks/1/tok"),
            reporter("teams", "teams", url=u + "/teams/workflows/x"),
            reporter("matrix", "matrix", url=u + "/matrix", token=TOKENS[5], room="!room:example.org"),
            reporter("tg", "telegram", url=u + "/tg", token=TOKENS[6], room="-100123"),
            reporter("zulip", "zulip", url=u + "/zulip", username="ci-bot@zulip.example.org",
                     token=TOKENS[7], room="builds"),
            reporter("push", "http", url=u + "/push", token=TOKENS[8], report_start=True,
                     headers=("{ X-Team = \"ci\" }",)),
        ])
        self.start(reps, builders=SLOW_BUILDERS)
        ok = self.force(f"--branch=main --revision={SHA} --props=gerrit_change=42 passes green", "passes")
        self.wait_finished(ok, "passes")
        bad = self.force(f"--branch=main --revision={SHA2} --props=gerrit_change=43 fails red", "fails")
        self.wait_finished(bad, "fails")

        # Commit statuses: started (pending) and finished, per build: 6 reporters x 2 builds x 2.
        # Chat: 7 x 2 finished; push: 2 x 2.
        self.http.wait_for(lambda r: True, count=6 * 4 + 7 * 2 + 4, timeout=30)
        time.sleep(0.5)

        def one(prefix, pred=lambda r: True):
            got = [r for r in self.http.requests(prefix) if pred(r)]
            self.assertTrue(got, f"no request under {prefix}: {self.http.requests()}")
            return got

        # GitHub: POST /repos/{owner}/{repo}/statuses/{sha}
        gh = one("/gh/repos/octo/repo/statuses/")
        paths = {r.path for r in gh}
        self.assertEqual(paths, {f"/gh/repos/octo/repo/statuses/{SHA}", f"/gh/repos/octo/repo/statuses/{SHA2}"})
        for r in gh:
            self.assertEqual(r.method, "POST")
            self.assertEqual(r.header("Authorization"), f"Bearer {TOKENS[0]}")
            self.assertEqual(r.header("Accept"), "application/vnd.github+json")
            self.assertEqual(r.header("X-GitHub-Api-Version"), "2022-11-28")
            self.assertTrue(r.header("User-Agent"))
            body = r.json()
            self.assertLessEqual(len(body.get("description", "")), 140)
            self.assertIn("herald/", body["context"])
        states = [(r.path[-40:], r.json()["state"]) for r in gh]
        self.assertEqual([s for p, s in states if p == SHA], ["pending", "success"])
        self.assertEqual([s for p, s in states if p == SHA2], ["pending", "failure"])
        self.assertEqual(gh[-1].json()["target_url"], f"http://ci.test/#/builders/fails/builds/{bad}")

        # GitLab: POST /projects/{id}/statuses/{sha}, PRIVATE-TOKEN
        gl = one("/gl/projects/")
        for r in gl:
            self.assertTrue(r.path.startswith("/gl/projects/group%2Fproj/statuses/"), r.path)
            self.assertEqual(r.header("PRIVATE-TOKEN"), TOKENS[1])
            self.assertEqual(r.json()["ref"], "main")
        self.assertEqual([r.json()["state"] for r in gl if r.path.endswith(SHA2)], ["running", "failed"])

        # Bitbucket Cloud: POST /repositories/{ws}/{repo}/commit/{sha}/statuses/build, basic auth
        bbc = one("/bbc/repositories/ws/repo/commit/")
        for r in bbc:
            self.assertTrue(r.path.endswith("/statuses/build"), r.path)
            self.assertTrue(r.header("Authorization", "").startswith("Basic "))
            self.assertLessEqual(len(r.json()["key"]), 40)
        self.assertEqual([r.json()["state"] for r in bbc if SHA in r.path], ["INPROGRESS", "SUCCESSFUL"])
        self.assertEqual([r.json()["state"] for r in bbc if SHA2 in r.path], ["INPROGRESS", "FAILED"])

        # Bitbucket Server: POST /rest/build-status/1.0/commits/{sha}
        bbs = one("/bbs/rest/build-status/1.0/commits/")
        self.assertEqual({r.path for r in bbs}, {f"/bbs/rest/build-status/1.0/commits/{SHA}",
                                                   f"/bbs/rest/build-status/1.0/commits/{SHA2}"})
        self.assertEqual(bbs[0].header("Authorization"), f"Bearer {TOKENS[3]}")
        self.assertEqual([r.json()["state"] for r in bbs if r.path.endswith(SHA2)], ["INPROGRESS", "FAILED"])
        # ... and with `repository`: POST /rest/api/latest/projects/{project}/repos/{repo}/commits/{sha}/builds
        bbsr = one("/bbsr/rest/api/latest/projects/PROJ/repos/repo/commits/")
        self.assertEqual({r.path for r in bbsr},
                         {f"/bbsr/rest/api/latest/projects/PROJ/repos/repo/commits/{sha}/builds" for sha in (SHA, SHA2)})
        self.assertTrue(bbsr[0].header("Authorization", "").startswith("Basic "))
        final = [r.json() for r in bbsr if r.path.endswith(f"{SHA2}/builds")][-1]
        self.assertEqual((final["state"], final["buildNumber"], final["ref"]), ("FAILED", str(bad), "refs/heads/main"))
        self.assertIsInstance(final["duration"], int)
        self.assertEqual(final["url"], f"http://ci.test/#/builders/fails/builds/{bad}")

        # Gerrit: POST /a/changes/{change}/revisions/{sha}/review with a label on the final one
        ge = one("/gerrit/a/changes/")
        final = [r for r in ge if "labels" in r.json()]
        self.assertEqual({(r.path, r.json()["labels"].get("Verified")) for r in final},
                         {(f"/gerrit/a/changes/42/revisions/{SHA}/review", 1),
                          (f"/gerrit/a/changes/43/revisions/{SHA2}/review", -1)})
        self.assertTrue(ge[0].header("Authorization", "").startswith("Basic "))

        # Chat webhooks
        slack = one("/slack/")
        self.assertTrue(any("fails" in r.json()["text"] and "fail" in r.json()["text"] for r in slack))
        mm = one("/mm/")
        self.assertIn("text", mm[0].json())
        dc = one("/discord/")
        self.assertLessEqual(len(dc[0].json()["content"]), 2000)
        self.assertEqual(dc[0].json()["allowed_mentions"], {"parse": []})
        teams = one("/teams/")
        att = teams[0].json()["attachments"][0]
        self.assertEqual(att["contentType"], "application/vnd.microsoft.card.adaptive")
        self.assertEqual(att["content"]["type"], "AdaptiveCard")
        mx = one("/matrix/")
        room = urllib.parse.quote("!room:example.org", safe="")
        for r in mx:
            self.assertEqual(r.method, "PUT")
            self.assertTrue(r.path.startswith(f"/matrix/_matrix/client/v3/rooms/{room}/send/m.room.message/"),
                            r.path)
            self.assertEqual(r.json()["msgtype"], "m.notice")
            self.assertEqual(r.header("Authorization"), f"Bearer {TOKENS[5]}")
        self.assertEqual(len({r.path for r in mx}), len(mx), "one transaction id per message")
        tg = one("/tg/")
        self.assertEqual({r.path for r in tg}, {f"/tg/bot{TOKENS[6]}/sendMessage"})
        self.assertEqual(str(tg[0].json()["chat_id"]), "-100123")
        zu = one("/zulip/")
        form = zu[0].form()
        self.assertEqual(zu[0].path, "/zulip/api/v1/messages")
        self.assertEqual(form["type"], ["stream"])
        self.assertEqual(form["to"], ["builds"])
        self.assertTrue(form["topic"][0])
        self.assertTrue(zu[0].header("Authorization", "").startswith("Basic "))

        # HTTP push: started and finished, JSON, extra header, idempotency key per delivery
        push = one("/push")
        self.assertEqual(len(push), 4)
        for r in push:
            self.assertEqual(r.header("Content-Type"), "application/json")
            self.assertEqual(r.header("X-Team"), "ci")
            self.assertEqual(r.header("Authorization"), f"Bearer {TOKENS[8]}")
        keys = [r.header("Idempotency-Key") for r in push]
        self.assertEqual(len(set(keys)), 4, keys)
        failed = [r.json() for r in push if r.json().get("builder") == "fails" and r.json().get("result")]
        self.assertTrue(failed, [r.json() for r in push])

        # Every delivery exactly once, nothing left, and no token in the log.
        self.assertEqual(self.pending(), 0)
        self.assert_no_secrets(self.herald_log())
        self.assert_no_secrets(self.outbox())


class TestDelivery(ReporterTestCase):
    """The outbox against a receiver that fails in the ways real ones do."""

    def push(self, name, prefix, **keys):
        keys = {"retry_initial": 0.3, "retry_max": 1.0, "timeout": 1.0, **keys}
        return reporter(name, "http", url=self.http.url + prefix, token=TOKENS[8], **keys)

    def test_500_is_retried_until_delivered_once(self):
        self.http.set_mode("status", prefix="/flaky", status=500, body="boom", times=2)
        self.start(self.push("flaky", "/flaky"))
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        got = self.http.wait_for(lambda r: r.path == "/flaky", count=3, timeout=15)
        self.assertEqual([r.mode for r in got], ["status", "status", "ok"])
        self.assertEqual(len({r.header("Idempotency-Key") for r in got}), 1, "the same delivery, retried")
        self.http.no_request_within(1.5, lambda r: r.path == "/flaky")
        self.assertEqual(self.pending(), 0)
        self.assertIn("HTTP 500", self.herald_log())

    def test_429_waits_for_retry_after(self):
        self.http.set_mode("status", prefix="/limited", status=429, headers={"Retry-After": "2"}, times=1)
        self.start(self.push("limited", "/limited"))
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        got = self.http.wait_for(lambda r: r.path == "/limited", count=2, timeout=15)
        self.assertGreaterEqual(got[1].time - got[0].time, 1.9, "Retry-After: 2 was not honoured")

    def test_404_is_a_dead_letter_with_its_reason(self):
        self.http.set_mode("status", prefix="/gone", status=404, body="no such hook")
        self.start(self.push("gone", "/gone"))
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        self.http.wait_for(lambda r: r.path == "/gone", count=1)
        self.http.no_request_within(1.5, lambda r: r.path == "/gone")
        dead = self.outbox("--dead")
        self.assertIn(f"gone/quick/{n}/finished", dead)
        self.assertIn("HTTP 404: no such hook", dead)
        self.assert_no_secrets(dead)
        self.assertEqual(self.pending(), 0)
        # Revived, it goes again on the next start.
        self.http.reset_modes()
        self.assertIn("1 dead letter(s) queued again", self.outbox("--revive", "all"))
        self.herald.stop()
        start_herald_and_wait(self.herald, self.client)
        self.http.wait_for(lambda r: r.path == "/gone" and r.mode == "ok", count=1)

    def test_a_dead_letter_revived_while_herald_runs_is_sent_without_a_restart(self):
        self.http.set_mode("status", prefix="/later", status=404, body="no hook yet")
        self.start(self.push("later", "/later"))
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        self.http.wait_for(lambda r: r.path == "/later", count=1)
        self.assertIn(f"later/quick/{n}/finished", self.wait_dead(f"later/quick/{n}/finished"))
        self.http.reset_modes()  # the receiver is fixed
        self.assertIn("1 dead letter(s) queued again", self.outbox("--revive", f"later/quick/{n}/finished"))
        got = self.http.wait_for(lambda r: r.path == "/later" and r.mode == "ok", count=1, timeout=15)
        self.assertEqual(got[0].header("Idempotency-Key"), f"later/quick/{n}/finished")
        self.http.no_request_within(3.0, lambda r: r.path == "/later" and r.mode == "ok")  # once
        self.assertEqual(self.pending(), 0)
        self.assertEqual(self.outbox("--dead").strip(), "0 dead letter(s)")
        self.assertIn("1 revived dead letter(s) queued again", self.herald_log())

    def test_a_credential_echoed_by_the_peer_is_not_logged(self):
        self.http.set_mode("status", prefix="/echo", status=401, body=f"bad credentials: Bearer {TOKENS[8]}")
        self.start(self.push("echo", "/echo"))
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        self.http.wait_for(lambda r: r.path == "/echo", count=1)
        dead = self.wait_dead("echo/quick")
        self.assertIn("HTTP 401: bad credentials: Bearer ***", dead)
        self.assert_no_secrets(dead)
        self.assert_no_secrets(self.herald_log())

    def test_hang_garbage_close_and_huge_answers_are_survived(self):
        for prefix, mode in [("/hang", "hang"), ("/garbage", "garbage"), ("/close", "close")]:
            self.http.set_mode(mode, prefix=prefix, times=1)
        self.http.set_mode("huge", prefix="/huge", status=500, times=1)
        reps = "".join(self.push(p.strip("/"), p) for p in ["/hang", "/garbage", "/close", "/huge"])
        self.start(reps)
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        for p in ["/hang", "/garbage", "/close", "/huge"]:
            got = self.http.wait_for(lambda r, p=p: r.path == p and r.mode == "ok", count=1, timeout=20)
            self.assertEqual(len(got), 1, p)
        self.assertTrue(self.herald.running())
        deadline = time.time() + 10
        while self.pending() and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.pending(), 0)
        log = self.herald_log()
        self.assertIn("attempt 1 failed", log)

    def test_latest_status_wins_over_a_stale_pending(self):
        # GitHub is down while the build starts and ends: "pending" is still
        # queued when "success" arrives, so only "success" is ever accepted.
        self.http.set_mode("status", prefix="/gh", status=502)
        reps = reporter("gh", "github", url=self.http.url + "/gh", token=TOKENS[0], repository="octo/repo",
                        retry_initial=1.0, retry_max=1.0)
        self.start(reps)
        n = self.force(f"--revision={SHA} quick", "quick")
        self.wait_finished(n, "quick")
        self.http.wait_for(lambda r: r.path.startswith("/gh"), count=1)
        time.sleep(1.5)
        self.http.reset_modes()
        accepted = self.http.wait_for(lambda r: r.path.startswith("/gh") and r.mode == "ok", count=1)
        self.http.no_request_within(2.0, lambda r: r.path.startswith("/gh") and r.mode == "ok")
        accepted = [r for r in self.http.requests("/gh") if r.mode == "ok"]
        self.assertEqual([r.json()["state"] for r in accepted], ["success"])
        self.assertEqual(self.pending(), 0)

    def test_sigterm_waits_for_the_delivery_in_flight(self):
        # An orderly stop while the receiver is still answering: herald waits
        # for the answer, so nothing is resent after the restart.
        self.http.set_mode("ok", prefix="/slow", delay=1.5)
        self.start(self.push("slow", "/slow", timeout=5.0))
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        self.http.wait_for(lambda r: r.path == "/slow", count=1)
        self.assertEqual(self.herald.stop(), 0)
        self.assertRegex(self.herald_log(), r"outbox: http post for quick#\d+ success delivered")
        self.http.reset_modes()
        start_herald_and_wait(self.herald, self.client)
        self.http.no_request_within(2.0, lambda r: r.path == "/slow")
        self.assertEqual(self.pending(), 0)

    def test_sigkill_during_a_delivery_resends_it_with_the_same_key(self):
        # Killed between the receiver getting the request and herald hearing
        # the answer: herald cannot know, so it sends again after the restart,
        # with the same Idempotency-Key, which lets the receiver drop the repeat.
        self.http.set_mode("ok", prefix="/slow", delay=2.0)
        self.start(self.push("slow", "/slow", timeout=5.0))
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        self.http.wait_for(lambda r: r.path == "/slow", count=1)
        self.herald.kill()
        self.http.reset_modes()
        start_herald_and_wait(self.herald, self.client)
        got = self.http.wait_for(lambda r: r.path == "/slow", count=2)
        self.http.no_request_within(1.5, lambda r: r.path == "/slow")
        self.assertEqual(len(self.http.requests("/slow")), 2)
        self.assertEqual(got[0].header("Idempotency-Key"), got[1].header("Idempotency-Key"))
        self.assertEqual(got[0].body, got[1].body)
        self.assertEqual(self.pending(), 0)

    def test_a_template_that_fails_falls_back_to_the_default(self):
        # A partial parses but cannot render (partials would run outside text as a template).
        reps = reporter("chat", "slack", url=self.http.url + "/chat", body="{{> nope}} {{builder}}")
        self.start(reps)
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        got = self.http.wait_for(lambda r: r.path == "/chat", count=1)
        self.assertIn("quick", got[0].json()["text"])
        self.assertIn("#" + str(n), got[0].json()["text"])
        self.assertRegex(self.herald_log(), r"reporter chat: template .* using the default")

    def queue_100_while_the_receiver_is_down(self, prefix, extra_herald="", **keys):
        """5 push reporters x 10 builds x (started + finished) = 100 deliveries,
        all queued (pending in the outbox) while the receiver is down."""
        self.http.stop()
        self.addCleanup(lambda: self.http.running() or self.http.start())
        reps = "".join(self.push(f"{prefix}{i}", f"/{prefix}{i}", report_start=True, **keys) for i in range(5))
        self.start(reps, extra_herald=extra_herald)
        since = self.client.mark()
        numbers = [self.force(f"quick build{i}", "quick") for i in range(10)]
        for n in numbers:
            self.wait_finished(n, "quick", since=since)
        deadline = time.time() + 20
        while self.pending() < 100 and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.pending(), 100)
        return numbers

    def assert_each_sent_once(self, prefix, numbers):
        """The 100 deliveries of queue_100_while_the_receiver_is_down, each received once."""
        self.http.wait_for(lambda r: r.path.startswith("/" + prefix), count=100, timeout=30)
        self.http.no_request_within(2.0)
        got = self.http.requests("/" + prefix)
        ids = [r.header("Idempotency-Key") for r in got]
        self.assertEqual(len(ids), 100)
        self.assertEqual(len(set(ids)), 100, "a delivery was sent twice")
        expected = {f"{prefix}{i}/quick/{n}/{kind}" for i in range(5) for n in numbers
                    for kind in ("started", "finished")}
        self.assertEqual(set(ids), expected)
        self.assertEqual(self.pending(), 0)
        return got

    def test_sigkill_with_100_pending_deliveries_loses_and_repeats_nothing(self):
        numbers = self.queue_100_while_the_receiver_is_down("k")
        self.herald.kill()
        self.http.start()
        start_herald_and_wait(self.herald, self.client)
        self.assert_each_sent_once("k", numbers)

    def test_past_its_memory_limit_the_outbox_reads_requests_back_and_sends_each_once(self):
        # About 20 KB each: 2 MB of requests against outbox_memory_mib = 1.
        pad = "x" * 20000
        payload = '{"key": "{{builder}}/{{number}}", "pad": "' + pad + '"}'
        numbers = self.queue_100_while_the_receiver_is_down("m", extra_herald="outbox_memory_mib = 1",
                                                            payload=payload)
        self.assertIn("more than 1 MiB of requests waiting", self.herald_log())
        self.http.start()
        for r in self.assert_each_sent_once("m", numbers):  # each read back whole
            self.assertEqual(r.json()["pad"], pad)
            self.assertEqual(r.json()["key"], "quick/" + r.header("Idempotency-Key").split("/")[2])


class TestHttps(ReporterTestCase):
    """HTTPS deliveries: the peer's certificate is checked against the CA file and the host."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = make_tmpdir("herald-https-")
        cls.addClassCleanup(remove_tmpdir, cls.certs)
        cls.cert, key = make_self_signed(cls.certs)
        cls.other_ca, _ = make_self_signed(cls.certs, name="other")
        cls.https = HttpRecorder(start=True, tls=(cls.cert, key))
        cls.addClassCleanup(cls.https.cleanup)

    def setUp(self):
        super().setUp()
        self.https.reset_modes()
        self.https.clear()

    def test_trusted_certificate_delivers(self):
        reps = reporter("gh", "github", url=self.https.url + "/gh", token=TOKENS[0], repository="octo/repo",
                        tls_ca_file=self.cert)
        self.start(reps, builders=SLOW_BUILDERS)
        # Two commits: for one (target, commit, context) only the newest state has to arrive.
        numbers = [self.force(f"--revision={sha} passes", "passes") for sha in (SHA, SHA2)]
        for n in numbers:
            self.wait_finished(n, "passes")
        got = self.https.wait_for(lambda r: r.path.startswith("/gh/"), count=4, timeout=20)
        self.assertEqual([r.json()["state"] for r in got].count("success"), 2)
        for r in got:
            self.assertEqual(r.header("Authorization"), f"Bearer {TOKENS[0]}")
        self.https.no_request_within(1.0, lambda r: r.path.startswith("/gh/"))
        self.assertEqual(self.pending(), 0)

    def test_trusted_certificates_are_read_at_start(self):
        # Read when herald starts, not by the first delivery on the event loop
        # (about 20 ms for a system store): the CA file may go away afterwards.
        ca = os.path.join(self.certs, "ca-copy.pem")
        shutil.copy(self.cert, ca)
        reps = reporter("gh", "github", url=self.https.url + "/gh", token=TOKENS[0], repository="octo/repo",
                        tls_ca_file=ca)
        self.start(reps)
        os.remove(ca)
        n = self.force(f"--revision={SHA} quick", "quick")
        self.wait_finished(n, "quick")
        got = self.https.wait_for(lambda r: r.path.startswith("/gh/") and r.json()["state"] == "success",
                                  timeout=15)
        self.assertEqual(got[0].header("Authorization"), f"Bearer {TOKENS[0]}")

    def test_untrusted_certificate_is_never_sent_anything(self):
        reps = reporter("gh", "github", url=self.https.url + "/gh", token=TOKENS[0], repository="octo/repo",
                        tls_ca_file=self.other_ca, retry_initial=0.3, retry_max=1.0)
        self.start(reps)
        n = self.force(f"--revision={SHA} quick", "quick")
        self.wait_finished(n, "quick")
        deadline = time.time() + 15
        while "certificate verify failed" not in self.outbox() and time.time() < deadline:
            time.sleep(0.3)
        listing = self.outbox()
        self.assertIn("certificate verify failed", listing)
        self.assertEqual(self.https.requests(), [], "a request went to a peer that is not trusted")
        self.assert_no_secrets(listing + self.herald_log())
        self.assertGreaterEqual(self.pending(), 1, "a TLS failure is retried, not dropped")


class TestMail(ReporterTestCase):
    """Mail through libcurl to aiosmtpd, with STARTTLS and AUTH."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.smtp = SmtpServer(tls="starttls", auth=("ci", TOKENS[9]), start=True)
        cls.addClassCleanup(cls.smtp.cleanup)

    def test_failure_mail_has_headers_body_and_log(self):
        reps = reporter("mail", "mail", url=self.smtp.url, security="starttls", tls_ca_file=self.smtp.ca_file,
                        username="ci", token=TOKENS[9], **{"from": "ci@example.org"},
                        to=["dev@example.org"], interested_users=True, lookup_domain="example.org",
                        mode=["failing"], attach_logs=True)
        self.start(reps)
        ok = self.force("quick", "quick")
        self.wait_finished(ok, "quick")
        n = self.force("--branch=fix/ünïcode broken", "broken")
        self.wait_finished(n, "broken")
        msgs = self.smtp.wait_for(1, timeout=20)
        self.smtp.no_message_within(1.0)
        self.assertEqual(len(self.smtp.messages()), 1, "only the failure is mailed (mode failing)")
        m = msgs[0]
        self.assertIn("broken", m["Subject"])
        self.assertIn("ünïcode", m["Subject"])
        self.assertEqual(m["Auto-Submitted"], "auto-generated")
        self.assertTrue(m["Message-ID"].startswith("<") and m["Message-ID"].endswith(">"))
        self.assertTrue(m["Date"])
        self.assertTrue(m["In-Reply-To"])
        self.assertEqual(m["In-Reply-To"], m["References"])
        rcpts = self.smtp.deliveries()[-1]["rcpt_tos"]
        self.assertEqual(sorted(rcpts), ["alice@example.org", "dev@example.org"])
        self.assertTrue(self.smtp.deliveries()[-1]["tls"], "sent before STARTTLS")
        body = m.get_body(preferencelist=("plain",)).get_content()
        self.assertIn("broken", body)
        logs = [p for p in m.iter_attachments()]
        self.assertTrue(logs, "no log attached")
        self.assertIn("oops", logs[0].get_content())
        self.assert_no_secrets(self.herald_log())

    def test_implicit_tls_with_auth(self):
        smtps = SmtpServer(tls="smtps", auth=("ci", TOKENS[9]), start=True)
        self.addCleanup(smtps.cleanup)
        reps = reporter("mail", "mail", url=smtps.url, tls_ca_file=smtps.ca_file, username="ci",
                        token=TOKENS[9], **{"from": "ci@example.org"}, to=["dev@example.org"])
        self.start(reps)
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        m = smtps.wait_for(1, timeout=20)[0]
        self.assertIn("quick", m["Subject"])
        d = smtps.deliveries()[-1]
        self.assertTrue(d["tls"])
        self.assertTrue(d["auth"])
        self.assertEqual(d["rcpt_tos"], ["dev@example.org"])

    def test_a_login_the_server_does_not_offer_to_use_sends_nothing(self):
        # aiosmtpd offers AUTH only over TLS, and this session has none.
        # libcurl alone would then send the mail without the login; herald
        # dead-letters it and says why.
        plain = SmtpServer(start=True)
        self.addCleanup(plain.cleanup)
        reps = reporter("mail", "mail", url=plain.url, security="none", username="ci", token=TOKENS[9],
                        **{"from": "ci@example.org"}, to=["dev@example.org"])
        self.start(reps)
        n = self.force("quick", "quick")
        self.wait_finished(n, "quick")
        dead = self.wait_dead(f"mail/quick/{n}/finished")
        self.assertIn(f"mail/quick/{n}/finished", dead)
        self.assertIn("does not offer AUTH", dead)
        self.assertEqual(plain.messages(), [])
        self.assertEqual(self.pending(), 0)
        self.assert_no_secrets(dead)
        self.assert_no_secrets(self.herald_log())


if __name__ == "__main__":
    unittest.main()
