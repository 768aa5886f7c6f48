"""Privileges: workers (and the manager) run as `user`, never keeping root or group root;
started as root without `user`, or with user = "root", millrace refuses to run unless
allow_root says so (exit 78, naming allow_root, nothing listening); `user` set without root is
refused with exit 78. The refusals run the binary directly on a temp config and socket (as
`nobody` when the suite runs as root)."""
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import unittest

from lib import env, pm, procs
from lib.pm import IS_ROOT, WEB_USER, PmTestCase


class Privileges(PmTestCase):
    def run_direct(self, conf_text, as_user=None, timeout=15):
        """Runs the binary on a temp config (a temp socket), optionally as another user;
        returns (exit status, output, temp dir)."""
        d = tempfile.mkdtemp(prefix="millrace-privs-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o777)
        conf = os.path.join(d, "m.conf")
        with open(conf, "w") as f:
            f.write('listen = "unix:%s/m.sock";\n' % d + conf_text)
        os.chmod(conf, 0o644)
        pre = None
        if as_user:
            pw = pwd.getpwnam(as_user)

            def pre():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        p = subprocess.Popen([env.millrace_bin(), "-c", conf], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True,
                             preexec_fn=pre, cwd="/")
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            self.fail("millrace kept running with:\n%s\n%s" % (conf_text, out))
        return p.returncode, out, d

    @unittest.skipUnless(IS_ROOT, "privileges are dropped only when started as root")
    def test_workers_run_as_the_configured_user_not_root(self):
        with open(env.MILLRACE_CONF) as f:
            self.assertRegex(f.read(), r'(?m)^user = "%s";$' % WEB_USER)
        pw = pwd.getpwnam(WEB_USER)
        self.assertNotEqual(pw.pw_uid, 0)
        for p in self.workers_before:
            self.assertEqual(pm.proc_status(p, "Uid"), [str(pw.pw_uid)] * 4, "worker %d" % p)
            self.assertEqual(pm.proc_status(p, "Gid"), [str(pw.pw_gid)] * 4, "worker %d" % p)
            groups = pm.proc_status(p, "Groups")
            self.assertNotIn("0", groups, "worker %d keeps group root: %r" % (p, groups))
        # The manager drops as well (it forks every later worker).
        self.assertEqual(pm.proc_status(self.manager_before, "Uid"), [str(pw.pw_uid)] * 4)
        self.assert_serves()

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_root_without_user_is_refused_naming_allow_root(self):
        rc, out, d = self.run_direct("")
        self.assertEqual(rc, 78, out)
        self.assertIn("allow_root", out)
        self.assertFalse(procs.listen_inodes(os.path.join(d, "m.sock")),
                         "something listens on the refused instance's socket")

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_user_root_without_allow_root_is_refused(self):
        rc, out, _ = self.run_direct('user = "root";\n')
        self.assertEqual(rc, 78, out)
        self.assertIn("allow_root", out)

    def test_user_set_without_root_is_refused_with_exit_78(self):
        # As root, run it as nobody; otherwise as ourselves.
        rc, out, _ = self.run_direct('user = "%s";\n' % WEB_USER,
                                     as_user="nobody" if IS_ROOT else None)
        self.assertEqual(rc, 78, out)
        self.assertIn('user = "%s"' % WEB_USER, out)
        self.assertIn("root", out)
