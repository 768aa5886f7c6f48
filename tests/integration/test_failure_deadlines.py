"""Deadlines: with request_timeout_ms = 300 and both databases hung (SIGSTOP), every database
route answers 503 well inside the budget, not after query_timeout_ms (2 s) or
connect_timeout_ms (1 s) and a retry; the first call really waits on the hung backend, so it is
the budget that ends it. millrace runs with its own setting for the test (lib/pm.PmTestCase)."""
import json

from lib import backends as be
from lib import faults, http, procs
from lib.base import case, say
from lib.pm import PmTestCase


class Deadlines(PmTestCase):
    def test_request_budget_bounds_db_calls_when_every_database_hangs(self):
        budget = 0.300
        self.configure("request_timeout_ms = 300;\n")
        procs.wait_pool(15)
        self.assertEqual(http.get("/db", timeout=5).status, 200)
        lat = {}
        with faults.Paused(faults.pg_pids("replica") + faults.pg_pids("primary")):
            for path in ("/db", "/db", "/queries?queries=5", "/updates?queries=2", "/db",
                         "/fortunes", "/db"):
                r, dt = be.timed_get(path, timeout=10)
                lat.setdefault(path, []).append(dt)
                with case(path=path):
                    self.assertEqual(r.status, 503, r)
                    self.assertEqual(json.loads(r.body)["status"], 503, r)
                    # Not query_timeout_ms (2 s), not connect_timeout_ms (1 s) + a retry.
                    self.assertLess(dt, 0.8, "%s took %.3f s with a %.0f ms budget"
                                    % (path, dt, budget * 1000))
        say("both databases paused, request_timeout_ms=300: %s",
            "; ".join("%s %s" % (p, " ".join("%.0fms" % (x * 1000) for x in v))
                      for p, v in lat.items()))
        # The first call really waited on the hung backend, and the budget is what ended it.
        self.assertGreaterEqual(lat["/db"][0], budget * 0.9, lat)
        procs.wait_for(lambda: http.get("/db", timeout=5).status == 200, 10,
                       what="/db 200 after SIGCONT")
