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
# include <millrace.h>, their own headers and system or library headers (<stdio.h>,
# <sodium.h>), nothing else of millrace's. Their subfolders are applications of their own
# (handlers/notes/), held to the same rule.
PUBLIC_ONLY = {"handlers"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
ANGLED = re.compile(r'^\s*#\s*include\s+<([^>]+)>')


def millrace_internal(root, name):
    """Whether <name> would find one of millrace's own headers (other than millrace.h)
    through the build's -I. or -Iapp/include."""
    if name == "millrace.h":
        return False
    return (root / name).is_file() or (root / "app" / "include" / name).is_file()


def check_app(root, src, folder):
    """An application's file (handlers/NAME/...): quoted includes of its own folder only,
    angle-bracket includes of anything but millrace's internals. Returns the count of bad."""
    rel = src.relative_to(root).as_posix()
    bad = 0
    for n, line in enumerate(src.read_text().splitlines(), 1):
        m, a = INCLUDE.match(line), ANGLED.match(line)
        if m and not (src.parent / m.group(1)).resolve().is_relative_to(folder.resolve()):
            print(f"{rel}:{n}: includes \"{m.group(1)}\": an application includes only its "
                  f"own headers and <millrace.h>")
            bad += 1
        elif a and millrace_internal(root, a.group(1)):
            print(f"{rel}:{n}: includes <{a.group(1)}>: a millrace-internal header; an "
                  f"application is written on <millrace.h> alone")
            bad += 1
    return bad


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
    for top in PUBLIC_ONLY:
        for app in sorted(p for p in (root / top).iterdir() if p.is_dir()):
            for src in sorted(app.rglob("*.[ch]")):
                bad += check_app(root, src, app)
    if bad:
        print(f"check-includes: {bad} include(s) point up or sideways", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
