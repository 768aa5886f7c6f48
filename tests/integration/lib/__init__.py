"""Helpers for millrace's integration tests: the real stack, no mocks (a mock would test the
mock: the failures worth finding are in how nginx, libfcgi, libpq and hiredis really behave).
Anything two test files need lives here, one concept a module.

env       paths and ports (from the environment, with the project's defaults)
http      an HTTP/1.1 client (http.client with timeouts); millrace's JSON error checked
fcgi      a minimal FastCGI client straight to the unix socket, a raw-bytes sender, the
          status socket
procs     manager and worker pids, signals, waiting with a deadline, the millrace log
stack     scripts/stack.py (start and stop services, restart millrace with extra settings)
backends  PostgreSQL and Redis read directly, /readyz, many checked requests at once
metrics   /metrics as a flat dict and parsed in full (Prometheus text, histograms)
world     World rows checked and collected
faults    backends hung (SIGSTOP) or stopped, and healed
load      bounded load: wrk with a hard timeout, or a thread pool of keep-alive connections
pm        millrace with its own settings for one test; the pool watcher; /proc fields
base      the TestCase base class every test file uses (checks the stack before and after)
"""
