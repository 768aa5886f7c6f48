"""Paths and ports of the local stack. Ports come from the environment with the project's
defaults, so CI (defaults) and a developer's private ports both work."""
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
VAR = os.path.join(ROOT, "var")
LOG_DIR = os.path.join(VAR, "log")

HTTP_HOST = "127.0.0.1"
HTTP_PORT = int(os.environ.get("MR_HTTP_PORT", "8080"))
PG_PORT = int(os.environ.get("MR_PG_PORT", "15432"))
PG_REPLICA_PORT = int(os.environ.get("MR_PG_REPLICA_PORT", "15433"))
REDIS_PORT = int(os.environ.get("MR_REDIS_PORT", "16379"))

SOCKET = os.path.join(VAR, "run", "millrace.sock")
# status_listen, for the tests that turn it on (it is off in the stack's config)
STATUS_SOCKET = os.path.join(VAR, "run", "status.sock")
MILLRACE_PID = os.path.join(VAR, "millrace.pid")
NGINX_PID = os.path.join(VAR, "nginx.pid")
MILLRACE_CONF = os.path.join(VAR, "millrace.conf")
MILLRACE_LOG = os.path.join(LOG_DIR, "millrace.log")

# The stack program; MR_STACK overrides it (e.g. a stand-in during development).
STACK = os.environ.get("MR_STACK", os.path.join(ROOT, "scripts", "stack.py"))


def millrace_bin():
    """The binary under test: $MILLRACE_BIN (relative to the repo root), else the test build,
    else ./millrace when only that is built (the files that run alone without the stack)."""
    b = os.environ.get("MILLRACE_BIN")
    if b:
        return b if os.path.isabs(b) else os.path.join(ROOT, b)
    for cand in ("build/asan/millrace-test", "millrace"):
        p = os.path.join(ROOT, cand)
        if os.access(p, os.X_OK):
            return p
    return os.path.join(ROOT, "build/asan/millrace-test")
