"""An application's statements at load: `millrace -t` prepares each one on the primary in its
throwaway child, so a statement the server refuses refuses the module with the statement's
name and the server's reason; a primary it cannot reach does not refuse it (a warning says
the statements went unchecked). Built against a staged install like test_platform_modules."""
import os

from lib import env
from test_platform_modules import AppTestCase, run, write

PRIMARY = "host=127.0.0.1 port=%d dbname=millrace user=millrace" % env.PG_PORT


class TestStatementChecks(AppTestCase):
    def check(self, statements, primary=PRIMARY):
        """Builds the app with `statements` (C initialisers) and runs -t against primary."""
        path = os.path.join(self.app, "app.c")
        with open(path) as f:
            original = f.read()
        self.addCleanup(write, path, original)
        decl = "static const struct mr_statement stmts[] = {\n%s\n};\n\n" % statements
        write(path, original.replace("MR_APP(", decl + "MR_APP(.statements = stmts, "
                                     ".n_statements = sizeof(stmts) / sizeof(stmts[0]), ", 1))
        self.make()
        with open(os.path.join(self.app, "millrace.conf")) as f:
            conf = f.read()
        conf_path = os.path.join(self.app, "millrace-db.conf")
        write(conf_path, conf + '\ndb = { primary = "%s"; connect_timeout_ms = 1000; };\n'
              % primary)
        return run([env.millrace_bin(), "-t", "-c", conf_path])

    def test_statement_that_does_not_prepare_refuses_the_module_with_its_name(self):
        rc, out = self.check('    {"ok", "SELECT id FROM world WHERE id = $1", false},\n'
                             '    {"get_user", "SELECT name FROM no_such_table WHERE id = $1", false},')
        self.assertEqual(rc, 78, out)
        self.assertIn(self.so + ': statement "get_user": relation "no_such_table" does not exist', out)
        self.assertNotIn('"ok"', out)

    def test_syntax_error_refuses_the_module(self):
        rc, out = self.check('    {"put", "UPDATE world SET randomnumber = WHERE id = $1", true},')
        self.assertEqual(rc, 78, out)
        self.assertIn('statement "put": syntax error', out)

    def test_duplicate_statement_names_are_refused_without_the_database(self):
        rc, out = self.check('    {"w", "SELECT 1", false},\n    {"w", "SELECT 2", false},',
                             primary="host=127.0.0.1 port=1 dbname=x user=x")
        self.assertEqual(rc, 78, out)
        self.assertIn('statements 0 and 1 are both named "w"', out)

    def test_statements_that_prepare_are_accepted(self):
        rc, out = self.check(
            '    {"world", "SELECT id, randomnumber FROM world WHERE id = $1", false},\n'
            '    {"bump", "UPDATE world SET randomnumber = $2 WHERE id = $1", true},')
        self.assertEqual(rc, 0, out)
        self.assertIn("application ok", out)
        self.assertNotIn("warning", out)

    def test_unreachable_primary_does_not_refuse_but_warns(self):
        rc, out = self.check('    {"get_user", "SELECT name FROM users WHERE id = $1", false},',
                             primary="host=127.0.0.1 port=1 dbname=x user=x")
        self.assertEqual(rc, 0, out)
        self.assertIn("application ok", out)
        self.assertIn("warning: " + self.so + ": statements not checked, the primary is "
                      "unreachable", out)


if __name__ == "__main__":
    import unittest
    unittest.main()
