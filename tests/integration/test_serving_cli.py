"""The command line: millrace -t -c FILE checks a config (0, or 78 with
`file:line: setting: reason` on stderr); --version and --help. Needs no running stack."""
import os
import re
import subprocess
import tempfile
import unittest

from lib import env


def run(*args, timeout=20):
    return subprocess.run([env.millrace_bin()] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


class ConfigCheck(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="millrace-cli-")

    def tearDown(self):
        self.dir.cleanup()

    def conf(self, text):
        path = os.path.join(self.dir.name, "millrace.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def refused(self, text, line, setting, reason_rx):
        path = self.conf(text)
        p = run("-t", "-c", path)
        self.assertEqual(p.returncode, 78, p)
        rx = r"%s:%d: %s: %s" % (re.escape(path), line, re.escape(setting), reason_rx)
        self.assertRegex(p.stderr, rx, p)
        return p

    def test_valid_config_exits_0(self):
        path = self.conf('listen = "unix:%s/m.sock";\nworkers = 3;\nlog = { level = "debug"; };\n'
                         % self.dir.name)
        p = run("-t", "-c", path)
        self.assertEqual(p.returncode, 0, p)

    def test_empty_config_is_valid(self):
        p = run("-t", "-c", self.conf(""))
        self.assertEqual(p.returncode, 0, p)

    def test_unknown_setting_exits_78_with_file_line_setting(self):
        self.refused('workers = 3;\nno_such_setting = 1;\n', 2, "no_such_setting", r"\S")

    def test_unknown_nested_setting_exits_78(self):
        self.refused('workers = 3;\ndb = {\n  nope = 1;\n};\n', 3, "db.nope", r"\S")

    def test_out_of_range_value_exits_78(self):
        self.refused('listen_backlog = 10;\n\nworkers = 99999;\n', 3, "workers",
                     r".*99999.*range")

    def test_wrong_type_exits_78(self):
        self.refused('workers = "three";\n', 1, "workers", r".*integer")

    def test_syntax_error_exits_78_with_file_line(self):
        path = self.conf('workers = 3;\nworkers_oops = ;\n')
        p = run("-t", "-c", path)
        self.assertEqual(p.returncode, 78, p)
        self.assertRegex(p.stderr, r"%s:2" % re.escape(path), p)

    def test_missing_file_exits_78(self):
        path = os.path.join(self.dir.name, "absent.conf")
        p = run("-t", "-c", path)
        self.assertEqual(p.returncode, 78, p)
        self.assertIn(path, p.stderr)


class Flags(unittest.TestCase):
    def test_version_exits_0(self):
        p = run("--version")
        self.assertEqual(p.returncode, 0, p)
        self.assertRegex(p.stdout, r"^millrace \d+\.\d+")

    def test_help_exits_0(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("usage:", p.stdout)
        self.assertIn("-t", p.stdout)

    def test_unknown_option_refused(self):
        p = run("--no-such-option")
        self.assertNotEqual(p.returncode, 0, p)
