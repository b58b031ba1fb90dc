"""Properties from `force --props` reach steps only as environment variables,
never spliced into shell text.

The `echo` builder runs (by sh -c):
    printf '%s' "$HERALD_PROP_X" > "$HERALD_PROP_OUT"
so the file named by `out` must contain the value of `x` byte for byte, and
nothing in that value may run.
"""

import os
import unittest

from fixtures import HeraldTestCase, make_tmpdir, remove_tmpdir


class TestProps(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.setup_stack()
        cls.tmp = make_tmpdir("herald-props-")
        cls.addClassCleanup(remove_tmpdir, cls.tmp)

    def run_echo(self, quoted_props_arg):
        c = self.client
        since = c.command(f"force build {quoted_props_arg} echo props test")
        m = c.wait_msg(r"^Force build requested: #(\d+) of `echo`\.", since=since)
        n = m.group(1)
        c.wait_msg(rf"^Build #{n} of `echo` completed successfully", since=since, timeout=15)

    def assert_nothing_ran(self, *names):
        for name in names:
            self.assertFalse(os.path.exists(os.path.join(self.tmp, name)),
                             f"{name} exists: a property value was run by the shell")
        # nor relative to any folder herald owns (e.g. the work dir)
        for root, dirs, files in os.walk(self.herald.dir):
            for name in names:
                self.assertNotIn(name, files + dirs,
                                 f"{name} created in {root}: a property value was run")

    def read(self, name):
        path = os.path.join(self.tmp, name)
        self.assertTrue(os.path.exists(path), f"the step did not write {path}")
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def test_shell_metacharacters_stay_literal(self):
        t = self.tmp
        value = f"a;b $(touch {t}/PWNED) `touch {t}/PWNED_BT` 'q'"
        # The whole argument in double quotes: the tokenizer keeps the spaces,
        # and the single quotes inside are plain characters.
        arg = f'"--props=x={value},out={t}/out1.txt"'
        self.run_echo(arg)
        self.assertEqual(self.read("out1.txt"), value)
        self.assert_nothing_ran("PWNED", "PWNED_BT")

    def test_double_quotes_and_variables_stay_literal(self):
        t = self.tmp
        value = f'say "hi" && touch {t}/PWNED2 | cat; echo $HOME ${{PATH}}'
        arg = f"'--props=x={value},out={t}/out2.txt'"
        self.run_echo(arg)
        self.assertEqual(self.read("out2.txt"), value)
        self.assert_nothing_ran("PWNED2")

    def test_property_names_are_upper_cased(self):
        # `x` and `out` given in lower case still reach $HERALD_PROP_X/_OUT;
        # an upper-case name works as well.
        t = self.tmp
        self.run_echo(f"--props=X=plain,OUT={t}/out3.txt")
        self.assertEqual(self.read("out3.txt"), "plain")


if __name__ == "__main__":
    unittest.main(verbosity=2)
