#!/usr/bin/env python3
"""check-guide: every C example in docs/guide.md builds as a module and millrace accepts it.

    check-guide.py MILLRACE_BINARY

Each ```c block is a whole file: it is compiled against app/include/millrace.h alone
(-Werror, -fPIC -shared), then checked with `MILLRACE -t` on a config that names it, which
loads it in a throwaway child and runs its init. Prints one line per example; exits 1 on any
failure."""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(ROOT, "docs", "guide.md")
CFLAGS = ["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
          "-I" + os.path.join(ROOT, "app", "include")]


def examples(text):
    """(line, code) of each ```c block."""
    for m in re.finditer(r"^```c\n(.*?)^```$", text, re.S | re.M):
        yield text.count("\n", 0, m.start()) + 1, m.group(1)


def main():
    binary = os.path.abspath(sys.argv[1])
    with open(GUIDE) as f:
        text = f.read()
    failed = 0
    found = 0
    with tempfile.TemporaryDirectory(prefix="mr-guide-") as tmp:
        for line, code in examples(text):
            found += 1
            src = os.path.join(tmp, "example%d.c" % line)
            so = src[:-2] + ".so"
            conf = src[:-2] + ".conf"
            with open(src, "w") as f:
                f.write(code)
            with open(conf, "w") as f:
                # No database: the examples' statements name tables of their own, which
                # only their application creates; an unreachable primary is not a refusal.
                f.write('app = "%s";\nallow_root = true;\n'
                        'db = { primary = "host=127.0.0.1 port=1 dbname=guide"; };\n' % so)
            steps = [["cc"] + CFLAGS + ["-o", so, src], [binary, "-t", "-c", conf]]
            for argv in steps:
                p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, timeout=120)
                if p.returncode != 0:
                    print("FAIL  docs/guide.md:%d: %s\n%s" % (line, " ".join(argv[:2]),
                                                            p.stdout.rstrip()))
                    failed += 1
                    break
            else:
                print("ok    docs/guide.md:%d" % line)
    if found == 0:
        print("FAIL  docs/guide.md: no ```c examples found")
        return 1
    print("check-guide: %d examples, %d failed" % (found, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
