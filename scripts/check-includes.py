#!/usr/bin/env python3
"""check-includes: millrace's floors, and the rule that includes only point down.

Each source folder stands on a floor. A file may include headers of its own folder and of
any lower floor, never of its own floor's other folders nor of a floor above: the small
libraries know nothing of backends, backends nothing of the request path, the request path
nothing of the handlers, and supervision nothing of the handlers (main.c hands it the route
table). Prints each include that points up or sideways as file:line and exits 1."""
import pathlib
import re
import sys

FLOORS = {
    "app/lib": 0,        # small libraries every process uses: arena, buf, json, log, breaker...
    "db": 1,             # PostgreSQL client: connections, statements, replica choice
    "cache": 1,          # Redis client: connection, commands, XFetch
    "app/config": 2,     # the settings table and the parsed config
    "app/board": 3,      # the shared-memory scoreboard and its renderers
    "app/serve": 4,      # the request path inside a worker
    "app/prober": 4,     # the process that probes every backend
    "app/module": 5,     # an application's shared object: load, check, what workers serve
    "app/scaffold": 5,   # `millrace new`: the template of an application
    "app/api": 5,        # millrace.h's functions, over the request path
    "handlers": 5,       # the route table and the endpoints
    "app/supervise": 6,  # the manager: process table, pool and reload rules, watchdog
    "app": 7,            # main.c: wires the route table into supervision
}
# Folders written on the public API alone, like an application outside the tree: they may
# include <millrace.h> and their own headers, nothing else of millrace's.
PUBLIC_ONLY = {"handlers"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(path):
    parent = str(pathlib.PurePosixPath(path).parent)
    return parent if parent in FLOORS else None


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    bad = 0
    for folder in FLOORS:
        for src in sorted((root / folder).glob("*.[ch]")):
            rel = src.relative_to(root).as_posix()
            for n, line in enumerate(src.read_text().splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = folder_of(m.group(1))
                if folder in PUBLIC_ONLY and target != folder:
                    print(f"{rel}:{n}: includes {m.group(1)}: {folder}/ is written on "
                          f"millrace.h alone")
                    bad += 1
                    continue
                if target is None or target == folder:
                    continue
                if FLOORS[target] >= FLOORS[folder]:
                    print(f"{rel}:{n}: includes {m.group(1)} ({target}, floor "
                          f"{FLOORS[target]}) from floor {FLOORS[folder]}: includes point down")
                    bad += 1
    if bad:
        print(f"check-includes: {bad} include(s) point up or sideways", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
