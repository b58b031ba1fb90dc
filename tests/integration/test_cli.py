"""The command line: --version, --help, check (good and bad configs), and
`run` refusing a bad config without touching the network."""

import os
import re
import select
import socket
import subprocess
import unittest

from fixtures import (free_port, herald_bin, herald_config, make_tmpdir,
                      remove_tmpdir)

HERE = os.path.dirname(os.path.abspath(__file__))


def project_version():
    try:
        with open(os.path.join(HERE, "..", "..", "CMakeLists.txt")) as f:
            m = re.search(r"project\(\s*herald\s+VERSION\s+([0-9.]+)", f.read())
            return m.group(1) if m else None
    except OSError:
        return None


class TestCli(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.bin = herald_bin()
        cls.tmp = make_tmpdir("herald-cli-")
        cls.addClassCleanup(remove_tmpdir, cls.tmp)

    def herald(self, *args, timeout=15):
        p = subprocess.run([self.bin, *args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=self.tmp)
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        return p.returncode, out

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def good_config(self, port=None):
        return herald_config(port or free_port(), os.path.join(self.tmp, "var"))

    def bad_config(self, after, line):
        """The good config with `line` inserted right after the first line
        equal to `after`; returns (text, 1-based line number of `line`)."""
        lines = self.good_config().splitlines()
        i = lines.index(after) + 1
        lines.insert(i, line)
        return "\n".join(lines) + "\n", i + 1

    def assert_located_error(self, out, path, line, msg=""):
        rx = re.compile(rf"^{re.escape(path)}:{line}:(\d+): ?\S.*$", re.M)
        m = rx.search(out)
        self.assertIsNotNone(m, f"no `{path}:{line}:COL: message` line {msg}in:\n{out}")
        self.assertGreaterEqual(int(m.group(1)), 1, "columns count from 1")
        return m.group(0)

    # -- tests ----------------------------------------------------------

    def test_version(self):
        rc, out = self.herald("--version")
        self.assertEqual(rc, 0, out)
        m = re.search(r"^herald (\d+\.\d+\.\d+)\b", out, re.M)
        self.assertIsNotNone(m, f"`herald X.Y.Z` not printed:\n{out}")
        want = project_version()
        if want:
            self.assertEqual(m.group(1), want, "version differs from CMakeLists.txt")

    def test_help(self):
        rc, out = self.herald("--help")
        self.assertEqual(rc, 0, out)
        self.assertIn("run", out)
        self.assertIn("check", out)

    def test_check_good_config(self):
        path = self.write("good.toml", self.good_config())
        rc, out = self.herald("check", "--config", path)
        self.assertEqual(rc, 0, f"a good config was rejected:\n{out}")

    def test_check_unknown_key_suggests(self):
        text, line = self.bad_config('nick = "herald"', 'nikc = "x"')
        path = self.write("typo.toml", text)
        rc, out = self.herald("check", "--config", path)
        self.assertEqual(rc, 1, out)
        where = self.assert_located_error(out, path, line)
        self.assertRegex(where, r"(?i)did you mean\W*nick\b")
        # the column points at the key, which starts the line
        self.assertRegex(where, rf":{line}:1:")

    def test_check_syntax_error(self):
        text, line = self.bad_config('nick = "herald"', "port_typo = ")
        path = self.write("syntax.toml", text)
        rc, out = self.herald("check", "--config", path)
        self.assertEqual(rc, 1, out)
        self.assert_located_error(out, path, line)

    def test_check_wrong_type(self):
        text = self.good_config()
        text = re.sub(r"^port = \d+$", 'port = "six"', text, flags=re.M)
        line = text.splitlines().index('port = "six"') + 1
        path = self.write("type.toml", text)
        rc, out = self.herald("check", "--config", path)
        self.assertEqual(rc, 1, out)
        self.assert_located_error(out, path, line)

    def test_check_unknown_builder_step_key(self):
        text, line = self.bad_config('  name = "hello"', '  comand = "echo hi"')
        path = self.write("stepkey.toml", text)
        rc, out = self.herald("check", "--config", path)
        self.assertEqual(rc, 1, out)
        self.assert_located_error(out, path, line)

    def test_check_bad_reporters(self):
        """An unknown reporter type, a missing token and a bad URL: each located,
        and the secret in the bad URL never printed."""
        base = self.good_config()
        reps = [
            ("[[reporter]]", 'name = "a"', 'type = "gitbub"'),
            ("[[reporter]]", 'name = "b"', 'type = "github"', 'repository = "octo/repo"'),
            ("[[reporter]]", 'name = "c"', 'type = "slack"', 'url = "hxxp://hooks.example/T0PSECRET"'),
        ]
        lines = base.splitlines()
        where = {}
        for rep in reps:
            lines.append("")
            for entry in rep:
                lines.append(entry)
                where[entry] = len(lines)
        path = self.write("reporters.toml", "\n".join(lines) + "\n")
        rc, out = self.herald("check", "--config", path)
        self.assertEqual(rc, 1, out)
        typo = self.assert_located_error(out, path, where['type = "gitbub"'])
        self.assertIn("github", typo, "no did-you-mean for the type")
        self.assertRegex(out, rf"{re.escape(path)}:\d+:\d+: .*`token`")
        self.assert_located_error(out, path, where['url = "hxxp://hooks.example/T0PSECRET"'])
        self.assertNotIn("T0PSECRET", out)

    def test_check_missing_file(self):
        path = os.path.join(self.tmp, "does-not-exist.toml")
        rc, out = self.herald("check", "--config", path)
        self.assertEqual(rc, 1, out)
        self.assertIn(path, out)

    def test_run_bad_config_exits_1_without_connecting(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        lines = self.good_config(port).splitlines()
        lines.insert(lines.index('nick = "herald"') + 1, 'nikc = "x"')
        path = self.write("run-bad.toml", "\n".join(lines) + "\n")
        rc, out = self.herald("run", "--config", path, timeout=15)
        self.assertEqual(rc, 1, out)
        self.assertIn(path, out, "run should say what is wrong with which file")
        r, _, _ = select.select([listener], [], [], 0.2)
        self.assertEqual(r, [], "herald connected to IRC despite a bad config")


if __name__ == "__main__":
    unittest.main(verbosity=2)
