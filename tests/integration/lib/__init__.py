"""Helpers for millrace's integration tests: the real stack, no mocks (STYLE.md section 9).

env      paths and ports (from the environment, with the project's defaults)
http     an HTTP/1.1 client (http.client with timeouts)
fcgi     a minimal FastCGI client straight to the unix socket, and a raw-bytes sender
procs    manager and worker pids, signals, waiting with a deadline, the millrace log
stack    scripts/stack.py (start and stop services)
load     bounded load: wrk with a hard timeout, or a thread pool of keep-alive connections
base     the TestCase base class every test file uses (checks the stack before and after)
"""
