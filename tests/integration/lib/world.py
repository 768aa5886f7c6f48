"""World rows as millrace serves them (/db, /queries, /cached-queries, /updates): checked one
by one, collected over many answers, and the answers that are not a 200 with valid rows."""
import collections
import json


def world_problems(obj):
    """What is wrong with one World object ([] when nothing)."""
    if not isinstance(obj, dict) or set(obj) != {"id", "randomNumber"}:
        return ["not exactly {id, randomNumber}: %r" % (obj,)]
    bad = []
    for k in ("id", "randomNumber"):
        v = obj[k]
        if type(v) is not int or not 1 <= v <= 10000:
            bad.append("%s=%r outside 1..10000" % (k, v))
    return bad


def worlds_of(testcase, r, n=None):
    """The parsed array of World objects of a 200 answer, each checked; n rows when given."""
    testcase.assertEqual(r.status, 200, r)
    rows = json.loads(r.body)
    testcase.assertIsInstance(rows, list, r.body[:200])
    if n is not None:
        testcase.assertEqual(len(rows), n, "rows in %r" % r.body[:120])
    for row in rows:
        testcase.assertEqual(world_problems(row), [], r.body[:200])
    return rows


def rows_of(results):
    """{id: {randomNumber, ...}} over every 200 answer."""
    seen = {}
    for _, r, _, err in results:
        if err is None and r.status == 200:
            body = json.loads(r.body)
            for row in body if isinstance(body, list) else [body]:
                seen.setdefault(row["id"], set()).add(row["randomNumber"])
    return seen


def bad_answers(results, n_rows=None):
    """The results of backends.fetch_all that are not a 200 with valid World rows."""
    bad = []
    for path, r, secs, err in results:
        if err is not None:
            bad.append((path, err))
            continue
        if r.status != 200:
            bad.append((path, r.status, r.body[:200]))
            continue
        try:
            body = json.loads(r.body)
        except ValueError:
            bad.append((path, "not JSON", r.body[:200]))
            continue
        rows = body if isinstance(body, list) else [body]
        problems = [p for row in rows for p in world_problems(row)]
        if problems or (n_rows is not None and len(rows) != n_rows):
            bad.append((path, len(rows), problems[:3]))
    return bad


def summary(bad):
    """A short account of bad_answers(): how many of each, and the first few."""
    if not bad:
        return "none"
    kinds = collections.Counter(repr(b[1:2]) for b in bad)
    return "%d bad answers %s; first: %r" % (len(bad), dict(kinds), bad[:3])
