#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Checks the monitoring docs against the real thing.

- docs/alerts.yml passes `promtool check rules`, and docs/alerts_test.yml passes
  `promtool test rules`;
- docs/grafana-dashboard.json is valid JSON shaped like an exported dashboard, and every
  panel's PromQL parses (promtool, after substituting Grafana's variables);
- every millrace_* metric the rules, the rule tests and the dashboard use is one that a live
  millrace's /metrics declares in a HELP line (histogram _bucket/_sum/_count map to their
  base name). node_* and up are not millrace's and are exempt.

The live check starts its own millrace on temporary unix sockets (binary from MILLRACE_BIN,
default build/asan/millrace-test if built, else ./millrace; relative paths are relative to
the repository root) and stops it by pid. It needs no data backends and no cgi-fcgi: it talks
FastCGI with lib/fcgi.py.

Run alone:  python3 tests/integration/test_observability_monitoring_docs.py
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOCS = os.path.join(ROOT, "docs")
ALERTS = os.path.join(DOCS, "alerts.yml")
ALERTS_TEST = os.path.join(DOCS, "alerts_test.yml")
DASHBOARD = os.path.join(DOCS, "grafana-dashboard.json")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import env, fcgi  # noqa: E402

METRIC_RE = re.compile(r"\bmillrace_[a-z0-9_]+")
HIST_SUFFIXES = ("_bucket", "_sum", "_count")


# ---------------------------------------------------------------------------------------
# Helpers


def promtool():
    path = shutil.which("promtool")
    if path is None:
        raise unittest.SkipTest("promtool not found (Debian package prometheus; make deps)")
    return path


def run(argv, cwd=ROOT, timeout=60):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def yaml_exprs(path):
    """The text of every `expr:` in a rules file (inline, or a | / > block), without PyYAML."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(?:-\s+)?expr:\s*(.*)$", lines[i])
        i += 1
        if not m:
            continue
        indent, rest = len(m.group(1)), m.group(2).strip()
        if rest and rest[0] not in "|>":
            out.append(rest.strip("'\""))
            continue
        block = []
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > indent):
            block.append(lines[i].strip())
            i += 1
        out.append(" ".join(block).strip())
    return out


def yaml_series(path):
    """Metric names of the input_series of a promtool test file."""
    names = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines:
        m = re.match(r"^\s*-?\s*series:\s*['\"]?([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
        if m:
            names.append(m.group(1))
    return names


def dashboard_exprs(dash):
    """Every PromQL expression of the dashboard: panel targets (rows' nested panels too) and
    templating queries."""
    exprs = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    exprs.append(t["expr"])
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query" and q:
            exprs.append(q)
    return exprs


def grafana_to_promql(expr):
    """Substitutes Grafana's variables so promtool can parse the expression; label_values()
    becomes its metric selector."""
    m = re.match(r"^\s*label_values\((.*),\s*[a-zA-Z_]+\)\s*$", expr)
    if m:
        expr = m.group(1)
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    expr = expr.replace("$__range", "1h")
    return re.sub(r"\$\{?[a-zA-Z_]+\}?", ".*", expr)


def metric_names(exprs):
    names = set()
    for e in exprs:
        # Drop quoted strings (label values) before looking for names.
        e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', e)
        names.update(METRIC_RE.findall(e))
    return names


# ---------------------------------------------------------------------------------------
# A minimal FastCGI responder client (one request per connection)

# ---------------------------------------------------------------------------------------


class RulesTest(unittest.TestCase):
    def test_check_rules(self):
        rc, out = run([promtool(), "check", "rules", ALERTS])
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS", out)

    def test_rule_unit_tests(self):
        rc, out = run([promtool(), "test", "rules", ALERTS_TEST])
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS", out)

    def test_the_recommended_alerts_exist(self):
        with open(ALERTS, encoding="utf-8") as f:
            text = f.read()
        for name in ("MillraceP99LatencyHigh", "MillraceErrorRateHigh", "HostCPUHigh",
                     "HostMemoryHigh", "MillraceMaxChildrenReached", "MillraceBackendDown",
                     "MillraceBreakerOpen", "MillraceReplicaLagHigh",
                     "MillraceWorkersRespawning", "MillraceLoadShedding"):
            self.assertIn("alert: " + name + "\n", text)


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD, encoding="utf-8") as f:
            cls.dash = json.load(f)

    def test_shape(self):
        d = self.dash
        self.assertGreaterEqual(d["schemaVersion"], 36)
        self.assertEqual([i["name"] for i in d["__inputs"]], ["DS_PROMETHEUS"])
        self.assertIsNone(d.get("id"))
        ids = []

        def walk(panels):
            for p in panels:
                ids.append(p["id"])
                if p["type"] != "row":
                    self.assertEqual(p["datasource"]["uid"], "${DS_PROMETHEUS}", p["title"])
                    self.assertTrue(p.get("targets"), p["title"])
                    g = p["gridPos"]
                    self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
                walk(p.get("panels", []))

        walk(d["panels"])
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")

    def test_promql_parses(self):
        exprs = [grafana_to_promql(e) for e in dashboard_exprs(self.dash)]
        self.assertTrue(exprs)
        tool = promtool()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "dashboard_rules.yml")
            with open(path, "w", encoding="utf-8") as f:
                f.write("groups:\n  - name: dashboard\n    rules:\n")
                for i, e in enumerate(exprs):
                    f.write("      - record: dashboard:expr_%d\n        expr: %s\n"
                            % (i, json.dumps(e)))
            rc, out = run([tool, "check", "rules", path])
            self.assertEqual(rc, 0, out + "\n" + "\n".join(exprs))


class LiveMetricsTest(unittest.TestCase):
    """Every millrace_* name used in the docs is declared by a live /metrics."""

    def setUp(self):
        self.bin = env.millrace_bin()
        if not os.access(self.bin, os.X_OK):
            self.skipTest("no millrace binary at %s (make millrace, or set MILLRACE_BIN)"
                          % self.bin)
        self.tmp = tempfile.mkdtemp(prefix="millrace-mon-")
        self.sock = os.path.join(self.tmp, "m.sock")
        self.status_sock = os.path.join(self.tmp, "s.sock")
        conf = os.path.join(self.tmp, "millrace.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write('listen = "unix:%s";\nstatus_listen = "unix:%s";\nworkers = 2;\n'
                    % (self.sock, self.status_sock))
            if os.geteuid() == 0:
                f.write("allow_root = true;\n")
        self.log = open(os.path.join(self.tmp, "millrace.log"), "w+b")
        self.proc = subprocess.Popen([self.bin, "-c", conf], cwd=ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail("millrace exited with %s:\n%s" % (self.proc.returncode,
                                                           self._log()))
            if os.path.exists(self.sock) and os.path.exists(self.status_sock):
                try:
                    if fcgi.request("GET", "/metrics", path=self.status_sock,
                                    timeout=2).status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        self.fail("millrace did not answer on %s:\n%s" % (self.status_sock, self._log()))

    def _log(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def tearDown(self):
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if getattr(self, "log", None):
            self.log.close()
        if getattr(self, "tmp", None):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def scrape(self, sock):
        r = fcgi.request("GET", "/metrics", path=sock, timeout=10)
        self.assertEqual(r.status, 200)
        self.assertIn("text/plain", r.header("Content-Type", ""))
        text = r.body.decode("utf-8")
        helps = set(re.findall(r"^# HELP (\S+) ", text, re.M))
        types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        return helps, types

    def test_docs_use_only_exposed_metrics(self):
        helps, types = self.scrape(self.status_sock)
        self.assertIn("millrace_requests_total", helps)
        # The worker-pool socket serves the same families as the status socket.
        self.assertEqual(self.scrape(self.sock)[0], helps)

        def known(name):
            if name in helps:
                return True
            for suf in HIST_SUFFIXES:
                base = name[:-len(suf)]
                if name.endswith(suf) and types.get(base) == "histogram":
                    return True
            return False

        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
        used = {
            "docs/alerts.yml": metric_names(yaml_exprs(ALERTS)),
            "docs/alerts_test.yml": {n for n in yaml_series(ALERTS_TEST)
                                     if n.startswith("millrace_")},
            "docs/grafana-dashboard.json": metric_names(dashboard_exprs(dash)),
        }
        for where, names in used.items():
            self.assertTrue(names, "no millrace_* metrics found in " + where)
            unknown = sorted(n for n in names if not known(n))
            self.assertEqual(unknown, [], "%s uses metrics /metrics does not declare" % where)

    def test_dashboard_covers_every_family(self):
        """Each metric family /metrics exposes appears somewhere on the dashboard, so a new
        metric prompts a panel (or a conscious decision here)."""
        helps, _ = self.scrape(self.status_sock)
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
        used = set()
        for n in metric_names(dashboard_exprs(dash)):
            for suf in HIST_SUFFIXES:
                if n.endswith(suf) and n[:-len(suf)] in helps:
                    n = n[:-len(suf)]
            used.add(n)
        self.assertEqual(sorted(helps - used), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
